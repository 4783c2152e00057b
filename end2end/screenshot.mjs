// Signs in to a running Wharf in headless Chromium and saves a screenshot of a page.
//
//   node screenshot.mjs --url http://127.0.0.1:3000 --password PASSWORD --out ../docs/images/catalog.png \
//     [--path /] [--wait-for REPOSITORY]... [--width 1280] [--height 720]
//
// --wait-for reloads the page (bounded) until that text shows, for pushes the registry is still reporting.
import { chromium } from "@playwright/test";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.WHARF_E2E_URL ?? "http://127.0.0.1:3000" },
    user: { type: "string", default: "admin" },
    password: { type: "string", default: process.env.WHARF_E2E_PASSWORD ?? "" },
    path: { type: "string", default: "/" },
    out: { type: "string", default: "../docs/images/catalog.png" },
    "wait-for": { type: "string", multiple: true, default: [] },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "720" },
  },
});

const launch = JSON.parse(readFileSync(new URL("./chromium.json", import.meta.url), "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.WHARF_E2E_CHROMIUM ?? launch.executablePath,
  args: launch.args,
});
try {
  const page = await browser.newPage({
    baseURL: values.url,
    viewport: { width: Number(values.width), height: Number(values.height) },
    colorScheme: "light",
  });
  await page.goto("/login");
  await page.getByLabel("User name").fill(values.user);
  await page.getByLabel("Password").fill(values.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"), { timeout: 15_000 });

  await page.goto(values.path);
  const deadline = Date.now() + 30_000;
  for (const text of values["wait-for"]) {
    while ((await page.getByText(text, { exact: true }).count()) === 0) {
      if (Date.now() > deadline) throw new Error(`"${text}" did not show on ${values.path} within 30 s`);
      await page.waitForTimeout(500);
      await page.reload();
    }
  }
  // Let hydration and fonts settle; never wait for "networkidle" (live updates keep a connection open).
  await page.waitForLoadState("load");
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(300);

  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
