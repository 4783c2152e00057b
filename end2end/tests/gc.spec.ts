import { expect, test, type Locator, type Page } from "@playwright/test";
import { eventually, gotoLive, imageRow, pushSynthetic, signIn, uniqueRepository } from "./helpers";

// Garbage collection from the console (administrator, JavaScript on): a deleted image's blobs are
// listed by a dry run and removed by a collection; the history follows live; the schedule form
// saves a cron line and refuses a bad one.

/** The newest run in the history. */
function newestRun(page: Page): Locator {
  return page.locator("table.gc-runs tbody tr").first();
}

/** Deletes the image tagged `tag` from its repository page, as delete.spec.ts does. */
async function deleteImage(page: Page, repository: string, tag: string) {
  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRow(page, tag)).toHaveCount(1, { timeout: 1_000 });
  });
  await gotoLive(page, `/r/${repository}`);
  const row = imageRow(page, tag);
  await row.locator("details.delete summary").click();
  const form = row.locator("form").filter({ has: page.getByRole("button", { name: "Delete image" }) });
  await form.getByRole("textbox").fill(tag);
  await form.getByRole("button", { name: "Delete image" }).click();
  await expect(page.locator(".banner-ok")).toContainText("garbage collection");
}

test("dry run, collection, history, log and schedule", async ({ page }) => {
  const gone = uniqueRepository("gc-gone");
  const digest = pushSynthetic(gone, "1.0");
  await signIn(page);
  await deleteImage(page, gone, "1.0");

  await gotoLive(page, "/housekeeping/gc");
  await expect(page.getByRole("navigation", { name: "Housekeeping" }).getByRole("link", { name: "Garbage collection" }))
    .toHaveAttribute("aria-current", "page");

  // The dry run lists the deleted image's manifest among the blobs it would remove.
  await page.getByText("Dry run…").click();
  await page.getByRole("button", { name: "Start the dry run" }).click();
  await expect(newestRun(page)).toContainText("dry run", { timeout: 30_000 });
  await expect(newestRun(page)).toContainText("succeeded", { timeout: 30_000 });
  await newestRun(page).getByRole("link", { name: "Log" }).click();
  await expect(page.getByRole("heading", { name: "Collector log" })).toBeVisible();
  await expect(page.locator(".gc-blobs")).toContainText(digest);
  await expect(page.locator("pre.gc-log")).toContainText(`blob eligible for deletion: ${digest}`);

  // The collection: the page follows it to its end without a reload, and shows the bytes freed.
  await gotoLive(page, "/housekeeping/gc");
  await page.getByText("Collect garbage…").click();
  await page.getByRole("button", { name: "Collect now" }).click();
  await expect(newestRun(page)).toContainText("collection", { timeout: 30_000 });
  await expect(newestRun(page)).toContainText("succeeded", { timeout: 60_000 });
  await expect(newestRun(page).locator("td.number").last()).toContainText(/B$/);
  await expect(page.locator(".gc-status")).toHaveText("No collection is running.");

  // A collected blob is gone: the next dry run no longer names it.
  await page.getByText("Dry run…").click();
  await page.getByRole("button", { name: "Start the dry run" }).click();
  await expect(newestRun(page)).toContainText("dry run", { timeout: 30_000 });
  await expect(newestRun(page)).toContainText("succeeded", { timeout: 30_000 });
  await newestRun(page).getByRole("link", { name: "Log" }).click();
  await expect(page.getByRole("heading", { name: "Collector log" })).toBeVisible();
  await expect(page.locator("section.gc-run")).not.toContainText(digest);

  // The schedule: a bad line is refused with the reason, a good one shows its next run.
  await gotoLive(page, "/housekeeping/gc");
  const schedule = page.getByLabel("Schedule");
  await schedule.fill("every night");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.locator(".banner-error")).toContainText("not a cron schedule");
  await schedule.fill("0 3 * * 0");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.locator(".gc-next")).toContainText("Next run at");
  await page.getByLabel("Schedule").fill("");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.locator(".gc-next")).toContainText("No schedule");
});
