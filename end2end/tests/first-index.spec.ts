import { execFile } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import { promisify } from "node:util";
import { expect, test } from "@playwright/test";
import { submitSignIn } from "./helpers";
import { freePort, startRegistry, startWharf, type Started } from "./servers";

// The first index of a registry, as a new user sees it: a console of its own reads a registry of
// REPOSITORIES repositories through a proxy that holds every tag list after the HELD_AFTER-th, so
// the index stops half-way for as long as the test looks at it; then the proxy lets go.
const wharfBin = process.env.WHARF_E2E_BIN ?? "wharf";
const password = "first-index-test-password";
const REPOSITORIES = 40;
const HELD_AFTER = 20;

let registry: Started | undefined;
let wharf: Started | undefined;
let proxy: Server | undefined;
const held: Array<() => void> = [];
let holding = true;

/** Forwards everything to the registry; tag lists after the HELD_AFTER-th wait while `holding`. */
async function startProxy(target: string): Promise<string> {
  const port = await freePort();
  let tagLists = 0;
  proxy = createServer((incoming, outgoing) => {
    const forward = () => {
      const upstream = request(
        `${target}${incoming.url}`,
        { method: incoming.method, headers: incoming.headers },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      upstream.on("error", () => outgoing.destroy());
      incoming.pipe(upstream);
    };
    if (incoming.url?.includes("/tags/list")) {
      tagLists += 1;
      if (holding && tagLists > HELD_AFTER) {
        held.push(forward);
        return;
      }
    }
    forward();
  });
  await new Promise<void>((resolve) => proxy?.listen(port, "127.0.0.1", resolve));
  return `http://127.0.0.1:${port}`;
}

function release() {
  holding = false;
  for (const go of held.splice(0)) go();
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  registry = await startRegistry();
  const push = promisify(execFile);
  const names = Array.from({ length: REPOSITORIES }, (_, i) => `first/app-${String(i).padStart(2, "0")}`);
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(
      names.slice(i, i + 8).map((repository) =>
        push(
          wharfBin,
          ["push-synthetic", "--registry", registry!.url, "--repository", repository, "--tag", "1", "--layers", "1", "--layer-size", "64"],
          { timeout: 60_000 },
        ),
      ),
    );
  }
  const proxied = await startProxy(registry.url);
  // One repository at a time, so the index stops exactly at HELD_AFTER.
  wharf = await startWharf(["--registry-url", proxied, "--registry-concurrency", "1"], password);
});

test.afterAll(async () => {
  release();
  await wharf?.stop();
  await registry?.stop();
  proxy?.close();
});

test("the first index shows its progress on the catalog and Settings, live, then the whole catalog", async ({ page }) => {
  await submitSignIn(page, "admin", password, wharf!.url);
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();

  // Half-way: the banner with its bar, what is indexed so far, and the rest still coming.
  const banner = page.locator(".banner.indexing");
  await expect(banner).toContainText("building its index");
  await expect(banner).toContainText(`Indexing ${HELD_AFTER} of ${REPOSITORIES} repositories`);
  await expect(banner).toContainText("per second");
  await expect(banner).toContainText("left");
  const bar = banner.getByRole("progressbar", { name: "Indexing progress" });
  await expect(bar).toHaveAttribute("max", String(REPOSITORIES));
  await expect(bar).toHaveAttribute("value", String(HELD_AFTER));
  await expect(page.getByRole("link", { name: "first/app-00" })).toBeVisible();
  await expect(page.getByRole("link", { name: `first/app-${REPOSITORIES - 1}` })).toHaveCount(0);

  // Settings shows the same for any reconcile.
  await page.goto(`${wharf!.url}/settings`);
  await expect(page.locator(".banner.indexing")).toContainText(`Indexing ${HELD_AFTER} of ${REPOSITORIES} repositories`);

  // Back on the catalog, the rest arrives without a reload: the banner goes, every repository shows.
  await page.goto(`${wharf!.url}/`);
  await expect(banner).toBeVisible();
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  release();
  await expect(banner).toHaveCount(0, { timeout: 30_000 });
  await expect(page.getByRole("link", { name: `first/app-${REPOSITORIES - 1}` })).toBeVisible({ timeout: 15_000 });
  await expect(page.getByText(`${REPOSITORIES} repositories`).first()).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
});
