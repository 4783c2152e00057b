// The measuring part of `scripts/bench webhooks`, against a running `wharf serve`:
//
//   node webhooks.bench.mjs intake  --url U --secret S [--events 3000] [--concurrency 16] --out intake.json
//   node webhooks.bench.mjs latency --url U --password P --secret S [--rate 200] [--seconds 10] --out latency.json
//   node webhooks.bench.mjs report  --dir RESULTS --out ../docs/benchmarks-webhooks.md --command "scripts/bench webhooks"
//
// intake   POSTs notification envelopes (one event each, as the registry sends them) to
//          /registry/events as fast as `concurrency` requests in flight allow: events stored per second.
// latency  creates a webhook (Wharf JSON) to a receiver in this process, then sends events at
//          `rate` per second for `seconds`; the receiver records when each arrives: the time from
//          the registry's POST to the delivery, p50/p95/p99.
// Nothing here fails on a slow figure.
import { createServer } from "node:http";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

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
    label: { type: "string", default: "SQLite" },
    out: { type: "string" },
    dir: { type: "string" },
    command: { type: "string", default: "scripts/bench webhooks" },
  },
});

const envelope = (id, i) =>
  JSON.stringify({
    events: [
      {
        id,
        timestamp: new Date().toISOString(),
        action: "push",
        target: {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 525,
          digest: `sha256:${i.toString(16).padStart(64, "0")}`,
          repository: `bench/app-${i % 20}`,
          tag: `t${i}`,
        },
        actor: { name: "bench" },
      },
    ],
  });

async function post(id, i) {
  const response = await fetch(`${values.url}/registry/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${values.secret}`, "content-type": "application/json" },
    body: envelope(id, i),
    signal: AbortSignal.timeout(30_000),
  });
  await response.arrayBuffer();
  return response.status;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function intake() {
  const total = Number(values.events);
  const concurrency = Number(values.concurrency);
  const run = `${Date.now().toString(36)}`;
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        if ((await post(`intake-${run}-${i}`, i).catch(() => 0)) !== 200) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { label: values.label, events: total, failed, concurrency, seconds, per_second: (total - failed) / seconds };
}

async function signIn() {
  const response = await fetch(`${values.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", referer: `${values.url}/login` },
    body: new URLSearchParams({ username: "admin", password: values.password }),
    redirect: "manual",
  });
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  if (!cookie) throw new Error(`sign-in failed: ${response.status}`);
  return cookie;
}

async function latency() {
  const arrivals = new Map();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      const at = performance.now() + performance.timeOrigin;
      try {
        const id = JSON.parse(Buffer.concat(chunks).toString()).id;
        if (!arrivals.has(id)) arrivals.set(id, at);
      } catch {}
      response.writeHead(200);
      response.end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver = `http://127.0.0.1:${server.address().port}/hook`;
  const cookie = await signIn();
  const form = new URLSearchParams({
    id: "", name: "bench", url: receiver, enabled: "on", push: "on", delete: "on", scope: "", pusher: "",
    format: "generic", template: "", headers: "", timeout_secs: "15", ordered: "on",
  });
  const saved = await fetch(`${values.url}/api/save_webhook`, {
    method: "POST",
    headers: { cookie, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  if (saved.status !== 200) throw new Error(`cannot create the webhook: ${saved.status} ${await saved.text()}`);

  const rate = Number(values.rate);
  const total = rate * Number(values.seconds);
  const sent = new Map();
  const run = Date.now().toString(36);
  const started = performance.now();
  const posts = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `latency-${run}-${i}`;
    sent.set(id, performance.now() + performance.timeOrigin);
    posts.push(post(id, 1_000_000 + i).catch(() => 0));
  }
  const statuses = await Promise.all(posts);
  const sendSeconds = (performance.now() - started) / 1000;
  const deadline = Date.now() + 120_000;
  while (arrivals.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  server.close();
  const delays = [...sent].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id) - at).sort((a, b) => a - b);
  return {
    rate,
    events: total,
    acknowledged: statuses.filter((s) => s === 200).length,
    delivered: delays.length,
    send_seconds: sendSeconds,
    p50_ms: percentile(delays, 50),
    p95_ms: percentile(delays, 95),
    p99_ms: percentile(delays, 99),
    max_ms: delays.at(-1) ?? null,
  };
}

function report() {
  const read = (name) => {
    try {
      return JSON.parse(readFileSync(join(values.dir, name), "utf8"));
    } catch {
      return null;
    }
  };
  const meta = read("meta.json") ?? {};
  const intakes = readdirSync(values.dir).filter((f) => f.startsWith("intake-")).map(read).filter(Boolean);
  const lat = read("latency.json");
  const ms = (v) => (v == null ? "not measured" : `${v.toFixed(0)} ms`);
  const sqlite = intakes.find((i) => i.label === "SQLite");
  const lines = [
    "# Benchmarks: webhooks",
    "",
    "<!-- Written by `scripts/bench webhooks`; change the benchmark, not this file. -->",
    "",
    "How many registry notifications Wharf takes in per second, and how long a delivery takes from the registry's notification to the receiver.",
    "",
    `- Measured: ${meta.date ?? "?"} (UTC), with \`${values.command}\``,
    `- Machine: ${meta.machine ?? "?"}`,
    `- Code: commit \`${meta.commit ?? "?"}\`, release build`,
    `- Load average (1 min) at the start and at the end: ${meta.load_start ?? "?"}, ${meta.load_end ?? "?"}`,
    "",
    "One run on a shared machine: single figures can be off by tens of percent. Nothing fails on a slow figure.",
    "",
    "## Targets",
    "",
    "| target | measured | met? |",
    "| --- | --- | --- |",
    `| intake on SQLite ≥ 1,000 events/s | ${sqlite ? `${sqlite.per_second.toFixed(0)} events/s` : "not measured"} | ${sqlite ? (sqlite.per_second >= 1000 ? "yes" : "**no**") : "?"} |`,
    `| notification → delivery p99 < 1 s at ${lat?.rate ?? 200} events/s | ${lat ? ms(lat.p99_ms) : "not measured"} | ${lat?.p99_ms != null ? (lat.p99_ms < 1000 ? "yes" : "**no**") : "?"} |`,
    "| delay Wharf adds over the registry notifying the receiver directly | not measured yet | ? |",
    "",
    "## Intake",
    "",
    "Envelopes of one event each (as the registry sends them), POSTed to `/registry/events` with the shared secret, several in flight at once; each is stored with its outbox rows in one transaction before the 200. The events are tagged manifest pushes to 20 repositories, of digests the registry does not have: the index worker asks the registry for each (a 404) while the intake runs, as it would for a real push.",
    "",
    "| database | events | in flight | failed | time | events/s |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...intakes.map((i) => `| ${i.label} | ${i.events} | ${i.concurrency} | ${i.failed} | ${i.seconds.toFixed(1)} s | ${i.per_second.toFixed(0)} |`),
    "",
    "## Notification to delivery",
    "",
    "One webhook (Wharf JSON, ordered) to a receiver on 127.0.0.1; push events sent at a fixed rate as the registry would; the time from the start of each POST to `/registry/events` to the delivery's arrival at the receiver (SQLite). A push's delivery waits (up to 5 s) for the index to apply its event, so it can carry the image's platforms.",
    "",
  ];
  if (lat) {
    lines.push(
      "| rate | events | acknowledged | delivered | p50 | p95 | p99 | max |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      `| ${lat.rate}/s | ${lat.events} | ${lat.acknowledged} | ${lat.delivered} | ${ms(lat.p50_ms)} | ${ms(lat.p95_ms)} | ${ms(lat.p99_ms)} | ${ms(lat.max_ms)} |`,
      "",
    );
  } else {
    lines.push("Not measured in this run.", "");
  }
  writeFileSync(values.out, lines.join("\n"));
  console.log(`wrote ${values.out}`);
}

const command = positionals[0];
if (command === "report") {
  report();
} else {
  const result = command === "intake" ? await intake() : command === "latency" ? await latency() : null;
  if (!result) throw new Error(`unknown command ${command}`);
  console.log(JSON.stringify(result));
  writeFileSync(values.out, JSON.stringify(result, null, 2));
}
