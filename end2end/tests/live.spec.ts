import { expect, test, type Page } from "@playwright/test";
import { catalogRow, eventually, gotoLive, imageRow, imageRows, pushSynthetic, signIn, uniqueRepository } from "./helpers";

// Live updates: an open page follows /api/stream and refetches after a push, without a reload.

/** Marks the current document; `stillSameDocument` fails if the page was reloaded since. */
async function markDocument(page: Page) {
  await page.evaluate(() => ((window as unknown as { __liveMark?: number }).__liveMark = 42));
}
async function stillSameDocument(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { __liveMark?: number }).__liveMark)).toBe(42);
}

test("a push appears in the open catalog without a reload", async ({ page }) => {
  const repository = uniqueRepository("live");
  await signIn(page);
  // Newest push first, so the new repository is on the first page however many there are.
  await gotoLive(page, "/?sort=pushed");
  await expect(catalogRow(page, repository)).toHaveCount(0);
  await markDocument(page);

  pushSynthetic(repository, "1.0");
  await expect(catalogRow(page, repository)).toBeVisible({ timeout: 20_000 });
  await expect(page.locator("table.catalog tbody tr").first()).toContainText(repository);
  await stillSameDocument(page);
});

test("a new tag appears on the open repository page without a reload", async ({ page }) => {
  const repository = uniqueRepository("live-tag");
  pushSynthetic(repository, "1.0");
  await signIn(page);
  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRow(page, "1.0")).toBeVisible({ timeout: 1_000 });
  });
  await gotoLive(page, `/r/${repository}`);
  await expect(imageRows(page)).toHaveCount(1);
  await markDocument(page);

  pushSynthetic(repository, "2.0");
  await expect(imageRow(page, "2.0")).toBeVisible({ timeout: 20_000 });
  await expect(imageRows(page)).toHaveCount(2);
  // Newest push first.
  await expect(imageRows(page).first().locator("span.tag")).toHaveText(["2.0"]);
  await expect(page.locator("p.repo-meta")).toContainText("2 tags");
  await stillSameDocument(page);
});

// Sign-out closes the EventSource, whose subscribers then see an error event: that must neither
// count as an update nor touch state of the closed stream (a wasm panic would stop the app).
test("signing out with the live stream open leaves a working page", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("panicked")) errors.push(message.text());
  });
  await signIn(page);
  await gotoLive(page, "/");
  await expect(page.locator(".account .user")).toHaveText("admin");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible({ timeout: 5_000 });
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  expect(errors).toEqual([]);
});
