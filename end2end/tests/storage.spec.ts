import { expect, test, type Page } from "@playwright/test";
import { eventually, pushSynthetic, signIn, uniqueRepository } from "./helpers";

// Housekeeping → Storage: charts drawn on the server as SVG, with their exact figures beside
// them, the same with JavaScript off; the images not pulled for 90 days and the link to a
// retention dry run.

/** Two repositories of one namespace whose images share their layers. */
function pushSharedLayers(): { web: string; api: string; namespace: string } {
  const base = uniqueRepository("storage");
  const namespace = base.split("/")[0];
  const web = `${base}-web`;
  const api = `${base}-api`;
  const seed = Math.floor(Math.random() * 1e9);
  pushSynthetic(web, "1", { seed, layers: 3, labels: { app: "web" } });
  pushSynthetic(api, "1", { seed, layers: 3, labels: { app: "api" } });
  return { web, api, namespace };
}

async function expectCharts(page: Page, namespace: string) {
  const namespaces = page.locator("#namespaces");
  await expect(namespaces.locator("svg.chart")).toBeVisible();
  await expect(namespaces.locator("svg.chart > title")).toHaveText("Bytes per namespace, each layer once");
  // Each bar's tooltip carries its exact figure.
  await expect(namespaces.locator("svg.chart g.bar title", { hasText: `${namespace}/:` })).toHaveText(
    /\([\d,]+ bytes\), .* shared$/,
  );
  await expect(namespaces.locator("table tbody tr", { hasText: `${namespace}/` })).toBeVisible();
  await expect(page.locator("#largest svg.chart")).toBeVisible();
  await expect(page.locator("#growth svg.chart")).toBeVisible();
  await expect(page.locator("#pushes svg.chart")).toBeVisible();
  const today = new Date().toISOString().slice(0, 10);
  await expect(page.locator(`#pushes svg.chart rect.chart-column title`, { hasText: today })).toHaveText(
    new RegExp(`^${today}: [\\d,]+$`),
  );
}

test("the storage page shows where the bytes are, shared layers once", async ({ page }) => {
  const { web, api, namespace } = pushSharedLayers();
  await signIn(page);
  await page.getByRole("link", { name: "Housekeeping" }).click();
  await expect(page).toHaveURL(/\/housekeeping\/storage$/);
  await expect(page.getByRole("navigation", { name: "Housekeeping" }).getByRole("link", { name: "Storage" })).toHaveAttribute(
    "aria-current",
    "page",
  );
  await eventually(page, "/housekeeping/storage", async () => {
    const largest = page.locator("#largest table tbody");
    await expect(largest.getByRole("link", { name: web, exact: true })).toBeVisible({ timeout: 1_000 });
    await expect(largest.getByRole("link", { name: api, exact: true })).toBeVisible({ timeout: 1_000 });
    await expect(page.locator(".banner[role=status]")).toHaveCount(0, { timeout: 1_000 });
  });
  await expectCharts(page, namespace);
  // Their three layers are shared: the shared figure counts them.
  const shared = Number(await page.locator(".stat-card", { hasText: "Shared" }).locator("[data-bytes]").getAttribute("data-bytes"));
  expect(shared).toBeGreaterThan(0);
  const webRow = page.locator("#largest table tbody tr", { hasText: web });
  await expect(webRow.locator("td").nth(2)).not.toHaveText("0 B");

  // Everything was pushed today: no candidates, and the dry run covers the whole registry.
  const unpulled = page.locator("#unpulled");
  await expect(unpulled.getByText("Every image you can see was pushed or pulled in the last 90 days.")).toBeVisible();
  await expect(unpulled.getByRole("link", { name: "Dry run of a retention policy for the whole registry" })).toHaveAttribute(
    "href",
    "/housekeeping/retention/new?scope=&pulled_days=90",
  );
  // A namespace's link narrows the list, and the dry run to it.
  await page.locator("#namespaces table").getByRole("link", { name: `${namespace}/`, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`namespace=${namespace}#unpulled$`));
  await expect(unpulled.getByText(`In ${namespace}/ only.`)).toBeVisible();
  await expect(unpulled.getByRole("link", { name: `Dry run of a retention policy for ${namespace}/` })).toHaveAttribute(
    "href",
    `/housekeeping/retention/new?scope=${namespace}%2F&pulled_days=90`,
  );
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the charts and their figures are on the page as served", async ({ page }) => {
    const { web, namespace } = pushSharedLayers();
    await signIn(page);
    await eventually(page, "/housekeeping/storage", async () => {
      await expect(page.locator("#largest table tbody").getByRole("link", { name: web, exact: true })).toBeVisible({
        timeout: 1_000,
      });
    });
    await expectCharts(page, namespace);
    // The exact figures of the daily charts open without a script.
    await page.locator("#pushes details summary").click();
    await expect(page.locator("#pushes details table tbody tr").first()).toBeVisible();
  });
});
