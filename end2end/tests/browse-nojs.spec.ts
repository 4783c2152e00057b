import { expect, test } from "@playwright/test";
import {
  catalogRow,
  eventually,
  imageRow,
  imageRows,
  password,
  pushSynthetic,
  signIn,
  uniqueRepository,
} from "./helpers";

// The same pages with JavaScript off: everything is rendered on the server, and the search and
// tag filter are plain GET forms.
test.use({ javaScriptEnabled: false });

const SOURCE = "https://example.com/x";

test("catalog, search form, repository and manifest pages render without JavaScript", async ({ page }) => {
  const base = uniqueRepository("nojs-browse");
  const token = base.split("/")[1];
  const alpha = `${base}-alpha`;
  const beta = `${base}-beta`;
  const digest = pushSynthetic(alpha, "1.0", {
    platforms: ["linux/amd64", "linux/arm64"],
    format: "docker",
    labels: { "org.opencontainers.image.source": SOURCE },
  });
  pushSynthetic(alpha, "edge");
  pushSynthetic(beta, "1.0");
  await signIn(page);

  await eventually(page, `/?q=${token}`, async () => {
    await expect(catalogRow(page, alpha).locator("td").nth(1)).toHaveText("2", { timeout: 1_000 });
    await expect(catalogRow(page, beta)).toBeVisible({ timeout: 1_000 });
  });
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(2);
  await expect(catalogRow(page, alpha).locator("code.pull")).toHaveText(new RegExp(`/${alpha}$`));

  // The search form submits as a GET.
  await page.goto("/");
  await page.getByLabel("Search repositories").fill(`${token}-alpha`);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]q=${token}-alpha(&|$)`));
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(1);
  await expect(catalogRow(page, alpha)).toBeVisible();
  await expect(page.locator(".totals")).toHaveText(/^1 of [\d,]+ repositor(y|ies) matches$/);

  // Sort links are plain links.
  await page.goto(`/?q=${token}`);
  await page.getByRole("navigation", { name: "Sort by" }).getByRole("link", { name: "Tags", exact: true }).click();
  await expect(page).toHaveURL(/[?&]sort=tags(&|$)/);
  await expect(page.locator("table.catalog tbody tr td.name a")).toHaveText([alpha, beta]);

  // The repository page: one row per digest, platforms, labels, pull commands.
  await catalogRow(page, alpha).getByRole("link", { name: alpha, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${alpha}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(alpha);
  await expect(imageRows(page)).toHaveCount(2);
  const row = imageRow(page, "1.0");
  await expect(row.locator("span.platform")).toHaveCount(2);
  await expect(row.locator("td.platforms")).toContainText("linux/arm64");
  await expect(row.locator("td.num")).toHaveText(/^\d+(\.\d)? (B|KiB|MiB)$/);
  await expect(row.locator("td").nth(4)).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  await expect(page.locator("dl.labels").getByRole("link", { name: SOURCE })).toHaveAttribute("href", SOURCE);
  await expect(page.getByRole("region", { name: "Pull commands" })).toContainText(`docker pull `);

  // The tag filter submits as a GET.
  await page.getByLabel("Filter tags").fill("edge");
  await page.getByRole("button", { name: "Filter", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${alpha}\\?filter=edge$`));
  await expect(imageRows(page)).toHaveCount(1);
  await expect(imageRows(page).locator("span.tag")).toHaveText(["edge"]);

  // Manifest pages.
  await page.goto(`/r/${alpha}`);
  await imageRow(page, "1.0").locator("td.digest a").click();
  await expect(page).toHaveURL(new RegExp(`/r/${alpha}@${digest}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Multi-platform image");
  await expect(page.getByRole("heading", { name: "Platforms" })).toBeVisible();
  await expect(page.locator("table.platforms tbody tr")).toHaveCount(2);
  await page.locator("table.platforms tbody tr").filter({ hasText: "linux/amd64" }).getByRole("link").click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Image");
  await expect(page.getByRole("heading", { name: "History" })).toBeVisible();
  await expect(page.getByRole("heading", { name: /^Layers/ })).toBeVisible();
  await expect(page.locator("table.layers tbody tr")).toHaveCount(2);
  await expect(page.getByRole("heading", { name: "Raw manifest" })).toBeVisible();
  await expect(page.locator("pre.raw-json")).toContainText('"layers"');

  // Not found, without JavaScript too.
  const response = await page.goto(`/r/${alpha}-missing`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

// The search box and the hidden sort/ns inputs get their values through `prop:value`, which the
// server does not render (app/src/pages/catalog.rs SearchBar, repository.rs TagFilter).
test("without JavaScript the search form keeps the query in the box and the chosen sort", async ({ page }) => {
  const repository = uniqueRepository("nojs-form");
  const token = repository.split("/")[1];
  pushSynthetic(repository, "1.0");
  await signIn(page);
  await eventually(page, `/?q=${token}&sort=tags`, async () => {
    await expect(catalogRow(page, repository)).toBeVisible({ timeout: 1_000 });
  });
  // The box shows what was searched for, and the form carries the sort order.
  // (Server-rendered HTML without scripts: nothing changes later, so short waits suffice.)
  await expect.soft(page.getByLabel("Search repositories")).toHaveValue(token, { timeout: 2_000 });
  await expect.soft(page.locator('form[role="search"] input[name="sort"]')).toHaveValue("tags", { timeout: 2_000 });
  // Submitting a new search keeps the sort order.
  await page.getByLabel("Search repositories").fill(token);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]q=${token}(&|$)`));
  await expect.soft(page).toHaveURL(/[?&]sort=tags(&|$)/, { timeout: 2_000 });

  // The same for the tag filter of a repository page.
  await page.goto(`/r/${repository}?filter=1.0`);
  await expect(imageRow(page, "1.0")).toBeVisible();
  await expect(page.getByLabel("Filter tags")).toHaveValue("1.0", { timeout: 2_000 });
});

// The hidden `next` input of the sign-in form is set with `prop:value` (app/src/pages/login.rs),
// which the server does not render.
test("without JavaScript, signing in from a page that asked for it returns to that page", async ({ page }) => {
  await page.goto("/events");
  await expect(page.getByText("Sign in to see this page.")).toBeVisible();
  await page.locator(".signin-needed").getByRole("link", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fevents|\/login\?next=\/events/);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/events$/, { timeout: 5_000 });
  await expect(page.getByRole("heading", { name: "Registry events" })).toBeVisible();
});
