// The measuring part of `scripts/bench webhooks`, against a running `wharf serve`:
//
//   node webhooks.bench.mjs intake  --url U --secret S [--events 3000] [--concurrency 16] --out intake.json
//   node webhooks.bench.mjs latency --url U --password P --registry R --receiver-port N [--rate 200] [--seconds 10] [--burst 1000] --out latency.json
//   node webhooks.bench.mjs report  --dir RESULTS --out ../docs/benchmarks-webhooks.md --command "scripts/bench webhooks"
//   node webhooks.bench.mjs pull-images --registry R [--pull-images 200] --out images.json
//   node webhooks.bench.mjs pull-burst  --registry R --images images.json [--pulls 5000] --out burst.json
//   node webhooks.bench.mjs pull-intake --url U --secret S --images images.json [--pull-events 2000] --out intake.json
//   node webhooks.bench.mjs pulls-report --dir RESULTS --out ../docs/benchmarks-webhooks.md
//
// intake   POSTs notification envelopes (one event each, as the registry sends them) to
//          /registry/events as fast as `concurrency` requests in flight allow: events stored per second.
// latency  creates a webhook (Wharf JSON) to a receiver in this process, then pushes manifests to
//          the registry at `rate` per second for `seconds`; the registry notifies Wharf and this
//          receiver directly: push -> delivery and the delay Wharf adds, p50/p95/p99; then
//          `burst` images (config blob and manifest each) pushed as fast as the registry takes them.
// pull-*   images pushed to a registry that notifies Wharf of pulls; then real manifest GETs as
//          fast as the registry serves them (the registry notifies Wharf of each); then pull-only
//          envelopes POSTed to Wharf directly, each answer timed. pulls-report writes (or
//          replaces) the "Pull burst" section of the report and leaves the rest of it alone.
// Nothing here fails on a slow figure.
import { createHash } from "node:crypto";
import { Agent, createServer } from "node:http";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { inFlight, intakeRun, latencies, postEnvelope, pushEnvelope, readLoad, send, signIn, sleep } from "./load.mjs";
import { measuredLines, percentile, readResult, runCommand, writeReport } from "./stats.mjs";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    password: { type: "string" },
    secret: { type: "string" },
    events: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "16" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "10" },
    registry: { type: "string" },
    "receiver-port": { type: "string", default: "0" },
    "push-rate": { type: "string", default: "50" },
    burst: { type: "string", default: "1000" },
    "burst-concurrency": { type: "string", default: "8" },
    "burst-runs": { type: "string", default: "3" },
    label: { type: "string", default: "SQLite" },
    images: { type: "string" },
    "pull-images": { type: "string", default: "200" },
    pulls: { type: "string", default: "5000" },
    "pull-concurrency": { type: "string", default: "16" },
    "pull-events": { type: "string", default: "2000" },
    out: { type: "string" },
    dir: { type: "string" },
    command: { type: "string", default: "scripts/bench webhooks" },
  },
});

// POSTs `body` to Wharf's intake; resolves with the status (0 when it failed).
const postBody = (body) => postEnvelope(values.url, values.secret, body);

const intake = () =>
  intakeRun({ urls: [values.url], secret: values.secret, events: Number(values.events), concurrency: Number(values.concurrency), label: values.label });

// A tiny image in each benchmark repository: the layer and config blobs every pushed manifest
// shares (manifests differ by an annotation, so each push has its own digest).
async function prepareRepositories(registry, repositories) {
  const blob = async (repository, bytes) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const started = await fetch(`${registry}/v2/${repository}/blobs/uploads/`, { method: "POST", signal: AbortSignal.timeout(10_000) });
    if (started.status !== 202) throw new Error(`blob upload refused: ${started.status}`);
    const location = new URL(started.headers.get("location"), registry);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
      signal: AbortSignal.timeout(10_000),
    });
    if (put.status !== 201) throw new Error(`blob upload failed: ${put.status} ${await put.text()}`);
    return { digest, size: bytes.length };
  };
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const layer = Buffer.from(`wharf benchmark layer ${Date.now()}`);
  const blobs = {};
  for (const repository of repositories) {
    blobs.config = await blob(repository, config);
    blobs.layer = await blob(repository, layer);
  }
  const manifest = (run, i) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...blobs.config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...blobs.layer }],
        annotations: { "io.wharf.bench": `${run}-${i}` },
      }),
    );
  return { manifest, layer: blobs.layer };
}

// The registry over Node's HTTP client (kept-alive connections, as in load.mjs): resolves with the
// status and the Location header, or status 0 when the request failed.
const registryAgent = new Agent({ keepAlive: true, maxSockets: 64 });
async function registryCall(method, url, headers, body) {
  const options = { method, agent: registryAgent, timeout: 30_000, headers: { ...headers, "content-length": body ? body.length : 0 } };
  const { status, headers: answer } = await send(url, options, body);
  return { status, location: answer.location };
}

// One image as a client pushes it: its own config blob (upload started, then finished with the
// digest), then the manifest naming it and the shared layer. Calls `manifestStarted(digest)`
// just before the manifest PUT (that PUT makes the registry's event). Resolves with the
// manifest PUT's status.
async function pushImage(registry, repository, tag, layer, label, manifestStarted) {
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: { "io.wharf.bench": label } }, rootfs: { type: "layers", diff_ids: [] } }),
  );
  const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
  const started = await registryCall("POST", `${registry}/v2/${repository}/blobs/uploads/`, {});
  if (started.status !== 202) return started.status;
  const location = new URL(started.location, registry);
  location.searchParams.set("digest", configDigest);
  const put = await registryCall("PUT", location, { "content-type": "application/octet-stream" }, config);
  if (put.status !== 201) return put.status;
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    }),
  );
  manifestStarted(`sha256:${createHash("sha256").update(body).digest("hex")}`);
  const response = await registryCall("PUT", `${registry}/v2/${repository}/manifests/${tag}`, { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body);
  return response.status;
}

// `count` images pushed by `concurrency` clients at once, as fast as the registry takes them.
async function pushBurst(registry, repositories, layer, run, count, concurrency, pushStarted, pushAnswered, pushedTo) {
  const now = () => performance.now() + performance.timeOrigin;
  let accepted = 0;
  const seconds = await inFlight(count, concurrency, async (i) => {
    let digest;
    const repository = repositories[i % repositories.length];
    const status = await pushImage(registry, repository, `burst-${i}`, layer, `${run}-burst-${i}`, (d) => {
      digest = d;
      pushStarted.set(d, now());
      pushedTo.set(d, repository);
    }).catch(() => 0);
    if (status === 201) {
      accepted++;
      pushAnswered.set(digest, now());
    }
  });
  return { accepted, seconds };
}

// One burst of `--burst` pushes: push -> direct notification, push -> Wharf's delivery, and the
// difference per push, with the rates both receivers were reached at and the load average.
async function pushBurstMeasured(run, repositories, layer, direct, byDigest, acrByDigest, withPlatforms, waitFor) {
  const count = Number(values.burst);
  const concurrency = Number(values["burst-concurrency"]);
  const pushStarted = new Map();
  const pushAnswered = new Map();
  const pushedTo = new Map();
  const loadStart = readLoad();
  const pushed = await pushBurst(values.registry, repositories, layer, run, count, concurrency, pushStarted, pushAnswered, pushedTo);
  await waitFor(() => [...pushStarted.keys()].every((d) => byDigest.has(d) && acrByDigest.has(d) && direct.has(d)));
  const both = new Map([...byDigest].filter(([d]) => direct.has(d) && pushStarted.has(d)));
  const bothAcr = new Map([...acrByDigest].filter(([d]) => direct.has(d) && pushStarted.has(d)));
  const directOfBurst = new Map([...direct].filter(([d]) => pushStarted.has(d)));
  return {
    images: [...pushedTo].filter(([d]) => pushAnswered.has(d)).map(([digest, repository]) => ({ repository, digest })),
    // Per push, epoch milliseconds (comparable with the times Wharf stores): for looking into a run.
    raw: [...pushStarted].map(([digest, started]) => ({
      digest,
      started,
      answered: pushAnswered.get(digest) ?? null,
      direct: direct.get(digest) ?? null,
      wharf_json: byDigest.get(digest) ?? null,
      acr: acrByDigest.get(digest) ?? null,
    })),
    acr_per_second: arrivalRate(pushStarted, acrByDigest),
    with_platforms: [...pushStarted.keys()].filter((d) => withPlatforms.has(d)).length,
    acr: summary(delays(pushStarted, acrByDigest)),
    acr_added: summary(delays(directOfBurst, bothAcr)),
    count,
    concurrency,
    accepted: pushed.accepted,
    send_seconds: pushed.seconds,
    load: [loadStart, readLoad()],
    direct_per_second: arrivalRate(pushStarted, direct),
    wharf_per_second: arrivalRate(pushStarted, byDigest),
    registry: summary(delays(pushStarted, pushAnswered)),
    direct: summary(delays(pushStarted, direct)),
    wharf: summary(delays(pushStarted, byDigest)),
    added: summary(delays(directOfBurst, both)),
  };
}

// How fast the registry alone serves what the index asks of each push (its manifest, then its
// config blob), 8 pushes at a time, for `images`.
async function registryFetchRate(images) {
  const seconds = await inFlight(images.length, 8, async (i) => {
    const { repository, digest } = images[i];
    const manifest = await fetch(`${values.registry}/v2/${repository}/manifests/${digest}`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      signal: AbortSignal.timeout(30_000),
    });
    const config = (await manifest.json()).config.digest;
    const blob = await fetch(`${values.registry}/v2/${repository}/blobs/${config}`, { signal: AbortSignal.timeout(30_000) });
    await blob.arrayBuffer();
  });
  return { images: images.length, seconds, per_second: images.length / seconds };
}

// Events per second arriving at a receiver: `arrivals` (key -> time) from the first push's start.
function arrivalRate(pushStarted, arrivals) {
  const first = Math.min(...pushStarted.values());
  const times = [...arrivals].filter(([k]) => pushStarted.has(k)).map(([, at]) => at);
  if (times.length === 0) return null;
  return times.length / ((Math.max(...times) - first) / 1000);
}

// Calls `send(i)` for i < total at `rate` per second without waiting for answers; resolves with
// their results.
async function paced(rate, total, send) {
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    calls.push(send(i).catch(() => 0));
  }
  return { results: await Promise.all(calls), seconds: (performance.now() - started) / 1000 };
}

const summary = (delays) => {
  const sorted = delays.sort((a, b) => a - b);
  return {
    delivered: sorted.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    max_ms: sorted.at(-1) ?? null,
  };
};

// Delays from `from` (key -> time) to `to` (key -> time), for the keys in both.
const delays = (from, to) => [...from].filter(([k]) => to.has(k)).map(([k, at]) => to.get(k) - at);

// Two phases against a registry that notifies both Wharf and this process (`/direct`), with a
// Wharf webhook to this process (`/hook`):
//  pushes         real manifest PUTs at `push-rate` for `seconds`: push -> the registry's direct
//                 notification, push -> Wharf's delivery, and the difference per push (by digest);
//  notifications  envelopes POSTed to Wharf at `rate` for `seconds`, as the registry sends them,
//                 for the manifests pushed before (new event ids): notification -> delivery.
async function latency() {
  const now = () => performance.now() + performance.timeOrigin;
  const byDigest = new Map();
  const byEvent = new Map();
  const direct = new Map();
  const acrByDigest = new Map();
  // Digests whose Wharf JSON delivery listed the image's platforms.
  const withPlatforms = new Set();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      const at = now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        if (request.url === "/direct") {
          for (const event of body.events ?? []) {
            if (event.action === "push" && !direct.has(event.target?.digest)) direct.set(event.target.digest, at);
          }
        } else if (request.url === "/acr") {
          if (!acrByDigest.has(body.target?.digest)) acrByDigest.set(body.target?.digest, at);
        } else {
          if (!byDigest.has(body.target?.digest)) byDigest.set(body.target?.digest, at);
          if (body.platforms?.length) withPlatforms.add(body.target?.digest);
          if (!byEvent.has(body.id)) byEvent.set(body.id, at);
        }
      } catch {}
      response.writeHead(200);
      response.end("ok");
    });
  });
  await new Promise((resolve) => server.listen(Number(values["receiver-port"]), "127.0.0.1", resolve));
  const receiver = `http://127.0.0.1:${server.address().port}`;
  const cookie = await signIn(values.url, values.password);
  // Wharf JSON (shows platforms: waits for the index) to /hook, ACR (no platforms) to /acr.
  for (const [name, format, path] of [["bench", "generic", "/hook"], ["bench-acr", "acr", "/acr"]]) {
    const form = new URLSearchParams({
      id: "", name, url: `${receiver}${path}`, enabled: "on", push: "on", delete: "on", scope: "", pusher: "",
      format, template: "", headers: "", timeout_secs: "15", ordered: "on",
    });
    const saved = await fetch(`${values.url}/api/save_webhook`, {
      method: "POST",
      headers: { cookie, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    if (saved.status !== 200) throw new Error(`cannot create the webhook: ${saved.status} ${await saved.text()}`);
  }
  const waitFor = async (done) => {
    const deadline = Date.now() + 120_000;
    while (!done() && Date.now() < deadline) await sleep(100);
  };

  const repositories = Array.from({ length: 20 }, (_, i) => `bench/app-${i}`);
  const { manifest, layer } = await prepareRepositories(values.registry, repositories);
  const run = Date.now().toString(36);
  const seconds = Number(values.seconds);

  // Phase 1: real pushes.
  const pushRate = Number(values["push-rate"]);
  const pushes = pushRate * seconds;
  const pushStarted = new Map();
  const pushAnswered = new Map();
  const images = [];
  const pushed = await paced(pushRate, pushes, async (i) => {
    const body = manifest(run, i);
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const repository = repositories[i % repositories.length];
    images.push({ repository, tag: `t${i}`, digest, size: body.length });
    pushStarted.set(digest, now());
    const response = await fetch(`${values.registry}/v2/${repository}/manifests/t${i}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    await response.arrayBuffer();
    pushAnswered.set(digest, now());
    return response.status;
  });
  await waitFor(() => byDigest.size >= pushes && direct.size >= pushes);
  const bothArrived = new Map([...byDigest].filter(([d]) => direct.has(d)));

  // Phase 2: notifications as the registry sends them, for the images pushed above.
  const rate = Number(values.rate);
  const notifications = rate * seconds;
  const notified = new Map();
  const posted = await paced(rate, notifications, async (i) => {
    const image = images[i % images.length];
    const id = `notify-${run}-${i}`;
    notified.set(id, now());
    return postBody(
      pushEnvelope(id, image, { request: { id, host: new URL(values.registry).host, method: "PUT", useragent: "bench" } }),
    );
  });
  await waitFor(() => [...notified.keys()].every((id) => byEvent.has(id)));

  // Phase 3: bursts of real pushes, as fast as the registry takes them, one after the other.
  const bursts = [];
  for (let r = 0; r < Number(values["burst-runs"]) && Number(values.burst) > 0; r++) {
    bursts.push(await pushBurstMeasured(`${run}-${r}`, repositories, layer, direct, byDigest, acrByDigest, withPlatforms, waitFor));
    await sleep(2000);
  }
  server.close();
  const registryFetch = bursts.length ? await registryFetchRate(bursts.at(-1).images) : null;
  for (const burst of bursts) delete burst.images;

  return {
    seconds,
    pushes: {
      rate: pushRate,
      count: pushes,
      accepted: pushed.results.filter((s) => s === 201).length,
      send_seconds: pushed.seconds,
      registry: summary(delays(pushStarted, pushAnswered)),
      direct: summary(delays(pushStarted, direct)),
      wharf: summary(delays(pushStarted, byDigest)),
      added: summary(delays(direct, bothArrived)),
      with_platforms: [...pushStarted.keys()].filter((d) => withPlatforms.has(d)).length,
    },
    bursts,
    registry_fetch: registryFetch,
    notifications: {
      rate,
      count: notifications,
      acknowledged: posted.results.filter((s) => s === 200).length,
      send_seconds: posted.seconds,
      wharf: summary(delays(notified, byEvent)),
    },
  };
}

// The report's section on push bursts: one row per burst, in the order they ran.
function burstLines(bursts, registryFetch, ms) {
  if (bursts.length === 0) return ["## Push burst", "", "Not measured in this run.", ""];
  const b = bursts[0];
  const rate = (v) => (v == null ? "?" : `${v.toFixed(0)}/s`);
  const pair = (r) => `${ms(r.p50_ms)} / ${ms(r.p99_ms)}`;
  return [
    "## Push burst",
    "",
    `${bursts.length} bursts, one after the other, against the same registry and console as above: ${b.count} images each, pushed by ${b.concurrency} clients at once as fast as the registry takes them (each image: its own config blob, uploaded, then its manifest; the layer is shared). The registry notifies Wharf and the receiver one envelope at a time each, as it always does. Times from the start of each manifest PUT, matched by manifest digest; *added* is Wharf's delivery minus the direct notification of the same push. The rates count the events that reached each receiver from the first push's start to the last arrival.`,
    "",
    "Wharf has two webhooks to the receiver: **Wharf JSON**, whose deliveries show the image's platforms and so wait for the index to fetch the manifest and its config from the registry while the index keeps up (once more events wait for it than it claims at once, or other pushes are to be read before the image, or later deliveries wait behind it, a delivery goes without waiting, and without the platforms of an image not read yet: *with platforms* counts them), and **ACR**, whose schema has no platforms, so its deliveries go once the event is stored.",
    "",
    "| burst | load (1 min) start → end | pushes accepted | registry → receiver directly | → Wharf → webhook (Wharf JSON / ACR) | direct p50 / p99 | via Wharf, Wharf JSON p50 / p99 | **added, Wharf JSON p50 / p99** | Wharf JSON with platforms | via Wharf, ACR p50 / p99 | **added, ACR p50 / p99** | added max (Wharf JSON / ACR) |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...bursts.map(
      (r, i) =>
        `| ${i + 1} | ${r.load[0]} → ${r.load[1]} | ${r.accepted} of ${r.count} in ${r.send_seconds.toFixed(1)} s | ${rate(r.direct_per_second)} | ${rate(r.wharf_per_second)} / ${rate(r.acr_per_second)} | ${pair(r.direct)} | ${pair(r.wharf)} | **${pair(r.added)}** | ${r.with_platforms ?? "?"} of ${r.count} | ${pair(r.acr)} | **${pair(r.acr_added)}** | ${ms(r.added.max_ms)} / ${ms(r.acr_added.max_ms)} |`,
    ),
    "",
    ...(registryFetch
      ? [
          `What the index asks of the registry for each push (the manifest, then its config blob), the registry alone serves at **${registryFetch.per_second.toFixed(0)} pushes/s** (the last burst's ${registryFetch.images} images, 8 at a time, measured after the bursts with nothing else running). When the pushes stop, the registry sends its backlog of notifications faster than that: the index cannot read every image before its delivery is due.`,
          "",
        ]
      : []),
  ];
}

function report() {
  const read = (name) => readResult(values.dir, name);
  const meta = read("meta.json") ?? {};
  // Events per second until the last one was stored (on SQLite, until the journal was empty).
  const stored = (i) => (i.events - i.failed) / (i.seconds + (i.stored_seconds ?? 0));
  const intakes = readdirSync(values.dir).filter((f) => f.startsWith("intake-")).map(read).filter(Boolean);
  const lat = read("latency.json");
  const ms = (v) => (v == null ? "not measured" : `${v.toFixed(0)} ms`);
  const sqlite = intakes.find((i) => i.label === "SQLite");
  const bursts = lat?.bursts ?? [];
  const worst = (pick) => (bursts.length ? Math.max(...bursts.map((b) => pick(b)?.p99_ms ?? Infinity)) : null);
  const worstAdded = worst((b) => b.added);
  const worstAcr = worst((b) => b.acr_added);
  const met = (v) => (v == null ? "?" : v < 100 ? "yes" : "**no**");
  const lines = [
    "# Benchmarks: webhooks",
    "",
    "<!-- Written by `scripts/bench webhooks`; change the benchmark, not this file. -->",
    "",
    "How many registry notifications Wharf takes in per second, and how long a delivery takes from the registry's notification to the receiver.",
    "",
    ...measuredLines(meta, values.command),
    "",
    "One run on a shared machine: single figures can be off by tens of percent. Nothing fails on a slow figure.",
    "",
    "## Targets",
    "",
    "| target | measured | met? |",
    "| --- | --- | --- |",
    `| intake on SQLite ≥ 1,000 events/s (answered and stored) | ${sqlite ? `${stored(sqlite).toFixed(0)} events/s` : "not measured"} | ${sqlite ? (stored(sqlite) >= 1000 ? "yes" : "**no**") : "?"} |`,
    `| notification → delivery p99 < 1 s at ${lat?.notifications.rate ?? 200} events/s | ${lat ? ms(lat.notifications.wharf.p99_ms) : "not measured"} | ${lat?.notifications.wharf.p99_ms != null ? (lat.notifications.wharf.p99_ms < 1000 ? "yes" : "**no**") : "?"} |`,
    `| delay Wharf adds over the registry notifying the receiver directly, p50 / p99 (${lat?.pushes.rate ?? 50} pushes/s) | ${lat ? `${ms(lat.pushes.added.p50_ms)} / ${ms(lat.pushes.added.p99_ms)}` : "not measured"} | reported |`,
    `| under a burst of ${bursts[0]?.count ?? 1000} real pushes, the delay Wharf adds over the registry notifying the receiver directly, p99 < 100 ms (worst of ${bursts.length} runs), ACR format (no platforms) | ${worstAcr == null ? "not measured" : ms(worstAcr)} | ${met(worstAcr)} |`,
    `| the same, Wharf JSON (shows platforms: waits for the index to read them from the registry while it keeps up, nothing waits behind and no other event is to be read first) | ${worstAdded == null ? "not measured" : ms(worstAdded)} | ${met(worstAdded)} |`,
    "",
    "## Intake",
    "",
    "Envelopes of one event each (as the registry sends them), POSTed to `/registry/events` with the shared secret, several in flight at once. On PostgreSQL each is stored with its outbox rows before the 200; on SQLite each is answered once in the intake journal, and *stored* counts until the journal is empty (every event stored with its outbox rows in the main database). The events are tagged manifest pushes to 20 repositories, of digests the registry does not have: the index worker asks the registry for each (a 404) while the intake runs, as it would for a real push.",
    "",
    "| database | events | in flight | failed | answered in | answered/s | all stored in | stored/s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...intakes.map(
      (i) =>
        `| ${i.label} | ${i.events} | ${i.concurrency} | ${i.failed} | ${i.seconds.toFixed(1)} s | ${i.per_second.toFixed(0)} | ${(i.seconds + (i.stored_seconds ?? 0)).toFixed(1)} s | ${stored(i).toFixed(0)} |`,
    ),
    "",
    "## Push to delivery",
    "",
    "A registry on 127.0.0.1 (no auth) notifies two endpoints: Wharf's `/registry/events` and the benchmark's own receiver, directly. Wharf (SQLite) has two ordered webhooks to the same receiver: Wharf JSON, whose push deliveries carry the image's platforms and so wait for the index to fetch the manifest and its config from the registry while the index keeps up and no later delivery waits behind them (the figures below are for this one), and ACR, which has no platforms and does not wait. On SQLite the intake hands each webhook's new deliveries straight to the webhook's lane, which sends them without a claim (docs/durable-work.md). 20 repositories.",
    "",
  ];
  if (lat) {
    const row = (name, r, count) => `| ${name} | ${r.delivered} of ${count} | ${ms(r.p50_ms)} | ${ms(r.p95_ms)} | ${ms(r.p99_ms)} | ${ms(r.max_ms)} |`;
    const p = lat.pushes;
    const n = lat.notifications;
    lines.push(
      `**Real pushes**: manifest PUTs at ${p.rate}/s for ${lat.seconds} s (${p.accepted} of ${p.count} accepted), timed from the start of each PUT, matched by manifest digest. (On this 2-core machine the registry itself falls behind in notifying at much higher push rates: its direct notifications then lag by seconds.)`,
      "",
      "| path | arrived | p50 | p95 | p99 | max |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      row("push answered by the registry (201)", p.registry, p.count),
      row("push → the registry notifies the receiver directly", p.direct, p.count),
      row("push → the registry → Wharf → webhook delivery", p.wharf, p.count),
      row("**delay Wharf adds** (its delivery minus the direct notification, per push)", p.added, p.count),
      "",
      `Wharf JSON deliveries that listed the image's platforms: ${p.with_platforms ?? "?"} of ${p.count}.`,
      "",
      `**Notifications at ${n.rate}/s**: envelopes POSTed to Wharf as the registry sends them (one event each, ${n.acknowledged} of ${n.count} acknowledged over ${n.send_seconds.toFixed(1)} s), pushes of the manifests pushed above with new event ids, timed from the start of each POST to the delivery's arrival, matched by event id.`,
      "",
      "| path | arrived | p50 | p95 | p99 | max |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      row("notification → Wharf → webhook delivery", n.wharf, n.count),
      "",
    );
    lines.push(...burstLines(bursts, lat?.registry_fetch, ms));
  } else {
    lines.push("Not measured in this run.", "");
  }
  writeReport(values.out, lines);
}

// ---------------------------------------------------------------------------------------------
// Pull tracking: what a pull costs at intake.

const MANIFEST_TYPES =
  "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

// `pull-images` images in 20 repositories (bench/pull-<n>), pushed by 8 clients.
async function pullImages() {
  const repositories = Array.from({ length: 20 }, (_, i) => `bench/pull-${i}`);
  const { layer } = await prepareRepositories(values.registry, repositories);
  const images = [];
  const count = Number(values["pull-images"]);
  await inFlight(count, 8, async (i) => {
    const repository = repositories[i % repositories.length];
    let digest;
    const status = await pushImage(values.registry, repository, `p${i}`, layer, `pull-${i}`, (d) => (digest = d));
    if (status === 201) images.push({ repository, digest });
  });
  // `raw` is written to the result file, not printed.
  return { count, pushed: images.length, raw: images };
}

const pushedImages = () => JSON.parse(readFileSync(values.images, "utf8")).raw;

// `pulls` manifest GETs by digest (a client after its token; this registry has no auth), round
// robin over the images, `pull-concurrency` at once, as fast as the registry answers.
async function pullBurst() {
  const images = pushedImages();
  const total = Number(values.pulls);
  const concurrency = Number(values["pull-concurrency"]);
  let served = 0;
  const times = [];
  const seconds = await inFlight(total, concurrency, async (i) => {
    const { repository, digest } = images[i % images.length];
    const url = `${values.registry}/v2/${repository}/manifests/${digest}`;
    const { status, ms } = await send(url, { method: "GET", agent: registryAgent, timeout: 30_000, headers: { accept: MANIFEST_TYPES } });
    if (status === 200) served++;
    times.push(ms);
  });
  return { images: images.length, count: total, concurrency, served, seconds, per_second: served / seconds, registry: latencies(times) };
}

// A pull event as the registry sends it (one per envelope), by an anonymous client.
const pullEnvelope = (id, { repository, digest }) =>
  JSON.stringify({
    events: [
      {
        id,
        timestamp: new Date().toISOString(),
        action: "pull",
        target: { mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500, length: 500, digest, repository },
        request: { id, addr: "127.0.0.1:1", host: "registry", method: "GET", useragent: "wharf-bench" },
        actor: {},
        source: { addr: "127.0.0.1:5000", instanceID: "bench" },
      },
    ],
  });

// `pull-events` pull-only envelopes POSTed to Wharf, first one at a time (as the registry sends
// them), then 16 at a time; each answer timed.
async function pullIntake() {
  const images = pushedImages();
  const total = Number(values["pull-events"]);
  const run = Date.now().toString(36);
  const headers = (body) => ({ authorization: `Bearer ${values.secret}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const one = async (concurrency) => {
    let ok = 0;
    const times = [];
    const seconds = await inFlight(total, concurrency, async (i) => {
      const body = pullEnvelope(`pull-${run}-${concurrency}-${i}`, images[i % images.length]);
      const { status, ms } = await send(`${values.url}/registry/events`, { method: "POST", agent, timeout: 30_000, headers: headers(body) }, body);
      if (status === 200) ok++;
      times.push(ms);
    });
    return { count: total, concurrency, ok, seconds, per_second: ok / seconds, ...latencies(times) };
  };
  return { serial: await one(1), parallel: await one(16) };
}

// Replaces the "## Pull burst" section of `out` (up to the next "## " heading) or appends it.
function pullsReport() {
  const read = (name) => readResult(values.dir, name);
  const meta = read("pulls-meta.json") ?? {};
  const burst = read("pulls-burst.json");
  const intake = read("pulls-intake.json");
  const counted = read("pulls-counted.json") ?? {};
  const ms = (v) => (v == null ? "?" : `${v.toFixed(1)} ms`);
  const lines = [
    "## Pull burst",
    "",
    "What counting pulls costs at intake (see [housekeeping.md](housekeeping.md#pull-tracking)). A registry on 127.0.0.1 (no auth) notifies Wharf (SQLite) of pulls; blob events are ignored, as in the config Wharf generates. Measured on its own, with `WHARF_BENCH_SKIP=intake,latency scripts/bench webhooks`:",
    "",
    ...measuredLines(meta, "WHARF_BENCH_SKIP=intake,latency scripts/bench webhooks"),
    "",
  ];
  if (!burst || !intake) {
    lines.push("Not measured in this run.", "");
  } else {
    const taken = counted.counted_after_seconds == null ? null : burst.seconds + counted.counted_after_seconds;
    lines.push(
      `**Real pulls**: ${burst.images} images in 20 repositories, then ${burst.count} manifest GETs by digest (a client's pull after its token), ${burst.concurrency} at once, as fast as the registry answers. The registry sends Wharf one envelope per pull, one at a time.`,
      "",
      "| what | count | in | per second | p50 | p99 |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      `| manifest GETs answered by the registry | ${burst.served} of ${burst.count} | ${burst.seconds.toFixed(1)} s | ${burst.per_second.toFixed(0)} | ${ms(burst.registry.p50_ms)} | ${ms(burst.registry.p99_ms)} |`,
      `| the registry's pull notifications, counted in \`manifest_pulls\` (from the first GET until the counts add up) | ${counted.counted_sum ?? "?"} of ${burst.served} | ${taken == null ? "not all" : `${taken.toFixed(1)} s`} | ${taken == null ? "?" : (burst.served / taken).toFixed(0)} | | |`,
      "",
      `**Pull-only envelopes** POSTed to \`/registry/events\` (one pull event each, for the images above), timed from the start of each POST to the end of its answer: one at a time, as the registry sends them, then 16 at a time.`,
      "",
      "| in flight | envelopes | answered 200 | in | envelopes/s | p50 | p95 | p99 | max |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...[intake.serial, intake.parallel].map(
        (r) =>
          `| ${r.concurrency} | ${r.count} | ${r.ok} | ${r.seconds.toFixed(1)} s | ${r.per_second.toFixed(0)} | ${ms(r.p50_ms)} | ${ms(r.p95_ms)} | ${ms(r.p99_ms)} | ${ms(r.max_ms)} |`,
      ),
      "",
      `Afterwards \`manifest_pulls\` holds **${counted.rows ?? "?"} rows** (one per image pulled: ${burst.images} images) whose counts add up to ${counted.sum ?? "?"} (${burst.served} real pulls + ${intake.serial.ok + intake.parallel.ok} posted). A pull costs the intake a map update; the database sees one upsert per image pulled in each second, in one transaction.`,
      "",
    );
  }
  let text = "";
  try {
    text = readFileSync(values.out, "utf8");
  } catch {}
  const start = text.indexOf("\n## Pull burst\n");
  let before = text;
  let after = "";
  if (start >= 0) {
    before = text.slice(0, start + 1);
    const next = text.indexOf("\n## ", start + 1);
    after = next >= 0 ? text.slice(next + 1) : "";
  } else if (before && !before.endsWith("\n")) {
    before += "\n";
  }
  const section = lines.join("\n");
  writeFileSync(values.out, `${before}${before && !before.endsWith("\n\n") ? "\n" : ""}${section}${after ? `\n${after}` : ""}`);
  console.log(`wrote the Pull burst section of ${values.out}`);
}

if (positionals[0] === "pulls-report") pullsReport();
else await runCommand(positionals[0], { intake, latency, "pull-images": pullImages, "pull-burst": pullBurst, "pull-intake": pullIntake }, report, values.out);
