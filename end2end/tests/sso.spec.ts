import { spawn, type ChildProcess } from "node:child_process";
import { expect, test, type Page } from "@playwright/test";
import { gotoLive, submitSignIn } from "./helpers";
import { freePort, startWharf, type Started } from "./servers";

// Single sign-on in a real browser with JavaScript on: a server of its own (its registry does not
// answer: not needed here) and oauth2-mock-server (oidc/provider.mjs) as the provider, which signs
// in `oidc-user` at once when the browser carries no login hint. The buttons lead to server
// routes (/auth/sso/...): once the app has hydrated, the in-browser router must leave them alone.
const password = "sso-test-password";

let server: Started | undefined;
let provider: ChildProcess | undefined;
let issuer = "";

function startProvider(): Promise<string> {
  const child = spawn("node", ["oidc/provider.mjs"], { stdio: ["ignore", "pipe", "inherit"] });
  provider = child;
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`the provider did not start within 30 s: ${output}`)), 30_000);
    child.stdout?.on("data", (chunk) => {
      output += chunk;
      const found = output.match(/^issuer (\S+)$/m);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`the provider exited with ${code}: ${output}`)));
  });
}

test.beforeAll(async () => {
  const deadPort = await freePort();
  server = await startWharf(["--registry-url", `http://127.0.0.1:${deadPort}`], password);
  issuer = await startProvider();
});

test.afterAll(async () => {
  provider?.kill("SIGTERM");
  await server?.stop();
});

/** Signs in as admin and opens Access → Single sign-on, hydrated (its live stream connected). */
async function openSsoSettings(page: Page, path = "/access?tab=sso") {
  const origin = server!.url;
  await submitSignIn(page, "admin", password, origin);
  await expect(page).not.toHaveURL(/\/login/);
  await gotoLive(page, `${origin}${path}`);
}

/** Turns single sign-on on through the settings form. */
async function enableSso(page: Page) {
  await openSsoSettings(page);
  await page.getByLabel("Offer single sign-on on the sign-in page").check();
  await page.getByLabel("Issuer URL").fill(issuer);
  await page.getByLabel("Client ID").fill("wharf");
  await page.getByLabel(/Client secret/).fill("client-secret");
  await page.getByLabel("Button text").fill("Mock IdP");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
}

test("the sign-in page's single sign-on button signs in once the app has hydrated", async ({ page, browser }) => {
  await enableSso(page);
  const context = await browser.newContext();
  const visitor = await context.newPage();
  const origin = server!.url;
  // A client-side navigation keeps `window`'s state, a full load does not: reaching the sign-in
  // page with the mark still set proves the app hydrated and its router is in charge.
  await expect(async () => {
    await visitor.goto(`${origin}/`);
    await visitor.evaluate(() => ((window as unknown as { wharfMark: boolean }).wharfMark = true));
    await visitor.getByRole("link", { name: "Sign in", exact: true }).first().click();
    await expect(visitor).toHaveURL(/\/login$/);
    expect(await visitor.evaluate(() => (window as unknown as { wharfMark?: boolean }).wharfMark)).toBe(true);
  }).toPass({ timeout: 30_000, intervals: [500, 1000] });

  await visitor.getByRole("link", { name: "Sign in with Mock IdP" }).click();
  await expect(visitor).toHaveURL(`${origin}/`);
  await expect(visitor.locator(".account .user")).toHaveText("oidc-user");
  await expect(visitor.getByText("Page not found")).toHaveCount(0);
  await context.close();
});

test("a test sign-in shows its result exactly once, every time", async ({ page }) => {
  await enableSso(page);
  const fetches: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/sso_settings") fetches.push(request.url());
  });
  // Settings requests started and not yet ended (one that started before these listeners and
  // ends after them is not counted).
  const inFlight = new Set<object>();
  page.on("request", (r) => r.url().includes("/api/sso_settings") && inFlight.add(r));
  page.on("requestfinished", (r) => inFlight.delete(r));
  page.on("requestfailed", (r) => inFlight.delete(r));
  const perRun: number[] = [];
  for (let run = 0; run < 6; run++) {
    fetches.length = 0;
    // Clicked on the hydrated page (its live stream connected); lands on it again, hydrated.
    const stream = page.waitForResponse((r) => r.url().endsWith("/api/stream") && r.status() === 200);
    await page.getByRole("link", { name: "Test sign-in" }).click();
    await expect(page).toHaveURL(/\/access\?tab=sso&test=[0-9a-f]{32}$/);
    await stream;
    await expect.poll(() => inFlight.size, { timeout: 10_000 }).toBe(0);
    const result = page.locator(".test-result");
    await expect(result).toHaveCount(1);
    await expect(result).toContainText("Test sign-in worked.");
    await expect(result).toContainText("User name: oidc-user");
    await expect(page.getByText("Page not found")).toHaveCount(0);
    perRun.push(fetches.length);
  }
  // How often the browser fetched the settings after landing (0: the server's render was used).
  test.info().annotations.push({ type: "sso_settings fetches per landing", description: perRun.join(",") });
});
