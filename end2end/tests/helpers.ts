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
