import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, type Page } from "@playwright/test";

// Set by scripts/test (see playwright.config.ts).
export const password = process.env.WHARF_E2E_PASSWORD ?? "";
export const registry = process.env.WHARF_E2E_REGISTRY ?? "127.0.0.1:5000";
const wharfBin = process.env.WHARF_E2E_BIN ?? "wharf";

/** A repository name no other test (or earlier run against the same server) uses. */
export function uniqueRepository(prefix: string): string {
  return `e2e/${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Fills in and submits the sign-in form (of another server with `origin`); does not check the outcome. */
export async function submitSignIn(page: Page, user: string, pass: string, origin = "") {
  await page.goto(`${origin}/login`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Signs in as admin and waits for the catalog. */
export async function signIn(page: Page) {
  await submitSignIn(page, "admin", password);
  await expect(page).not.toHaveURL(/\/login/);
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
}

function run(file: string, args: string[], timeout: number) {
  try {
    execFileSync(file, args, { stdio: "pipe", timeout });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(
      `${file} ${args.join(" ")} failed: ${e.message}\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`,
    );
  }
}

/**
 * Pushes a generated image with skopeo, a registry client we did not write: `wharf push-synthetic`
 * writes an OCI image layout, skopeo pushes it with the admin credentials through the token server.
 */
export function skopeoPush(repository: string, tag: string) {
  const dir = mkdtempSync(join(tmpdir(), "wharf-e2e-"));
  const layout = join(dir, "layout");
  try {
    run(wharfBin, ["push-synthetic", "--repository", repository, "--tag", tag, "--oci-layout", layout], 60_000);
    run(
      "skopeo",
      [
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        `admin:${password}`,
        `oci:${layout}:${tag}`,
        `docker://${registry}/${repository}:${tag}`,
      ],
      120_000,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Opens `path` and reloads it until `check` passes, for at most `timeout` ms: the registry reports
 * pushes asynchronously. Never waits for "networkidle" (live updates keep a connection open).
 */
export async function eventually(page: Page, path: string, check: () => Promise<void>, timeout = 30_000) {
  await page.goto(path);
  let first = true;
  await expect(async () => {
    if (!first) await page.reload();
    first = false;
    await check();
  }).toPass({ timeout, intervals: [250, 500, 1000] });
}

/** Runs a program and returns its stdout; on failure the error carries stdout and stderr. */
function runOutput(file: string, args: string[], timeout: number, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(file, args, { stdio: "pipe", timeout, env: env ?? process.env }).toString();
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(
      `${file} ${args.join(" ")} failed: ${e.message}\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`,
    );
  }
}

export interface SyntheticImage {
  /** os/arch[/variant]; more than one gives a multi-platform index. */
  platforms?: string[];
  format?: "oci" | "docker";
  /** Config labels. */
  labels?: Record<string, string>;
  /** Same seed and layer count: the same layers (images that share them). */
  seed?: number;
  layers?: number;
}

/**
 * Pushes a generated image straight to the registry with `wharf push-synthetic` (multi-arch and
 * labels, which the skopeo path of `skopeoPush` does not give), as admin, to the main server's
 * registry or the one at `to` (host:port). Returns the pushed top-level digest (the index digest
 * for several platforms).
 */
export function pushSynthetic(repository: string, tag: string, image: SyntheticImage = {}, to = registry): string {
  const args = [
    "push-synthetic",
    "--registry",
    `http://${to}`,
    "--repository",
    repository,
    "--tag",
    tag,
    "--platforms",
    (image.platforms ?? ["linux/amd64"]).join(","),
    "--format",
    image.format ?? "oci",
    "--username",
    "admin",
  ];
  for (const [key, value] of Object.entries(image.labels ?? {})) args.push("--label", `${key}=${value}`);
  if (image.seed !== undefined) args.push("--seed", String(image.seed));
  if (image.layers !== undefined) args.push("--layers", String(image.layers));
  // The password goes through the environment, not the command line.
  const out = runOutput(wharfBin, args, 60_000, { ...process.env, WHARF_PUSH_PASSWORD: password });
  const digest = out.match(/sha256:[0-9a-f]{64}/)?.[0];
  if (!digest) throw new Error(`push-synthetic printed no digest: ${out}`);
  return digest;
}

/**
 * Copies `repository:from` to `repository:to` with skopeo (every platform of an index, digests
 * preserved), so both tags name the same digest.
 */
export function skopeoCopyTag(repository: string, from: string, to: string) {
  runOutput(
    "skopeo",
    [
      "copy",
      "--quiet",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      "--src-creds",
      `admin:${password}`,
      "--dest-creds",
      `admin:${password}`,
      `docker://${registry}/${repository}:${from}`,
      `docker://${registry}/${repository}:${to}`,
    ],
    120_000,
  );
}

/** The catalog row of `repository` (its name is a link in the first cell). */
export function catalogRow(page: Page, repository: string) {
  return page
    .locator("table.catalog tbody tr")
    .filter({ has: page.getByRole("link", { name: repository, exact: true }) });
}

/** The rows of the image table on a repository page. */
export function imageRows(page: Page) {
  return page.locator("table.tags tbody tr");
}

/** The image row on a repository page that carries `tag`. */
export function imageRow(page: Page, tag: string) {
  return imageRows(page).filter({ has: page.locator("span.tag", { hasText: new RegExp(`^${escapeRegExp(tag)}$`) }) });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Opens `path` once the app has hydrated and its live-update stream (/api/stream) is connected,
 * so that an index change from now on reaches the page without a reload.
 */
export async function gotoLive(page: Page, path: string) {
  // Waited for from the moment the new document is committed: a stream the previous page was
  // still connecting is gone by then, and cannot be taken for this page's hydration (which
  // needs the wasm fetched and run first, long after the commit).
  await page.goto(path, { waitUntil: "commit" });
  await page.waitForResponse((r) => r.url().endsWith("/api/stream") && r.status() === 200, {
    timeout: 15_000,
  });
}
