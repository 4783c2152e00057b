import { expect, test } from "@playwright/test";
import { eventually, gotoLive, imageRow, pushSynthetic, signIn, uniqueRepository } from "./helpers";

// Retention in the browser: create a policy, look at its dry run (what goes, what stays and why),
// run it, watch the run end without a reload, and see the history and the registry's images.

test("create a policy, see the dry run, run it, see the history", async ({ page }) => {
  const repository = uniqueRepository("retention");
  for (const tag of ["build-1", "build-2", "v1.0", "build-3"]) pushSynthetic(repository, tag);
  await signIn(page);
  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRow(page, "build-3")).toBeVisible({ timeout: 1_000 });
  });

  await gotoLive(page, "/housekeeping/retention");
  await expect(page.getByRole("heading", { name: "Retention policies" })).toBeVisible();
  await page.getByRole("link", { name: "New policy" }).first().click();
  await expect(page.getByRole("heading", { name: "New retention policy" })).toBeVisible();
  const name = `cleanup-${Date.now().toString(36)}`;
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Scope").fill(repository);
  await page.getByLabel("It is among the last").fill("1");
  await page.getByLabel("A tag matches one of these patterns").fill("v*");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();

  // The dry run: two builds would go, v1.0 and the newest build stay, each with its rule.
  await page.getByRole("button", { name: "Dry run" }).click();
  const run = page.locator("section.run");
  await expect(run.locator(".run-status")).toHaveText("done", { timeout: 30_000 });
  await expect(run.locator(".run-counts")).toContainText("Would remove 2 images");
  const items = run.locator("table.retention-items tbody tr");
  await expect(items).toHaveCount(2);
  await expect(items.filter({ hasText: "build-1" })).toContainText("no rule keeps it");
  await expect(run.getByRole("link", { name: "Download CSV" })).toHaveAttribute("href", /items\.csv$/);
  await run.getByRole("link", { name: "Kept" }).click();
  await expect(items.filter({ hasText: "v1.0" })).toContainText("tag matches v*");
  await expect(items.filter({ hasText: "build-3" })).toContainText("among the 1 most recently pushed");

  // The real run, behind a confirmation; it ends on the page without a reload.
  await page.getByText("Run now…").click();
  await page.getByRole("button", { name: "Delete what the policy removes" }).click();
  await expect(run.locator("h2")).toContainText("Run", { timeout: 30_000 });
  await expect(run.locator(".run-status")).toHaveText("done", { timeout: 30_000 });
  await expect(run.locator(".run-counts")).toContainText("Removed 2 of 2 images");
  await expect(page.locator("table.retention-runs tbody tr")).toHaveCount(2);

  // The policy's page loaded as a whole (server-rendered, then hydrated) shows the same, and
  // its tabs work in the hydrated app.
  const policyUrl = page.url().split("?")[0];
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await gotoLive(page, `${policyUrl}?show=kept`);
  await expect(run.locator(".run-counts")).toContainText("Removed 2 of 2 images");
  await expect(items.filter({ hasText: "v1.0" })).toContainText("tag matches v*");
  await run.getByRole("link", { name: "Removed" }).click();
  await expect(items.filter({ hasText: "build-1" })).toContainText("deleted");
  expect(errors.filter((text) => /panicked|hydration/i.test(text))).toEqual([]);

  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRow(page, "build-3")).toBeVisible({ timeout: 1_000 });
    await expect(imageRow(page, "build-1")).toHaveCount(0);
  });
  await expect(imageRow(page, "v1.0")).toBeVisible();
  await expect(imageRow(page, "build-2")).toHaveCount(0);
});

test("a bad pattern is refused with a message and nothing is saved", async ({ page }) => {
  await signIn(page);
  await gotoLive(page, "/housekeeping/retention/new");
  await page.getByLabel("Name").fill("bad");
  await page.getByLabel("A tag matches one of these patterns").fill("^(unclosed");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByText(/tag pattern \^\(unclosed/)).toBeVisible();
  await expect(page.getByRole("heading", { name: "New retention policy" })).toBeVisible();
});
