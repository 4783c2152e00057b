// Browse benchmark in headless Chromium (run by `scripts/bench browse`, never by `playwright test`).
//
//   node bench/browse.bench.mjs --url http://127.0.0.1:3000 --password PASSWORD \
//     --registry http://127.0.0.1:5000 --repository team-00/app-0500 --out browser.json [--reps 5]
//
// Measures the median over --reps runs of (each run in a fresh browser context: a first visit
// with an empty cache, then a repeat visit with what the browser kept):
//   wharf catalog      navigation to `/` until the first 50 catalog rows are painted
//   wharf repository   navigation to `/r/REPO` until every row of its tag table shows size,
//                      platforms and created
//   crawl catalog      what a static registry UI does for the same view: GET /v2/_catalog
//                      (following Link), then for the first 50 repositories GET tags/list and one
//                      manifest GET per tag (sizes), then render the table
//   crawl repository   GET tags/list, then per tag one manifest GET and one config blob GET
//                      (platform, created), then render the table
// The registry sends no CORS headers, so the crawl runs in a page of the registry's own origin
// (`/v2/`), as a static UI served next to the registry would: real browser fetches, with
// Chromium's limit of 6 connections per host. Like Wharf's, its time runs from the navigation
// start of its page (the page load counts, as a static UI's would).
//   floor              the same server-rendered HTML as Wharf's page, without its scripts, served
//                      as a static file by a plain HTTP server on 127.0.0.1 (with Wharf's CSS):
//                      the fastest any server could show that page, as a reference
// "Painted" is the first task after the animation frame in which the condition held.
import { chromium } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    password: { type: "string" },
    registry: { type: "string" },
    repository: { type: "string" },
    out: { type: "string" },
    reps: { type: "string", default: "5" },
    "catalog-rows": { type: "string", default: "50" },
  },
});
for (const required of ["url", "password", "registry", "repository", "out"]) {
  if (!values[required]) throw new Error(`--${required} is required`);
}
const reps = Math.max(1, Number(values.reps));
const catalogRows = Number(values["catalog-rows"]);
const TIMEOUT = 60_000;

const launch = JSON.parse(readFileSync(new URL("../chromium.json", import.meta.url), "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.WHARF_E2E_CHROMIUM ?? launch.executablePath,
  args: launch.args,
});

// Uncaught errors in Wharf's pages (a failed hydration shows up here), reported with the results.
const pageErrors = new Set();
function watchErrors(page) {
  page.on("pageerror", (error) => pageErrors.add(String(error).slice(0, 300)));
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("panicked")) {
      pageErrors.add(message.text().split("\n")[0].slice(0, 300));
    }
  });
}

// Installed before any page script: watches the DOM and stamps the time the condition first
// holds (performance.now(), i.e. milliseconds since navigation start) and the paint after it.
function probe({ kind, rows }) {
  const bench = (window.__bench = { domReady: null, painted: null });
  const catalogDone = () => document.querySelectorAll("table.catalog tbody tr td.name").length >= rows;
  const repositoryDone = () => {
    const trs = [...document.querySelectorAll("table.tags tbody tr")];
    const filled = (td) => td && td.textContent.trim() !== "" && td.textContent.trim() !== "—";
    return (
      trs.length >= rows &&
      trs.every((tr) => filled(tr.querySelector("td.platforms")) && filled(tr.cells[3]) && filled(tr.cells[4]))
    );
  };
  const done = kind === "catalog" ? catalogDone : repositoryDone;
  const check = () => {
    if (bench.domReady !== null || !done()) return;
    bench.domReady = performance.now();
    requestAnimationFrame(() => setTimeout(() => (bench.painted = performance.now()), 0));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener("DOMContentLoaded", check);
}

async function signedInState() {
  const context = await browser.newContext({ baseURL: values.url });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(values.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"), { timeout: TIMEOUT });
  const state = await context.storageState();
  await context.close();
  return state;
}

// Navigates to `path` on a page with the probe installed; resolves with the page's own figures
// once the condition was painted: ms from navigation start to the paint, and to the first byte.
async function visitUntilPainted(page, path) {
  await page.goto(path, { waitUntil: "commit", timeout: TIMEOUT });
  await page.waitForFunction(() => window.__bench && window.__bench.painted !== null, null, {
    timeout: TIMEOUT,
    polling: 50,
  });
  return page.evaluate(() => ({
    painted: window.__bench.painted,
    ttfb: performance.getEntriesByType("navigation")[0].responseStart,
  }));
}

// Two navigations to `path` in a fresh context: the first with an empty cache (a first visit),
// the second with what the browser kept from it (a repeat visit). Each gives the ms from its
// navigation start to the painted condition.
async function wharfRun(storageState, path, kind, rows, collectTransfer) {
  const context = await browser.newContext({ baseURL: values.url, storageState });
  try {
    const page = await context.newPage();
    watchErrors(page);
    await page.addInitScript(probe, { kind, rows });
    const first = await visitUntilPainted(page, path);
    // Let the first visit finish loading (wasm included) before the repeat visit.
    const transfer = await transferOf(page);
    const repeat = await visitUntilPainted(page, path);
    return { cold: first.painted, ttfb: first.ttfb, repeat: repeat.painted, transfer: collectTransfer ? transfer : null };
  } finally {
    await context.close();
  }
}

// In-app navigation: the catalog filtered to the repository, hydrated, then a click on its
// link; ms from the click to the painted tag table. A click before hydration would load a new
// document and end the measuring script: that attempt is dropped and tried again (bounded).
async function wharfInApp(storageState, repository, rows) {
  const context = await browser.newContext({ baseURL: values.url, storageState });
  try {
    const page = await context.newPage();
    watchErrors(page);
    for (let attempt = 0; attempt < 3; attempt++) {
      await page.goto(`/?q=${encodeURIComponent(repository)}`, { timeout: TIMEOUT });
      await transferOf(page);
      await page.waitForTimeout(500 * (attempt + 1));
      try {
        const result = await page.evaluate(clickAndWait, { repository, rows, timeout: 15_000 });
        if (result.error) throw new Error(result.error);
        return result.ms;
      } catch (error) {
        if (!String(error).includes("context was destroyed") && !String(error).includes("navigation")) throw error;
      }
    }
    throw new Error(`the catalog never hydrated: clicking ${repository} always loaded a new page`);
  } finally {
    await context.close();
  }
}

// Runs in the page: clicks the repository's link and waits for its complete tag table.
function clickAndWait({ repository, rows, timeout }) {
  const link = [...document.querySelectorAll("table.catalog td.name a")].find((a) => a.textContent.trim() === repository);
  if (!link) return { error: `${repository} is not in the catalog page` };
  const filled = (td) => td && td.textContent.trim() !== "" && td.textContent.trim() !== "—";
  const done = () => {
    const trs = [...document.querySelectorAll("table.tags tbody tr")];
    return (
      trs.length >= rows &&
      trs.every((tr) => filled(tr.querySelector("td.platforms")) && filled(tr.cells[3]) && filled(tr.cells[4]))
    );
  };
  return new Promise((resolve) => {
    const start = performance.now();
    const observer = new MutationObserver(() => {
      if (!done()) return;
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => resolve({ ms: performance.now() - start }), 0));
    });
    observer.observe(document, { childList: true, subtree: true, characterData: true });
    setTimeout(() => resolve({ error: `no complete tag table ${timeout} ms after the click` }), timeout);
    link.click();
  });
}

// Bytes Chromium transferred for the page and its /pkg/ assets (waits for the wasm to arrive).
async function transferOf(page) {
  await page.waitForLoadState("load", { timeout: TIMEOUT });
  await page.waitForFunction(
    () => performance.getEntriesByType("resource").some((e) => e.name.endsWith(".wasm") && e.responseEnd > 0),
    null,
    { timeout: TIMEOUT },
  );
  return page.evaluate(() => {
    const sizes = { html: performance.getEntriesByType("navigation")[0].transferSize, wasm: 0, js: 0, css: 0 };
    for (const e of performance.getEntriesByType("resource")) {
      const path = new URL(e.name).pathname;
      if (!path.startsWith("/pkg/")) continue;
      const ext = path.endsWith(".wasm") ? "wasm" : path.endsWith(".js") ? "js" : path.endsWith(".css") ? "css" : null;
      if (ext) sizes[ext] += e.transferSize;
    }
    sizes.assets = sizes.wasm + sizes.js + sizes.css;
    return sizes;
  });
}

// The naive client: runs inside a page of the registry's origin. Returns ms and request count.
async function crawlCatalog({ rows }) {
  const ACCEPT = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
  ].join(", ");
  let requests = 0;
  const get = async (url, headers = {}) => {
    requests++;
    const response = await fetch(url, { headers });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response;
  };
  let names = [];
  let next = "/v2/_catalog";
  for (let pages = 0; next && pages < 10_000; pages++) {
    const response = await get(next);
    names = names.concat((await response.json()).repositories ?? []);
    const link = response.headers.get("Link");
    next = link ? link.match(/<([^>]+)>/)?.[1] ?? null : null;
  }
  const shown = names.sort().slice(0, rows);
  const table = await Promise.all(
    shown.map(async (name) => {
      const tags = (await (await get(`/v2/${name}/tags/list`)).json()).tags ?? [];
      const sizes = await Promise.all(
        tags.map(async (tag) => {
          const manifest = await (await get(`/v2/${name}/manifests/${tag}`, { Accept: ACCEPT })).json();
          return (manifest.config?.size ?? 0) + (manifest.layers ?? []).reduce((sum, l) => sum + l.size, 0);
        }),
      );
      return { name, tags: tags.length, size: sizes.reduce((a, b) => a + b, 0) };
    }),
  );
  const tableElement = document.createElement("table");
  for (const row of table) {
    const tr = tableElement.insertRow();
    for (const text of [row.name, row.tags, `${(row.size / 1024).toFixed(1)} KB`]) tr.insertCell().textContent = text;
  }
  document.body.replaceChildren(tableElement);
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return { ms: performance.now(), requests, rows: table.length };
}

async function crawlRepository({ name }) {
  const ACCEPT = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
  ].join(", ");
  let requests = 0;
  const get = async (url, headers = {}) => {
    requests++;
    const response = await fetch(url, { headers });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response;
  };
  const tags = (await (await get(`/v2/${name}/tags/list`)).json()).tags ?? [];
  const rows = await Promise.all(
    tags.map(async (tag) => {
      const response = await get(`/v2/${name}/manifests/${tag}`, { Accept: ACCEPT });
      const digest = response.headers.get("Docker-Content-Digest");
      const manifest = await response.json();
      const config = await (await get(`/v2/${name}/blobs/${manifest.config.digest}`)).json();
      const size = manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
      return [tag, digest, `${config.os}/${config.architecture}`, `${(size / 1024).toFixed(1)} KB`, config.created];
    }),
  );
  const table = document.createElement("table");
  for (const row of rows) {
    const tr = table.insertRow();
    for (const text of row) tr.insertCell().textContent = text;
  }
  document.body.replaceChildren(table);
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return { ms: performance.now(), requests, rows: rows.length };
}

// The crawl twice in a fresh context: with an empty cache, then again after a reload (the
// registry lets browsers cache blobs by digest, so the repeat may skip the config GETs).
async function crawlRun(fn, arg) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${values.registry}/v2/`, { timeout: TIMEOUT });
    const cold = await page.evaluate(fn, arg);
    await page.goto(`${values.registry}/v2/`, { timeout: TIMEOUT });
    const repeat = await page.evaluate(fn, arg);
    return { cold: cold.ms, repeat: repeat.ms, requests: cold.requests, rows: cold.rows };
  } finally {
    await context.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const round = (x) => Math.round(x * 10) / 10;
const summary = (samples) => ({ samples: samples.map(round), median: round(median(samples)) });

// The floor: Wharf's own server-rendered HTML of `paths`, its scripts removed, served as static
// files (with the stylesheets they link) by a plain HTTP server on 127.0.0.1. Returns its URL.
async function startFloorServer(storageState, paths) {
  const context = await browser.newContext({ baseURL: values.url, storageState });
  const files = new Map();
  try {
    for (const [name, path] of Object.entries(paths)) {
      const html = await (await context.request.get(path)).text();
      const stripped = html
        .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, "")
        .replace(/<link\b[^>]*rel="(?:modulepreload|preload)"[^>]*>/gi, "");
      files.set(`/${name}.html`, { type: "text/html; charset=utf-8", body: stripped });
      for (const [, href] of stripped.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/gi)) {
        if (!files.has(href)) files.set(href, { type: "text/css", body: await (await context.request.get(href)).text() });
      }
    }
  } finally {
    await context.close();
  }
  const server = createServer((request, response) => {
    const file = files.get(new URL(request.url, "http://x").pathname);
    if (!file) return response.writeHead(404).end();
    response.writeHead(200, { "Content-Type": file.type, "Cache-Control": "max-age=3600" }).end(file.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

// A first and a repeat visit of a floor page, timed as Wharf's are.
async function floorRun(floorUrl, path, kind, rows) {
  const context = await browser.newContext({ baseURL: floorUrl });
  try {
    const page = await context.newPage();
    await page.addInitScript(probe, { kind, rows });
    const cold = (await visitUntilPainted(page, path)).painted;
    const repeat = (await visitUntilPainted(page, path)).painted;
    return { cold, repeat };
  } finally {
    await context.close();
  }
}

async function tagCount(repository) {
  const response = await fetch(`${values.registry}/v2/${repository}/tags/list`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`tags/list of ${repository}: ${response.status}`);
  return ((await response.json()).tags ?? []).length;
}

try {
  const repositoryRows = Math.min(await tagCount(values.repository), 50);
  const state = await signedInState();
  const floor = await startFloorServer(state, { catalog: "/", repository: `/r/${values.repository}` });
  const runs = {
    wharfCatalog: [],
    wharfRepository: [],
    crawlCatalog: [],
    crawlRepository: [],
    floorCatalog: [],
    floorRepository: [],
  };
  let transfer = null;
  let inAppError = null;
  // The four measurements take turns, so that a busy moment on the machine hits all of them.
  for (let rep = 0; rep < reps; rep++) {
    const catalog = await wharfRun(state, "/", "catalog", catalogRows, rep === 0);
    if (rep === 0) transfer = catalog.transfer;
    runs.wharfCatalog.push(catalog);
    runs.wharfRepository.push(await wharfRun(state, `/r/${values.repository}`, "repository", repositoryRows, false));
    try {
      // After one failure (a page that does not hydrate) the other runs would only wait too.
      if (inAppError) throw new Error(inAppError);
      runs.wharfRepository.at(-1).inApp = await wharfInApp(state, values.repository, repositoryRows);
    } catch (error) {
      inAppError = String(error.message ?? error);
      runs.wharfRepository.at(-1).inApp = null;
    }
    runs.crawlCatalog.push(await crawlRun(crawlCatalog, { rows: catalogRows }));
    runs.crawlRepository.push(await crawlRun(crawlRepository, { name: values.repository }));
    runs.floorCatalog.push(await floorRun(floor.url, "/catalog.html", "catalog", catalogRows));
    runs.floorRepository.push(await floorRun(floor.url, "/repository.html", "repository", repositoryRows));
    if (runs.crawlCatalog.at(-1).rows !== catalogRows || runs.crawlRepository.at(-1).rows !== repositoryRows) {
      throw new Error(`the crawl rendered ${runs.crawlCatalog.at(-1).rows} catalog and ${runs.crawlRepository.at(-1).rows} tag rows`);
    }
    const line = (name, r) => `${name} ${round(r.cold)}/${round(r.repeat)} ms`;
    console.log(
      `run ${rep + 1}/${reps} (first/repeat visit): ` +
        [
          line("wharf catalog", runs.wharfCatalog.at(-1)),
          line("wharf repository", runs.wharfRepository.at(-1)),
          `wharf repository in-app ${runs.wharfRepository.at(-1).inApp === null ? "failed" : `${round(runs.wharfRepository.at(-1).inApp)} ms`}`,
          line("crawl catalog", runs.crawlCatalog.at(-1)),
          line("crawl repository", runs.crawlRepository.at(-1)),
          line("floor catalog", runs.floorCatalog.at(-1)),
          line("floor repository", runs.floorRepository.at(-1)),
        ].join(", "),
    );
  }
  const both = (list) => ({ cold: summary(list.map((r) => r.cold)), repeat: summary(list.map((r) => r.repeat)) });
  const result = {
    chromium: browser.version(),
    reps,
    catalog_rows: catalogRows,
    repository: values.repository,
    repository_rows: repositoryRows,
    wharf: {
      catalog: both(runs.wharfCatalog),
      catalog_ttfb: summary(runs.wharfCatalog.map((r) => r.ttfb)),
      repository: {
        ...both(runs.wharfRepository),
        in_app: inAppError ? null : summary(runs.wharfRepository.map((r) => r.inApp)),
        in_app_error: inAppError,
      },
    },
    crawl: {
      catalog: { ...both(runs.crawlCatalog), requests: runs.crawlCatalog[0].requests },
      repository: { ...both(runs.crawlRepository), requests: runs.crawlRepository[0].requests },
    },
    floor: {
      catalog: both(runs.floorCatalog),
      repository: both(runs.floorRepository),
    },
    transfer,
    page_errors: [...pageErrors],
  };
  floor.close();
  const ratio = (view, visit) => round(result.crawl[view][visit].median / result.wharf[view][visit].median);
  result.ratio = {
    catalog: { cold: ratio("catalog", "cold"), repeat: ratio("catalog", "repeat") },
    repository: {
      cold: ratio("repository", "cold"),
      repeat: ratio("repository", "repeat"),
      in_app: inAppError ? null : round(result.crawl.repository.repeat.median / result.wharf.repository.in_app.median),
    },
  };
  writeFileSync(values.out, JSON.stringify(result, null, 2) + "\n");
  console.log(
    inAppError
      ? `in-app navigation not measured: ${inAppError}`
      : `median repository, in-app navigation: wharf ${result.wharf.repository.in_app.median} ms, ` +
          `crawl (repeat) ${result.crawl.repository.repeat.median} ms (x${result.ratio.repository.in_app})`,
  );
  for (const error of pageErrors) console.log(`error in a Wharf page: ${error}`);
  for (const view of ["catalog", "repository"]) {
    for (const visit of ["cold", "repeat"]) {
      console.log(
        `median ${view}, ${visit === "cold" ? "first" : "repeat"} visit: wharf ${result.wharf[view][visit].median} ms, ` +
          `crawl ${result.crawl[view][visit].median} ms (x${result.ratio[view][visit]})`,
      );
    }
  }
} finally {
  await browser.close();
}
