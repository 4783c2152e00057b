// The measuring part of `scripts/bench access`, against a running `wharf serve` (which manages
// its registry and is its token server):
//
//   node access.bench.mjs tokens --url U --user N --password P [--requests 5000] [--concurrency 16] --label L --out tokens.json
//   node access.bench.mjs flood  --url U --pid PID --registry HOST --user N --password P --image REPO:TAG [--bad 500] [--rounds 3] --out flood.json
//   node access.bench.mjs report --dir RESULTS --out ../docs/benchmarks-access.md --command "scripts/bench access"
//
// tokens  GET /auth/token with HTTP Basic (as docker and skopeo ask for a pull token), `concurrency`
//         in flight: tokens per second, p50/p99.
// flood   `bad` concurrent token requests with made-up credentials from another client address
//         (127.0.0.2), `rounds` times, while a legitimate `skopeo inspect` (another user, from
//         127.0.0.1) runs: its time, and the server's resident memory sampled every 50 ms; then
//         one more round of `bad` spread over 100 addresses (127.0.1.x), so that no address is
//         locked and every request runs argon2: the server's memory growth under the most hashing.
// Nothing here fails on a slow figure.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import { parseArgs } from "node:util";
import { basic, latencies, tokenRequest, tokenRun } from "./load.mjs";
import { measuredLines, readResult, runCommand, writeReport } from "./stats.mjs";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    requests: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "16" },
    label: { type: "string", default: "" },
    pid: { type: "string" },
    registry: { type: "string" },
    image: { type: "string" },
    bad: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
    out: { type: "string" },
    dir: { type: "string" },
    command: { type: "string", default: "scripts/bench access" },
  },
});

// Latency as the report shows it.
function summary(times) {
  const { p50_ms, p99_ms, max_ms } = latencies(times);
  return { p50_ms, p99_ms, max_ms };
}

const tokens = () =>
  tokenRun({
    urls: [values.url],
    user: values.user,
    password: values.password,
    requests: Number(values.requests),
    concurrency: Number(values.concurrency),
    label: values.label,
  });

/** Resident memory of the server now, and its peak so far (KiB, from /proc). */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
  return { rss_kib: field("VmRSS"), peak_kib: field("VmHWM") };
}

function skopeoInspect() {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      "skopeo",
      ["inspect", "--tls-verify=false", "--raw", "--creds", `${values.user}:${values.password}`, `docker://${values.registry}/${values.image}`],
      { timeout: 120_000 },
      (error) => resolve({ ok: !error, ms: performance.now() - started, error: error ? String(error.message).slice(0, 300) : null }),
    );
  });
}

async function flood() {
  const pid = Number(values.pid);
  const bad = Number(values.bad);
  const rounds = Number(values.rounds);
  const before = memory(pid);
  let highest = before.rss_kib;
  const sampler = setInterval(() => {
    try {
      highest = Math.max(highest, memory(pid).rss_kib);
    } catch {}
  }, 50);
  const results = [];
  for (let round = 0; round < rounds; round++) {
    // Fresh connections from another loopback address: the attacker is not the legitimate client.
    const agent = new Agent({ keepAlive: false, maxSockets: bad });
    const statuses = {};
    const times = [];
    const started = performance.now();
    const attack = Promise.all(
      Array.from({ length: bad }, async (_, i) => {
        const made_up = basic(`nobody-${round}-${i}`, `guess-${Math.random()}`);
        const [status, ms] = await tokenRequest(agent, values.url, made_up, "repository:bench/app-0:pull", "127.0.0.2");
        statuses[status] = (statuses[status] ?? 0) + 1;
        times.push(ms);
      }),
    );
    // The legitimate pull starts once the flood is under way.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const legitimate = await skopeoInspect();
    await attack;
    results.push({ round, bad, statuses, flood_seconds: (performance.now() - started) / 1000, ...summary(times), legitimate });
  }
  const spread = await spreadFlood(bad, 100);
  clearInterval(sampler);
  const after = memory(pid);
  return { before_kib: before.rss_kib, highest_kib: highest, after_kib: after.rss_kib, peak_kib: after.peak_kib, rounds: results, spread };
}

/** `bad` concurrent requests with made-up names, spread over `addresses` loopback addresses. */
async function spreadFlood(bad, addresses) {
  const agent = new Agent({ keepAlive: false, maxSockets: bad });
  const statuses = {};
  const times = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: bad }, async (_, i) => {
      const made_up = basic(`spread-${i}`, `guess-${Math.random()}`);
      const from = `127.0.1.${(i % addresses) + 1}`;
      const [status, ms] = await tokenRequest(agent, values.url, made_up, "repository:bench/app-0:pull", from);
      statuses[status] = (statuses[status] ?? 0) + 1;
      times.push(ms);
    }),
  );
  agent.destroy();
  return { bad, addresses, statuses, flood_seconds: (performance.now() - started) / 1000, ...summary(times) };
}

function report() {
  const read = (name) => readResult(values.dir, name);
  const meta = read("meta.json") ?? {};
  const warm = read("tokens-warm.json");
  const cold = read("tokens-cold.json");
  const flooded = read("flood.json");
  const ms = (v) => (v == null ? "not measured" : `${v.toFixed(0)} ms`);
  const mib = (kib) => (kib == null ? "?" : `${(kib / 1024).toFixed(0)} MiB`);
  const rate = (r) => (r ? `${r.per_second.toFixed(0)} tokens/s` : "not measured");
  const legit = flooded?.rounds.map((r) => r.legitimate) ?? [];
  const slowest = legit.length ? Math.max(...legit.map((l) => l.ms)) : null;
  const allServed = legit.length > 0 && legit.every((l) => l.ok);
  const lines = [
    "# Benchmarks: access",
    "",
    "<!-- Written by `scripts/bench access`; change the benchmark, not this file. -->",
    "",
    "How fast the token server answers registry clients, and what a flood of made-up credentials does to the server and to a legitimate pull meanwhile.",
    "",
    ...measuredLines(meta, values.command, "release build, SQLite"),
    "",
    "One run on a shared machine: single figures can be off by tens of percent. Nothing fails on a slow figure.",
    "",
    "## Targets",
    "",
    "| target | measured | met? |",
    "| --- | --- | --- |",
    `| token endpoint with a warm credential cache ≥ 2,000 tokens/s | ${rate(warm)} (p99 ${ms(warm?.p99_ms)}) | ${warm ? (warm.per_second >= 2000 ? "yes" : "**no**") : "?"} |`,
    `| server memory grows < 64 MiB under floods of ${flooded?.rounds[0]?.bad ?? 500} concurrent bad-credential requests | ${flooded ? `grew ${mib(flooded.highest_kib - flooded.before_kib)}: ${mib(flooded.before_kib)} before, highest ${mib(flooded.highest_kib)}, ${mib(flooded.after_kib)} after` : "not measured"} | ${flooded ? (flooded.highest_kib - flooded.before_kib < 64 * 1024 ? "yes" : "**no**") : "?"} |`,
    `| a legitimate \`skopeo inspect\` during the flood within 2 s | ${slowest == null ? "not measured" : `slowest of ${legit.length}: ${ms(slowest)}${allServed ? "" : " (some failed)"}`} | ${slowest == null ? "?" : slowest < 2000 && allServed ? "yes" : "**no**"} |`,
    "",
    "## Token endpoint",
    "",
    "`GET /auth/token` with HTTP Basic credentials of a user, one pull scope each, kept-alive connections. *Warm*: the credential cache answers (the first request verifies the password). *Argon2 each time*: the server runs with `--credential-cache-secs 0`, so every request verifies the password (argon2id, at most one hash per core at a time).",
    "",
    "| case | requests | in flight | tokens/s | p50 | p99 | max |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[warm, cold].filter(Boolean).map((r) => `| ${r.label} | ${r.requests} | ${r.concurrency} | ${r.per_second.toFixed(0)} | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} | ${ms(r.max_ms)} |`),
    "",
    "## Flood of made-up credentials",
    "",
    "Each round opens that many connections at once from 127.0.0.2, each asking for a token with a different made-up user name and password; 100 ms later `skopeo inspect` pulls a manifest as a real user from 127.0.0.1 (its token request, the registry's challenge and the manifest GET: the whole command is timed). Memory is the server's resident set, sampled every 50 ms.",
    "",
  ];
  if (flooded) {
    lines.push(
      "| round | requests | answers | flood done in | p50 | p99 | legitimate skopeo inspect |",
      "| ---: | ---: | --- | ---: | ---: | ---: | --- |",
      ...flooded.rounds.map(
        (r) =>
          `| ${r.round + 1} | ${r.bad} | ${Object.entries(r.statuses).map(([s, n]) => `${n}× ${s}`).join(", ")} | ${r.flood_seconds.toFixed(1)} s | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} | ${r.legitimate.ok ? "ok" : "**failed**"} in ${ms(r.legitimate.ms)} |`,
      ),
      "",
      ...(flooded.spread
        ? [
            `Then ${flooded.spread.bad} requests at once spread over ${flooded.spread.addresses} addresses (127.0.1.x, each with its own made-up names), so no address is locked and every one runs argon2: ${Object.entries(flooded.spread.statuses).map(([s, n]) => `${n}× ${s}`).join(", ")} in ${flooded.spread.flood_seconds.toFixed(1)} s (p50 ${ms(flooded.spread.p50_ms)}, p99 ${ms(flooded.spread.p99_ms)}).`,
            "",
          ]
        : []),
      `Resident memory: ${mib(flooded.before_kib)} before the floods, highest ${mib(flooded.highest_kib)} during them (grew ${mib(flooded.highest_kib - flooded.before_kib)}), ${mib(flooded.after_kib)} after (the process's peak since start: ${mib(flooded.peak_kib)}).`,
      "",
      "History: at first the same flood (400 concurrent requests) took the server from 190 MiB to 7.7 GiB, never given back: every request ran argon2 (19 MiB each) on an unbounded blocking pool. Bounding hashes to one per core on tokio's blocking pool still grew it by about 300 MiB (46 → 351 MiB), since each check could land on a fresh blocking thread whose allocator arena kept its 19 MiB. Now hashes run on a fixed pool of hashing threads (one per core, at most four); a client address is locked after 20 failures, an account from one address after 5, and requests that queued behind a lock are refused without hashing once their turn comes.",
      "",
    );
  } else {
    lines.push("Not measured in this run.", "");
  }
  writeReport(values.out, lines);
}

await runCommand(positionals[0], { tokens, flood }, report, values.out);
