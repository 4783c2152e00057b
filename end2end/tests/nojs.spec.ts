import { expect, test } from "@playwright/test";
import { skopeoPush, signIn, submitSignIn, uniqueRepository } from "./helpers";

// The server renders every page: sign-in and the catalog work as plain HTML forms and tables.
test.use({ javaScriptEnabled: false });

test("sign-in form and catalog work without JavaScript", async ({ page }) => {
  const repository = uniqueRepository("nojs");
  skopeoPush(repository, "2.0");
  await signIn(page);
  // The push event may still be on its way: reload a bounded number of times.
  await expect(async () => {
    await page.goto("/");
    await expect(page.getByRole("cell", { name: repository, exact: true })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000, intervals: [250, 500, 1000] });
});

test("a wrong password shows the error without JavaScript", async ({ page }) => {
  await submitSignIn(page, "admin", "wrong-again");
  await expect(page.getByRole("alert")).toContainText("Wrong user name or password");
  await expect(page).toHaveURL(/\/login/);
});

test("a token created without JavaScript is shown once", async ({ page }) => {
  await signIn(page);
  await page.goto("/profile");
  const name = `nojs-${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Expires in days (0: never)").fill("1");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page).toHaveURL(/\/profile/);
  await expect(page.locator(".secret-once code.secret-value")).toHaveText(/^wharf_pat_[A-Za-z0-9_-]{40,}$/);
  await expect(page.getByRole("cell", { name, exact: true })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("cell", { name, exact: true })).toBeVisible();
  await expect(page.locator(".secret-once")).toHaveCount(0);
});
