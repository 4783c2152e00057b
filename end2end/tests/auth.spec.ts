import { expect, test } from "@playwright/test";
import { password, signIn, submitSignIn } from "./helpers";

test("sign in with the admin password reaches the catalog", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".account .user")).toHaveText("admin");
  for (const section of ["Catalog", "Events", "Webhooks", "Access", "Settings"]) {
    await expect(page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: section })).toBeVisible();
  }
});

test("a wrong password shows an error and stays on the sign-in page", async ({ page }) => {
  await submitSignIn(page, "admin", "not-the-password");
  await expect(page.getByRole("alert")).toContainText("Wrong user name or password");
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("pages ask for sign-in first", async ({ page }) => {
  await page.goto("/events");
  await expect(page.getByText("Sign in to see this page.")).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);
});

test("sign out returns to the signed-out state", async ({ page }) => {
  await signIn(page);
  await expect(page.locator(".account .user")).toHaveText("admin");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  // The session is gone on the server too, not just in the page.
  await page.goto("/");
  await expect(page.getByText("Sign in to see this page.")).toBeVisible();
});

test("the password is never shown in a page", async ({ page }) => {
  await signIn(page);
  expect(await page.content()).not.toContain(password);
  await page.goto("/events");
  expect(await page.content()).not.toContain(password);
});
