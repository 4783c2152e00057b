import { expect, test } from "@playwright/test";
import { submitSignIn } from "./helpers";
import { freePort, startWharf, type Started } from "./servers";

// A second server of its own whose registry (--registry-url) does not answer: the catalog must say
// so instead of failing. The main server of the other tests is left alone.
const password = "registry-down-test-password";

let server: Started | undefined;
let baseURL = "";

test.beforeAll(async () => {
  const deadPort = await freePort(); // nothing listens there
  server = await startWharf(["--registry-url", `http://127.0.0.1:${deadPort}`], password);
  baseURL = server.url;
});

test.afterAll(async () => {
  await server?.stop();
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
