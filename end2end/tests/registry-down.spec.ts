import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { submitSignIn } from "./helpers";

// A second server of its own whose registry (--registry-url) does not answer: the catalog must say
// so instead of failing. The main server of the other tests is left alone.
const wharfBin = process.env.WHARF_E2E_BIN ?? "wharf";
const siteRoot = process.env.WHARF_E2E_SITE_ROOT ?? "../target/site";
const password = "registry-down-test-password";

function freePort(): Promise<number> {
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

let server: ChildProcess | undefined;
let dataDir = "";
let baseURL = "";
let output = "";

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "wharf-e2e-down-"));
  const port = await freePort();
  const deadPort = await freePort(); // nothing listens there
  baseURL = `http://127.0.0.1:${port}`;
  server = spawn(
    wharfBin,
    [
      "serve",
      "--data-dir",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--registry-url",
      `http://127.0.0.1:${deadPort}`,
      "--site-root",
      siteRoot,
    ],
    { env: { ...process.env, WHARF_ADMIN_PASSWORD: password }, stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout?.on("data", (chunk) => (output += chunk));
  server.stderr?.on("data", (chunk) => (output += chunk));
  // Bounded wait for /healthz (/readyz stays 503 on purpose).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`wharf exited with ${server.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${baseURL}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`wharf did not answer /healthz within 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once("exit", r));
    server.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill("SIGKILL");
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test("readyz names the registry when it does not answer", async ({ request }) => {
  const response = await request.get(`${baseURL}/readyz`);
  expect(response.status()).toBe(503);
  const body = await response.json();
  expect(body.database).toBe("ok");
  expect(body.registry).toBe("unavailable");
});

test("the catalog warns that the registry is down", async ({ page }) => {
  await submitSignIn(page, "admin", password, baseURL);
  // The catalog reads Wharf's index, so it still renders, with a warning that it may be stale.
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  const banner = page.locator(".banner-warning");
  await expect(banner).toBeVisible();
  await expect(banner).toHaveAttribute("role", "status");
  await expect(banner).toContainText("The registry cannot be reached");
  await expect(banner).toContainText("unreachable");
});
