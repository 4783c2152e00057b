import { expect, test, type Locator, type Page } from "@playwright/test";
import { eventually, gotoLive, imageRow, imageRows, pushSynthetic, signIn, skopeoCopyTag, uniqueRepository } from "./helpers";

// Deleting tags and images from a repository page (signed in as admin, JavaScript on).

/** Pushes `repository:1.0`, copies it to `:stable`, and opens the page once both show on one row. */
async function twoTagsOnOneDigest(page: Page, repository: string): Promise<string> {
  const digest = pushSynthetic(repository, "1.0");
  skopeoCopyTag(repository, "1.0", "stable");
  await signIn(page);
  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRow(page, "1.0").locator("span.tag")).toHaveText(["1.0", "stable"], { timeout: 1_000 });
  });
  await gotoLive(page, `/r/${repository}`);
  await expect(imageRows(page)).toHaveCount(1);
  return digest;
}

/** Opens the "Delete…" panel of a row. */
async function openDelete(row: Locator) {
  await row.locator("details.delete summary").click();
  await expect(row.locator("details.delete")).toHaveAttribute("open", "");
}

function imageForm(row: Locator) {
  return row.locator("form").filter({ has: row.page().getByRole("button", { name: "Delete image" }) });
}

test("delete one of two tags, then the image", async ({ page }) => {
  const repository = uniqueRepository("delete");
  const digest = await twoTagsOnOneDigest(page, repository);

  // Delete the tag "stable": the image keeps "1.0".
  let row = imageRow(page, "stable");
  await openDelete(row);
  await row.getByLabel("Type stable to confirm").fill("stable");
  await row.getByRole("button", { name: "Delete tag stable" }).click();
  const ok = page.locator(".banner-ok");
  await expect(ok).toContainText(`Deleted the tag ${repository}:stable`);
  await expect(ok).toContainText("garbage collection");
  await expect(imageRows(page)).toHaveCount(1);
  await expect(imageRows(page).first().locator("span.tag")).toHaveText(["1.0"]);
  await expect(imageRows(page).first().locator("td.digest a")).toHaveText(digest.slice(0, 19));

  // It stays deleted on a fresh load.
  await gotoLive(page, `/r/${repository}`);
  await expect(imageRows(page).first().locator("span.tag")).toHaveText(["1.0"]);
  await expect(page.locator("span.tag", { hasText: "stable" })).toHaveCount(0);

  // Delete the image, confirmed with its remaining tag: the row goes.
  row = imageRow(page, "1.0");
  await openDelete(row);
  await imageForm(row).getByRole("textbox").fill("1.0");
  await imageForm(row).getByRole("button", { name: "Delete image" }).click();
  await expect(ok).toContainText(`Deleted ${digest} from ${repository}`);
  await expect(ok).toContainText("garbage collection");
  await expect(imageRow(page, "1.0")).toHaveCount(0);
  await expect(page.getByText("This repository has no tags.")).toBeVisible();

  // The registry agrees: no tag is left after a reload either.
  await page.reload();
  await expect(page.locator("span.tag")).toHaveCount(0);
});

test("a wrong confirmation deletes nothing", async ({ page }) => {
  const repository = uniqueRepository("delete-wrong");
  await twoTagsOnOneDigest(page, repository);
  const row = imageRow(page, "1.0");
  await openDelete(row);

  // The image form: the server refuses and says nothing was deleted.
  await imageForm(row).getByRole("textbox").fill("latest");
  await imageForm(row).getByRole("button", { name: "Delete image" }).click();
  const error = page.locator(".banner-error");
  await expect(error).toContainText("nothing was deleted");
  await expect(error).toContainText("Type 1.0 to confirm");
  await expect(page.locator(".banner-ok")).toHaveCount(0);

  // A tag form with the wrong text does not even submit (the browser checks the pattern).
  const stable = imageRow(page, "stable");
  if (!(await stable.locator("details.delete").getAttribute("open"))) await openDelete(stable);
  const input = stable.getByLabel("Type stable to confirm");
  await input.fill("stabl");
  await stable.getByRole("button", { name: "Delete tag stable" }).click();
  expect(await input.evaluate((el: HTMLInputElement) => el.validity.patternMismatch)).toBe(true);
  await expect(page.locator(".banner-ok")).toHaveCount(0);

  // Both tags are still there after a reload.
  await page.reload();
  await expect(imageRows(page)).toHaveCount(1);
  await expect(imageRow(page, "1.0").locator("span.tag")).toHaveText(["1.0", "stable"]);
});
