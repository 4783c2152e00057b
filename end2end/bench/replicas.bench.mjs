// The measuring part of `scripts/bench replicas`, against one or two running `wharf serve`:
//
//   node replicas.bench.mjs intake --url U [--url U2] --secret S [--events 3000] [--concurrency 16] --label L --out intake.json
//   node replicas.bench.mjs tokens --url U [--url U2] --password P [--requests 5000] [--concurrency 16] --label L --out tokens.json
//   node replicas.bench.mjs live   --url A --url B --password P --secret S --samples FILE [--wait-ms 10000] --out live.json
//   node replicas.bench.mjs report --dir RESULTS --out ../docs/benchmarks-replicas.md --command "scripts/bench replicas"
//
// intake  notification envelopes POSTed to /registry/events, the i-th to the i-th console
//         round-robin (as a load balancer would): events answered per second.
// tokens  GET /auth/token with admin's HTTP Basic credentials, round-robin, after one untimed
//         request to each console (warm credential caches): tokens per second, p50/p95/p99.
// live    signs in to A and B and opens /api/stream on both; then, one after the other, for each
//         line of FILE (repository, digest, media type, size of an image the registry holds and the
//         index knows, one repository a line), POSTs to A an envelope that pushes that digest
//         under a new tag, and times until A's stream and B's stream each carry the repository's
//         update. An update that does not come within --wait-ms counts as lost.
// Nothing here fails on a slow figure.
import { readFileSync, readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { parseArgs } from "node:util";
import { intakeRun, latencies, postEnvelope, pushEnvelope, readLoad, signIn, sleep, tokenRun } from "./load.mjs";
import { measuredLines, readResult, runCommand, writeReport } from "./stats.mjs";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", multiple: true, default: [] },
    password: { type: "string" },
    secret: { type: "string" },
    events: { type: "string", default: "3000" },
    requests: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "16" },
    samples: { type: "string" },
    "wait-ms": { type: "string", default: "10000" },
    label: { type: "string", default: "" },
    out: { type: "string" },
    dir: { type: "string" },
    command: { type: "string", default: "scripts/bench replicas" },
  },
});

async function intake() {
  const load = readLoad();
  const result = await intakeRun({
    urls: values.url,
    secret: values.secret,
    events: Number(values.events),
    concurrency: Number(values.concurrency),
    label: values.label,
  });
  return { ...result, load: [load, readLoad()] };
}

async function tokens() {
  const load = readLoad();
  const result = await tokenRun({
    urls: values.url,
    user: "admin",
    password: values.password,
    requests: Number(values.requests),
    concurrency: Number(values.concurrency),
    label: values.label,
    warm: true,
  });
  return { ...result, load: [load, readLoad()] };
}

/**
 * `/api/stream` of the console at `url`, read as it arrives: `arrivals` maps each repository
 * named by an update to the times (performance.now()) its updates arrived; `after(name, t)` is
 * the first of them at or after `t`. `opened` resolves once the first message came (the stream
 * sends the reconcile's status first), or rejects.
 */
function openStream(url, cookie) {
  const stream = { arrivals: new Map(), lagged: 0, ended: false };
  stream.after = (name, t) => (stream.arrivals.get(name) ?? []).find((at) => at >= t) ?? null;
  let buffer = "";
  stream.opened = new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/api/stream`, { headers: { cookie, accept: "text/event-stream" }, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`the live stream of ${url} was refused: ${response.statusCode}`));
        return;
      }
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        const at = performance.now();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = frame.split("\n");
          if (lines.some((line) => line.trim() === "event: lagged")) stream.lagged++;
          const data = lines.filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("");
          if (!data) continue;
          resolve();
          try {
            const update = JSON.parse(data);
            if (update.kind === "repository") stream.arrivals.set(update.name, [...(stream.arrivals.get(update.name) ?? []), at]);
          } catch {}
        }
      });
      response.on("end", () => (stream.ended = true));
      response.on("error", () => (stream.ended = true));
    });
    request.on("error", (error) => {
      stream.ended = true;
      reject(error);
    });
    request.end();
    stream.close = () => request.destroy();
    setTimeout(() => reject(new Error(`no message on the live stream of ${url} within 10 s`)), 10_000).unref();
  });
  return stream;
}

/** Resolves once `done()` holds, or after `ms`. */
async function until(done, ms) {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await sleep(2);
}

async function live() {
  const [a, b] = values.url;
  const waitMs = Number(values["wait-ms"]);
  const images = readFileSync(values.samples, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const [repository, digest, mediaType, size] = line.split("\t");
      return { repository, digest, mediaType, size: Number(size) };
    });
  const [cookieA, cookieB] = [await signIn(a, values.password), await signIn(b, values.password)];
  const onA = openStream(a, cookieA);
  const onB = openStream(b, cookieB);
  await Promise.all([onA.opened, onB.opened]);
  const run = Date.now().toString(36);
  const load = readLoad();
  const samples = [];
  for (const [i, image] of images.entries()) {
    const id = `live-${run}-${i}`;
    const started = performance.now();
    const status = await postEnvelope(a, values.secret, pushEnvelope(id, { ...image, tag: `live-${run}` }, { actor: { name: "bench" } }));
    const answered = performance.now() - started;
    const arrived = (stream) => stream.after(image.repository, started);
    await until(() => arrived(onA) != null && arrived(onB) != null, waitMs);
    const after = (stream) => (arrived(stream) == null ? null : arrived(stream) - started);
    samples.push({ repository: image.repository, status, answered_ms: answered, a_ms: after(onA), b_ms: after(onB) });
    // The next envelope once this one's updates are out of the way.
    await sleep(100);
  }
  onA.close();
  onB.close();
  const times = (pick) => samples.map(pick).filter((v) => v != null);
  return {
    samples: samples.length,
    wait_ms: waitMs,
    load: [load, readLoad()],
    accepted: samples.filter((s) => s.status === 200).length,
    answered: latencies(times((s) => s.answered_ms)),
    a: { arrived: times((s) => s.a_ms).length, ...latencies(times((s) => s.a_ms)) },
    b: { arrived: times((s) => s.b_ms).length, ...latencies(times((s) => s.b_ms)) },
    // Per sample that reached both: the later stream's update minus the earlier one's (the
    // replica that applied the event publishes to its own streams, then to the other's).
    crossing: latencies(times((s) => (s.a_ms != null && s.b_ms != null ? Math.abs(s.b_ms - s.a_ms) : null))),
    // Samples whose update reached B first: B's index worker had applied the event.
    b_first: samples.filter((s) => s.a_ms != null && s.b_ms != null && s.b_ms < s.a_ms).length,
    lagged: [onA.lagged, onB.lagged],
    ended: [onA.ended, onB.ended],
    raw: samples,
  };
}

function report() {
  const read = (name) => readResult(values.dir, name);
  const meta = read("meta.json") ?? {};
  const configurations = [
    ["sqlite", "one console, SQLite"],
    ["postgres", "one console, PostgreSQL"],
    ["replicas", "two replicas, one PostgreSQL"],
  ];
  const names = new Set(readdirSync(values.dir));
  const found = (prefix) => configurations.map(([key, label]) => ({ label, result: names.has(`${prefix}-${key}.json`) ? read(`${prefix}-${key}.json`) : null }));
  const intakes = found("intake");
  const tokens = found("tokens");
  const live = read("live.json");
  const image = read("image.json");
  const ms = (v) => (v == null ? "not measured" : `${v.toFixed(0)} ms`);
  const seconds = (v) => (v == null ? "?" : `${v.toFixed(1)} s`);
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  const storedRate = (i) => (i.events - i.failed) / (i.seconds + (i.stored_seconds ?? 0));
  const measured = (r, text) => (r ? text(r) : "not measured");
  const met = (r, ok) => (r ? (ok(r) ? "yes" : "**no**") : "?");
  const intakeOf = (label) => intakes.find((i) => i.label === label)?.result;
  const tokensOf = (label) => tokens.find((t) => t.label === label)?.result;
  const pair = intakeOf("two replicas, one PostgreSQL");
  const pairTokens = tokensOf("two replicas, one PostgreSQL");
  const imageText = image?.size_bytes
    ? `${mb(image.size_bytes)}${image.base_bytes ? ` (base ${mb(image.base_bytes)}, Wharf ${mb(image.size_bytes - image.base_bytes)})` : ""}`
    : "not measured (run `scripts/image build` first)";
  const lines = [
    "# Benchmarks: replicas",
    "",
    "<!-- Written by `scripts/bench replicas`; change the benchmark, not this file. -->",
    "",
    "What two consoles on one PostgreSQL database (replicas, as in [replicas.md](replicas.md)) take in and answer, next to one console on SQLite and one on PostgreSQL under the same load in the same run; how long a push taken in by one replica takes to show on the other's live pages; and the size of the container image.",
    "",
    ...measuredLines(meta, values.command),
    "",
    "One run on a shared machine: single figures can be off by tens of percent, and both replicas, PostgreSQL and the load generator share its 2 cores (replicas on separate machines would not). Nothing fails on a slow figure.",
    "",
    "## Targets",
    "",
    "The targets of [benchmarks-webhooks.md](benchmarks-webhooks.md) and [benchmarks-access.md](benchmarks-access.md), for two replicas; the rest is reported.",
    "",
    "| target | measured | met? |",
    "| --- | --- | --- |",
    `| intake on two replicas ≥ 1,000 events/s (answered and stored) | ${measured(pair, (r) => `${storedRate(r).toFixed(0)} events/s`)} | ${met(pair, (r) => storedRate(r) >= 1000)} |`,
    `| token endpoint on two replicas, warm credential caches, ≥ 2,000 tokens/s | ${measured(pairTokens, (r) => `${r.per_second.toFixed(0)} tokens/s (p95 ${ms(r.p95_ms)})`)} | ${met(pairTokens, (r) => r.per_second >= 2000)} |`,
    `| push taken in by A → live update on A's stream / on B's stream, p50 / p95 | ${live ? `${ms(live.a.p50_ms)} / ${ms(live.a.p95_ms)} on A, ${ms(live.b.p50_ms)} / ${ms(live.b.p95_ms)} on B` : "not measured"} | reported |`,
    `| live updates lost (none within ${live ? live.wait_ms / 1000 : "?"} s) | ${live ? `${live.samples - live.a.arrived} of ${live.samples} on A, ${live.samples - live.b.arrived} of ${live.samples} on B` : "not measured"} | ${live ? (live.a.arrived === live.samples && live.b.arrived === live.samples ? "none lost" : "**some lost**") : "?"} |`,
    `| the container image (\`localhost/wharf:latest\`) | ${imageText} | reported |`,
    "",
    "## Intake",
    "",
    "Envelopes of one event each (as the registry sends them), POSTed to `/registry/events` with the shared secret, 16 in flight; with two replicas the client sends the i-th envelope to replica A or B by turns, as a load balancer would. On PostgreSQL each is stored with its outbox rows before the 200 (*stored rows* counts the benchmark's events in `registry_events` afterwards); on SQLite each is answered once in the intake journal, and *all stored in* runs until the journal is empty. The events are tagged manifest pushes to 20 repositories, of digests the registry does not have; *then applied by the index in* runs from there until the index had applied every one (each a 404 from the registry; on two replicas, the workers of both share them).",
    "",
    "| configuration | events | failed | load (1 min) | answered in | **answered/s** | all stored in | stored rows | stored/s | then applied by the index in |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...intakes.map(({ label, result: i }) =>
      i
        ? `| ${label} | ${i.events} | ${i.failed} | ${i.load[0]} → ${i.load[1]} | ${seconds(i.seconds)} | **${i.per_second.toFixed(0)}** | ${seconds(i.seconds + (i.stored_seconds ?? 0))} | ${i.stored_rows ?? "?"} | ${storedRate(i).toFixed(0)} | ${seconds(i.applied_seconds)} |`
        : `| ${label} | not measured | | | | | | | | |`,
    ),
    "",
    "## Token endpoint",
    "",
    "`GET /auth/token` with admin's HTTP Basic credentials, one pull scope each, 16 in flight on kept-alive connections, round-robin over the replicas. Each console first answers one untimed request, so its credential cache holds the password (every replica has a cache of its own). Measured after the intake above was stored and applied.",
    "",
    "| configuration | requests | answers | load (1 min) | **tokens/s** | p50 | p95 | p99 | max |",
    "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...tokens.map(({ label, result: t }) =>
      t
        ? `| ${label} | ${t.requests} | ${Object.entries(t.statuses).map(([s, n]) => `${n}× ${s}`).join(", ")} | ${t.load[0]} → ${t.load[1]} | **${t.per_second.toFixed(0)}** | ${ms(t.p50_ms)} | ${ms(t.p95_ms)} | ${ms(t.p99_ms)} | ${ms(t.max_ms)} |`
        : `| ${label} | not measured | | | | | | | |`,
    ),
    "",
    "## Live updates across replicas",
    "",
  ];
  if (live) {
    const row = (name, r, count) => `| ${name} | ${r.arrived ?? count} of ${count} | ${ms(r.p50_ms)} | ${ms(r.p95_ms)} | ${ms(r.max_ms)} |`;
    const ratio = live.a.p50_ms && live.b.p50_ms != null ? `${(live.b.p50_ms / live.a.p50_ms).toFixed(1)}×` : "?";
    lines.push(
      `The two replicas above, after their load: admin signed in to each and \`/api/stream\` open on both (as two open pages are). ${live.samples} times, one after the other: an envelope is POSTed to replica A for an image the registry holds (${live.samples} repositories, one image each, pushed and indexed beforehand), under a new tag, and the clock runs from the POST's start until the repository's update arrives on A's stream and on B's. The index worker of either replica may apply the event (they share the queue); the replica that applied it publishes the update to its own streams and over PostgreSQL's \`LISTEN/NOTIFY\` to the other. An update that did not come within ${live.wait_ms / 1000} s counts as lost. ${live.accepted} of ${live.samples} envelopes were answered 200 (p50 ${ms(live.answered.p50_ms)}). Load (1 min) ${live.load[0]} → ${live.load[1]}.`,
      "",
      "| path | arrived | p50 | p95 | max |",
      "| --- | ---: | ---: | ---: | ---: |",
      row("POST to A → update on A's stream", live.a, live.samples),
      row("POST to A → update on B's stream", live.b, live.samples),
      row("**crossing replicas**: the later stream's update minus the earlier one's, per sample", { arrived: live.raw.filter((s) => s.a_ms != null && s.b_ms != null).length, ...live.crossing }, live.samples),
      "",
      `On B the median update came ${ratio} as late as on A. In ${live.b_first} of ${live.samples} samples B's update came first: B's index worker had applied the event and A heard of it over PostgreSQL.${live.lagged.some((n) => n > 0) ? ` The streams reported missed updates (lagged) ${live.lagged[0]} times on A, ${live.lagged[1]} on B.` : ""}${live.ended.some(Boolean) ? " **A stream ended during the run.**" : ""}`,
      "",
    );
  } else {
    lines.push("Not measured in this run.", "");
  }
  lines.push("## The container image", "");
  if (image?.size_bytes) {
    lines.push(
      `\`podman image inspect ${image.name}\`: **${mb(image.size_bytes)}** (${image.size_bytes} bytes), built ${image.created} by \`scripts/image build\` (the release build of that time, not necessarily of the commit above).${image.base_bytes ? ` Of it, the base image (\`${image.base}\`) is ${mb(image.base_bytes)}: Wharf's binary, its site and the packages it adds are ${mb(image.size_bytes - image.base_bytes)}. The base here is a stand-in made from Debian's packages (base images cannot be pulled on this machine; see [deploy.md](deploy.md)).` : ""}`,
      "",
    );
  } else {
    lines.push("Not measured (run `scripts/image build` first: this needs podman and the image `localhost/wharf:latest`).", "");
  }
  writeReport(values.out, lines);
}

await runCommand(positionals[0], { intake, tokens, live }, report, values.out);
