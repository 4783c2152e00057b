import { expect, test } from "@playwright/test";
import {
  catalogRow,
  eventually,
  gotoLive,
  imageRow,
  imageRows,
  pushSynthetic,
  signIn,
  skopeoCopyTag,
  uniqueRepository,
} from "./helpers";

// Browsing with JavaScript on: the catalog (search as you type, history, sort), a repository
// page (multi-arch rows, labels, grouped tags, tag filter) and the manifest pages.

const SOURCE = "https://example.com/x";
const XSS = "<script>window.__xss=1</script>";

test("catalog: search as you type, sort and opening a repository", async ({ page }) => {
  const base = uniqueRepository("browse");
  const token = base.split("/")[1];
  const alpha = `${base}-alpha`;
  const beta = `${base}-beta`;
  pushSynthetic(alpha, "1.0");
  pushSynthetic(beta, "1.0");
  pushSynthetic(beta, "2.0");
  await signIn(page);

  // Both repositories are in the index (pushes are reported asynchronously), beta with 2 tags.
  await eventually(page, `/?q=${token}`, async () => {
    await expect(catalogRow(page, alpha)).toBeVisible({ timeout: 1_000 });
    await expect(catalogRow(page, beta).locator("td").nth(1)).toHaveText("2", { timeout: 1_000 });
  });

  // The plain catalog (hydrated): search as you type.
  await gotoLive(page, "/");
  await expect(catalogRow(page, alpha)).toBeVisible();
  await expect(page.locator(".totals")).toHaveText(/^[\d,]+ repositor(y|ies)$/);
  const search = page.getByLabel("Search repositories");
  await search.fill(token);
  await expect(page).toHaveURL(new RegExp(`/\\?q=${token}$`));
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(2);
  await expect(page.locator(".totals")).toHaveText(/^2 of [\d,]+ repositories match$/);

  // Narrow to one.
  await search.fill(`${token}-alpha`);
  await expect(page).toHaveURL(new RegExp(`/\\?q=${token}-alpha$`));
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(1);
  await expect(catalogRow(page, alpha)).toBeVisible();
  await expect(catalogRow(page, beta)).toHaveCount(0);
  await expect(page.locator(".totals")).toHaveText(/^1 of [\d,]+ repositor(y|ies) matches$/);

  // Nothing matches: a hint and a way back.
  await search.fill(`${token}-gamma`);
  await expect(page.getByText("No repository matches.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Clear the search" })).toHaveAttribute("href", "/");

  // Sort by tags, within the search: beta (2 tags) before alpha (1).
  await page.goto(`/?q=${token}`);
  await page.getByRole("navigation", { name: "Sort by" }).getByRole("link", { name: "Tags", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]sort=tags(&|$)`));
  await expect(page).toHaveURL(new RegExp(`[?&]q=${token}(&|$)`));
  const names = page.locator("table.catalog tbody tr td.name a");
  await expect(names).toHaveText([beta, alpha]);
  await expect(
    page.getByRole("navigation", { name: "Sort by" }).getByRole("link", { name: "Tags", exact: true }),
  ).toHaveAttribute("aria-current", "true");

  // Sort links are history entries: back returns to the name order, forward to the tag order.
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`/\\?q=${token}$`));
  await expect(names).toHaveText([alpha, beta]);
  await page.goForward();
  await expect(page).toHaveURL(new RegExp(`[?&]sort=tags(&|$)`));
  await expect(names).toHaveText([beta, alpha]);

  // Open a repository from its row.
  await catalogRow(page, alpha).getByRole("link", { name: alpha, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${alpha}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(alpha);
  await expect(imageRow(page, "1.0")).toBeVisible();
});

test("repository page: multi-arch row, labels, grouped tags, tag filter and manifest pages", async ({ page }) => {
  const repository = uniqueRepository("multi");
  const digest = pushSynthetic(repository, "1.0", {
    platforms: ["linux/amd64", "linux/arm64"],
    labels: {
      "org.opencontainers.image.source": SOURCE,
      "org.opencontainers.image.description": XSS,
    },
  });
  skopeoCopyTag(repository, "1.0", "2.0");
  pushSynthetic(repository, "other");
  await signIn(page);

  await eventually(page, `/r/${repository}`, async () => {
    await expect(imageRows(page)).toHaveCount(2, { timeout: 1_000 });
    await expect(imageRow(page, "1.0").locator("span.tag")).toHaveCount(2, { timeout: 1_000 });
  });

  // Two tags on one digest: one row carrying both.
  const row = imageRow(page, "1.0");
  await expect(row.locator("span.tag")).toHaveText(["1.0", "2.0"]);
  await expect(imageRow(page, "2.0")).toHaveCount(1);
  await expect(imageRow(page, "other")).toHaveCount(1);
  await expect(imageRow(page, "other").locator("span.tag")).toHaveText(["other"]);

  // Platforms, size, created, pushed.
  await expect(row.locator("span.platform")).toHaveCount(2);
  await expect(row.locator("td.platforms")).toContainText("linux/amd64");
  await expect(row.locator("td.platforms")).toContainText("linux/arm64");
  await expect(row.locator("td.num")).toHaveText(/^\d+(\.\d)? (B|KiB|MiB)$/);
  await expect(row.locator("td").nth(4)).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  await expect(row.locator("td").nth(5).locator("time")).toHaveText(/^(just now|1 minute ago)$/);
  await expect(row.locator("td").nth(5).locator("time")).toHaveAttribute("title", /\d\d:\d\d/);
  await expect(row.locator("td.digest a")).toHaveText(digest.slice(0, 19));
  await expect(row.getByRole("button", { name: "Copy to the clipboard" })).toBeVisible();

  // Labels: the source is a link, the description is text and never runs.
  const labels = page.locator("dl.labels");
  await expect(labels.getByRole("link", { name: SOURCE })).toHaveAttribute("href", SOURCE);
  await expect(labels.getByText(XSS, { exact: true })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();

  // Pull commands by tag of the newest image, and a Kubernetes Deployment.
  const pull = page.getByRole("region", { name: "Pull commands" });
  await expect(pull.getByText(`docker pull `, { exact: false }).first()).toContainText(repository);
  await pull.getByText("Kubernetes Deployment").click();
  await expect(pull.locator("pre.yaml")).toContainText("kind: Deployment");

  // The tag filter narrows the rows as you type, and keeps the grouped tags of a match.
  await gotoLive(page, `/r/${repository}`);
  await page.getByLabel("Filter tags").fill("2.0");
  await expect(page).toHaveURL(new RegExp(`/r/${repository}\\?filter=2\\.0$`));
  await expect(imageRows(page)).toHaveCount(1);
  await expect(imageRows(page).first().locator("span.tag")).toHaveText(["1.0", "2.0"]);
  await page.getByLabel("Filter tags").fill("nothing-like-this");
  await expect(page.getByText("No tag matches the filter.")).toBeVisible();
  await page.getByLabel("Filter tags").fill("");
  await expect(imageRows(page)).toHaveCount(2);

  // Manifest of the index, through the digest link.
  await imageRow(page, "1.0").locator("td.digest a").click();
  await expect(page).toHaveURL(new RegExp(`/r/${repository}@${digest}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Multi-platform image");
  await expect(page.getByRole("heading", { name: "Platforms" })).toBeVisible();
  const platformRows = page.locator("table.platforms tbody tr");
  await expect(platformRows).toHaveCount(2);
  await expect(platformRows.locator("td").first()).toHaveText(/linux\/(amd64|arm64)/);
  await expect(page.locator("pre.raw-json a").first()).toHaveAttribute("href", new RegExp(`^/r/${repository}@sha256:`));

  // One platform's image manifest: config, history, layers.
  const arm = platformRows.filter({ hasText: "linux/arm64" });
  const armDigest = (await arm.locator("a").getAttribute("href"))?.split("@")[1] ?? "";
  await arm.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/r/${repository}@${armDigest}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Image");
  await expect(page.getByRole("heading", { level: 1 })).not.toContainText("Multi-platform");
  await expect(page.getByRole("heading", { name: "Config", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "History" })).toBeVisible();
  await expect(page.getByRole("heading", { name: /^Layers/ })).toBeVisible();
  await expect(page.locator("table.layers tbody tr")).toHaveCount(2);
  await expect(page.locator("table.history tbody tr").first()).toBeVisible();
  await expect(page.locator("section", { has: page.getByRole("heading", { name: "Config", exact: true }) })).toContainText(
    "linux/arm64",
  );
  await expect(page.locator("table.labels-table").getByText(XSS, { exact: true })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();

  // The same index by tag.
  await page.goto(`/r/${repository}:2.0`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Multi-platform image");
  await expect(page.locator("dl.facts").first()).toContainText(digest);
});

test("unknown repository and manifest addresses are 404 pages", async ({ page }) => {
  await signIn(page);
  for (const path of ["/r/no/such/repo", "/r/no/such/repo:latest", "/r/Not_A_Name"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Go to the catalog" })).toBeVisible();
  }
});

// Search-as-you-type adds one history entry per bout of typing: Back returns to the list before it.
test("catalog: the back button after a search restores the previous list", async ({ page }) => {
  const base = uniqueRepository("back");
  const token = base.split("/")[1];
  const alpha = `${base}-alpha`;
  const beta = `${base}-beta`;
  pushSynthetic(alpha, "1.0");
  pushSynthetic(beta, "1.0");
  await signIn(page);
  await eventually(page, `/?q=${token}`, async () => {
    await expect(catalogRow(page, alpha)).toBeVisible({ timeout: 1_000 });
    await expect(catalogRow(page, beta)).toBeVisible({ timeout: 1_000 });
  });

  // Another page first, then the catalog, then a search typed into the box.
  await page.goto("/settings");
  await gotoLive(page, `/?q=${token}`);
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(2);
  await page.getByLabel("Search repositories").fill(`${token}-alpha`);
  await expect(page).toHaveURL(new RegExp(`/\\?q=${token}-alpha$`));
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(1);

  // Back: the list before the search (both repositories), not the page before the catalog.
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`/\\?q=${token}$`), { timeout: 5_000 });
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await expect(page.locator("table.catalog tbody tr")).toHaveCount(2);
  await expect(page.getByLabel("Search repositories")).toHaveValue(token);
});
