// Load shared by the benchmark scripts: notification envelopes POSTed to Wharf's intake and
// token requests to its token endpoint, each spread round-robin over one or more consoles (as a
// load balancer in front of replicas would), with `concurrency` requests in flight.
//
// Node's own HTTP client with kept-alive connections: `fetch` costs the client about a
// millisecond of CPU per request, enough to make the load generator the bottleneck here.
import { readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { percentile } from "./stats.mjs";

/** A notification envelope of one manifest push, as the registry sends it. */
export const pushEnvelope = (id, image, request) =>
  JSON.stringify({
    events: [
      {
        id,
        timestamp: new Date().toISOString(),
        action: "push",
        target: {
          mediaType: image.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
          size: image.size,
          length: image.size,
          digest: image.digest,
          repository: image.repository,
          tag: image.tag,
        },
        ...request,
      },
    ],
  });

/** Intake event `i`: a digest the registry does not have, in one of 20 repositories. */
const intakeEnvelope = (id, i) =>
  pushEnvelope(
    id,
    { size: 525, digest: `sha256:${i.toString(16).padStart(64, "0")}`, repository: `bench/app-${i % 20}`, tag: `t${i}` },
    { actor: { name: "bench" } },
  );

/**
 * One request over Node's HTTP client: resolves with its status (0 when it failed), the time to
 * the end of the answer in milliseconds, and the answer's headers.
 */
export function send(url, options, body) {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status, headers = {}) => resolve({ status, ms: performance.now() - started, headers });
    const request = httpRequest(url, options, (response) => {
      response.resume();
      response.on("end", () => done(response.statusCode, response.headers));
      response.on("error", () => done(0));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => done(0));
    request.end(body);
  });
}

const intakeAgent = new Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs `body` to the intake of the console at `url`; resolves with the status (0 when it failed). */
export async function postEnvelope(url, secret, body) {
  const headers = {
    authorization: `Bearer ${secret}`,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  };
  return (await send(`${url}/registry/events`, { method: "POST", agent: intakeAgent, timeout: 30_000, headers }, body)).status;
}

/**
 * Calls `each(i)` for every i < `total`, at most `concurrency` calls in flight; resolves with the
 * seconds it took.
 */
export async function inFlight(total, concurrency, each) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await each(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * `events` envelopes of one event each (ids `intake-<run>-<i>`), the i-th to `urls[i % n]`:
 * how many per second were answered 200.
 */
export async function intakeRun({ urls, secret, events, concurrency, label }) {
  const run = `${Date.now().toString(36)}`;
  let failed = 0;
  const seconds = await inFlight(events, concurrency, async (i) => {
    const status = await postEnvelope(urls[i % urls.length], secret, intakeEnvelope(`intake-${run}-${i}`, i)).catch(() => 0);
    if (status !== 200) failed++;
  });
  return { label, consoles: urls.length, events, failed, concurrency, seconds, per_second: (events - failed) / seconds };
}

export const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** GET /auth/token of the console at `url`; resolves with [status, milliseconds]. */
export async function tokenRequest(agent, url, authorization, scope, localAddress) {
  const query = `service=wharf-registry&scope=${encodeURIComponent(scope)}`;
  const { status, ms } = await send(`${url}/auth/token?${query}`, { agent, timeout: 60_000, localAddress, headers: { authorization } });
  return [status, ms];
}

/** p50/p95/p99/max of `times` (milliseconds), nulls when empty. */
export function latencies(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    max_ms: sorted.at(-1) ?? null,
  };
}

/**
 * `requests` token requests with HTTP Basic credentials (one pull scope each), the i-th to
 * `urls[i % n]`: tokens per second and latency. With `warm`, one untimed request to each console
 * first, so that every console's credential cache holds the password.
 */
export async function tokenRun({ urls, user, password, requests, concurrency, label, warm = false }) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const authorization = basic(user, password);
  if (warm) {
    for (const url of urls) await tokenRequest(agent, url, authorization, "repository:bench/app-0:pull");
  }
  const times = [];
  const statuses = {};
  const seconds = await inFlight(requests, concurrency, async (i) => {
    const [status, ms] = await tokenRequest(agent, urls[i % urls.length], authorization, `repository:bench/app-${i % 20}:pull`);
    statuses[status] = (statuses[status] ?? 0) + 1;
    times.push(ms);
  });
  agent.destroy();
  return { label, consoles: urls.length, requests, concurrency, seconds, per_second: (statuses[200] ?? 0) / seconds, statuses, ...latencies(times) };
}

/** Signs in to the console at `url`; resolves with the session's Cookie header. */
export async function signIn(url, password, user = "admin") {
  const response = await fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", referer: `${url}/login` },
    body: new URLSearchParams({ username: user, password }),
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  if (!cookie) throw new Error(`sign-in to ${url} failed: ${response.status}`);
  return cookie;
}

/** The 1-minute load average now. */
export const readLoad = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
