import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Servers of a test's own, next to the main server the other tests share: a Wharf console with its
// own data directory, and a plain registry (no auth). Every wait is bounded.
const wharfBin = process.env.WHARF_E2E_BIN ?? "wharf";
const siteRoot = process.env.WHARF_E2E_SITE_ROOT ?? "../target/site";
const registryBin = process.env.WHARF_REGISTRY_BIN ?? "docker-registry";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Started {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `bin args` and waits (bounded) until `ready` answers OK. */
async function start(bin: string, args: string[], env: NodeJS.ProcessEnv, url: string, ready: string, dir: string): Promise<Started> {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGCONT"); // in case a test paused it
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}${ready}`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${bin} did not answer ${ready} within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, process: child, output: () => output, stop };
}

/** A console on a fresh data directory, with `args` (e.g. --registry-url) and this admin password. */
export async function startWharf(args: string[], password: string): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "wharf-e2e-server-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return start(
    wharfBin,
    ["serve", "--data-dir", dir, "--listen", `127.0.0.1:${port}`, "--site-root", siteRoot, ...args],
    { ...process.env, WHARF_ADMIN_PASSWORD: password },
    url,
    "/healthz",
    dir,
  );
}

/** A plain registry (distribution, filesystem storage, no auth, no notifications). */
export async function startRegistry(): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "wharf-e2e-registry-"));
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, "storage")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`,
  );
  return start(registryBin, ["serve", config], process.env, `http://127.0.0.1:${port}`, "/v2/", dir);
}
