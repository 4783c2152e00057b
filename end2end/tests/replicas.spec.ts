import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { catalogRow, gotoLive, password, pushSynthetic, submitSignIn, uniqueRepository } from "./helpers";
import { freePort, startWharf } from "./servers";

// Two replicas on one PostgreSQL database: A runs the registry and takes its notifications, B
// only serves pages. A page open on B follows a push that A took in, without a reload.
const postgres = process.env.WHARF_TEST_POSTGRES_URL;

/** A new, empty database on the test PostgreSQL server; its URL. */
function createDatabase(server: string): string {
  const name = `wharf_e2e_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  execFileSync("psql", [server, "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`], {
    stdio: "pipe",
    timeout: 30_000,
  });
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

test("a page open on one replica shows a push the other replica took in", async ({ page }) => {
  test.skip(!postgres, "needs WHARF_TEST_POSTGRES_URL (scripts/test starts a PostgreSQL)");
  const database = createDatabase(postgres!);
  const registryAddr = `127.0.0.1:${await freePort()}`;
  const common = ["--database-url", database, "--reconcile-interval", "0"];
  const a = await startWharf([...common, "--registry-listen", registryAddr], password);
  try {
    const b = await startWharf([...common, "--registry-url", `http://${registryAddr}`], password);
    try {
      await submitSignIn(page, "admin", password, b.url);
      await expect(page).not.toHaveURL(/\/login/);
      const repository = uniqueRepository("replica");
      await gotoLive(page, `${b.url}/?sort=pushed`);
      await expect(catalogRow(page, repository)).toHaveCount(0);

      pushSynthetic(repository, "1.0", {}, registryAddr);
      await expect(catalogRow(page, repository)).toBeVisible({ timeout: 20_000 });
      expect(a.output()).toContain("Created user admin");
      expect(b.output()).not.toContain("Created user admin");
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
  }
});
