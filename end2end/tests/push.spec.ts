import { expect, test } from "@playwright/test";
import { eventually, registry, signIn, skopeoPush, uniqueRepository } from "./helpers";

test("a skopeo push shows in the catalog and on the Events page", async ({ page }) => {
  const repository = uniqueRepository("pushed");
  skopeoPush(repository, "1.0");
  await signIn(page);

  await eventually(page, "/", async () => {
    await expect(page.getByRole("cell", { name: repository, exact: true })).toBeVisible({ timeout: 1_000 });
  });
  await expect(page.getByText(`${registry}/${repository}`)).toBeVisible();

  // The manifest push of tag 1.0, by admin (the token subject), newest first.
  const pushRow = page
    .getByRole("row")
    .filter({ has: page.getByRole("cell", { name: repository, exact: true }) })
    .filter({ has: page.getByRole("cell", { name: "1.0", exact: true }) });
  await eventually(page, "/events", async () => {
    await expect(pushRow.first()).toBeVisible({ timeout: 1_000 });
  });
  await expect(pushRow.first()).toContainText("push");
  await expect(pushRow.first()).toContainText("admin");
  await expect(pushRow.first()).toContainText("sha256:");
});

test("navigation between sections works after hydration", async ({ page }) => {
  await signIn(page);
  await page.getByRole("link", { name: "Events" }).click();
  await expect(page.getByRole("heading", { name: "Registry events" })).toBeVisible();
  await expect(page).toHaveURL(/\/events$/);
  await page.getByRole("link", { name: "Webhooks" }).click();
  await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();
  await page.getByRole("link", { name: "Catalog" }).click();
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
});
