import { expect, test, type Page } from "@playwright/test";
import { gotoLive, password, signIn, skopeoPush, submitSignIn, uniqueRepository } from "./helpers";

/** Creates a user on the Access page and returns the password shown once. */
async function createUser(page: Page, username: string): Promise<string> {
  // Hydrated before the form is used: a click before would post the form without JavaScript.
  await gotoLive(page, "/access?tab=users");
  await page.getByLabel("User name").fill(username);
  await page.getByRole("button", { name: "Create user" }).click();
  const secret = page.locator(".secret-once .secret-value");
  await expect(secret).toBeVisible();
  return (await secret.textContent()) ?? "";
}

test("an admin assigns a role in the UI and the user's catalog changes", async ({ browser, page }) => {
  const suffix = Date.now().toString(36);
  const visible = uniqueRepository("access-seen");
  const hidden = `hidden-${suffix}/app`;
  skopeoPush(visible, "1");
  skopeoPush(hidden, "1");

  await signIn(page);
  const username = `viewer-${suffix}`;
  const userPassword = await createUser(page, username);
  expect(userPassword.length).toBeGreaterThanOrEqual(20);

  // Signed in as the new user: no roles yet, so the catalog is empty.
  const context = await browser.newContext();
  const userPage = await context.newPage();
  await submitSignIn(userPage, username, userPassword);
  await expect(userPage.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await expect(userPage.getByRole("link", { name: visible })).toHaveCount(0);
  await expect(userPage.getByRole("link", { name: hidden })).toHaveCount(0);

  // The admin gives Reader on the e2e/ namespace.
  await gotoLive(page, "/access?tab=assignments");
  await page.getByLabel("Given to").selectOption("user");
  await page.getByLabel("Name", { exact: true }).fill(username);
  await page.getByLabel("Role").selectOption("reader");
  await page.getByLabel("Scope").fill("e2e/");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("cell", { name: `user ${username}` })).toBeVisible();

  // The user's catalog shows the e2e repository now, and still not the other namespace.
  await userPage.goto(`/?q=${encodeURIComponent(visible)}`);
  await expect(userPage.getByRole("link", { name: visible })).toBeVisible();
  await userPage.goto(`/?q=${encodeURIComponent(hidden)}`);
  await expect(userPage.getByRole("link", { name: hidden })).toHaveCount(0);
  // A page outside the grant is refused, not shown.
  await userPage.goto(`/r/${hidden}`);
  await expect(userPage.getByText("You do not have permission")).toBeVisible();
  // A reader sees no delete forms and cannot open Access.
  await userPage.goto(`/r/${visible}`);
  await expect(userPage.getByRole("heading", { name: visible })).toBeVisible();
  await expect(userPage.getByText("Delete…")).toHaveCount(0);
  await userPage.goto("/access");
  await expect(userPage.getByText("You do not have permission to manage access.")).toBeVisible();
  // Nor are the sections it may not use offered in the navigation.
  const sections = userPage.getByRole("navigation", { name: "Sections" });
  await expect(sections.getByRole("link", { name: "Catalog" })).toBeVisible();
  for (const hidden of ["Webhooks", "Access", "Audit", "Settings"]) {
    await expect(sections.getByRole("link", { name: hidden })).toHaveCount(0);
  }

  // The repository's Access tab shows who reaches it, through which scope.
  await page.goto(`/r/${visible}?tab=access`);
  const row = page.locator("table.repository-access tr", { hasText: username });
  await expect(row).toContainText("Reader");
  await expect(row).toContainText("e2e/");

  // The explainer agrees.
  await gotoLive(page, "/access?tab=why");
  await page.getByLabel("Who").selectOption("user");
  await page.getByLabel("Name", { exact: true }).fill(username);
  await page.getByLabel("Repository").fill(hidden);
  await page.getByLabel("Action").selectOption("pull");
  await page.getByRole("button", { name: "Explain" }).click();
  await expect(page.getByText(`${username} may not pull ${hidden}.`)).toBeVisible();
  await context.close();
});

test("a robot's secret is shown once with a Kubernetes pull secret, and a token on the profile", async ({ page }) => {
  await signIn(page);
  const name = `robot-e2e-${Date.now().toString(36)}`;
  await gotoLive(page, "/access?tab=robots");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Belongs to (scope)").fill("e2e/");
  await page.getByRole("button", { name: "Create robot" }).click();
  await expect(page.locator(".secret-once .secret-value")).toContainText("wharf_robot_");
  await expect(page.getByText("kubernetes.io/dockerconfigjson")).toBeVisible();
  await expect(page.getByRole("link", { name: "Download" }).first()).toHaveAttribute("download", /pull-secret/);
  // Reloading shows the robot, never its secret again.
  await page.reload();
  await expect(page.locator("td.name", { hasText: name })).toBeVisible();
  await expect(page.locator(".secret-once")).toHaveCount(0);

  const tokenName = `laptop-${Date.now().toString(36)}`;
  await gotoLive(page, "/profile");
  await page.getByLabel("Name").fill(tokenName);
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.locator(".secret-once .secret-value")).toContainText("wharf_pat_");
  await expect(page.getByRole("cell", { name: tokenName })).toBeVisible();

  // Administrators see every user's tokens on Access → Tokens, and revoke them there.
  await gotoLive(page, "/access?tab=tokens");
  const tokenRow = page.locator("table.tokens tr", { hasText: tokenName });
  await expect(tokenRow).toContainText("admin");
  await tokenRow.getByText("Revoke…").click();
  await tokenRow.getByRole("button", { name: `Revoke ${tokenName} of admin` }).click();
  await expect(page.locator("table.tokens tr", { hasText: tokenName })).toHaveCount(0);
});

test("a cross-origin POST is refused, and sign-in never redirects off Wharf", async ({ page, baseURL }) => {
  await signIn(page);
  // The page's own cookies, sent from another origin: refused.
  const forged = await page.request.post("/api/resync", { headers: { origin: "http://evil.example" } });
  expect(forged.status()).toBe(403);
  const sameSite = await page.request.post("/api/resync", { headers: { "sec-fetch-site": "same-site" } });
  expect(sameSite.status()).toBe(403);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();

  for (const next of ["//evil.example/", "/\t/evil.example", "https://evil.example/"]) {
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel("User name").fill("admin");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(new URL(baseURL ?? "").origin);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  }
});
