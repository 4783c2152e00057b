import { expect, test } from "@playwright/test";
import { gotoLive, signIn } from "./helpers";

// The Access, Webhooks, Events, Audit, Profile and Settings pages are wasm chunks of their own
// (cargo leptos build --split): the catalog does not download them, a page fetches its chunk
// when it is first shown, and a page loaded directly hydrates once its chunk is there.
test("pages loaded on demand: the catalog fetches no page chunk, a page fetches its own", async ({ page }) => {
  const wasm: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".wasm")) wasm.push(path);
  });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await signIn(page);
  await gotoLive(page, "/");
  expect(wasm).toContain("/pkg/wharf.wasm");
  expect(wasm.filter((path) => path.includes("_route_view_"))).toEqual([]);

  // Client-side navigation to a page on demand: its chunk arrives and the page shows.
  await page.getByRole("link", { name: "Settings", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Settings", exact: true })).toBeVisible();
  await expect(page).toHaveURL(/\/settings$/);
  expect(wasm.some((path) => path.includes("settings_route_view_"))).toBe(true);
  expect(wasm.some((path) => path.includes("access_route_view_"))).toBe(false);

  // Loaded directly: the server renders it, and the app hydrates (its live stream connects)
  // after fetching the page's chunk; its links still navigate without a reload.
  wasm.length = 0;
  await gotoLive(page, "/access");
  await expect(page.getByRole("heading", { name: "Access", exact: true })).toBeVisible();
  expect(wasm.some((path) => path.includes("access_route_view_"))).toBe(true);
  await page.getByRole("link", { name: "Catalog", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  expect(errors).toEqual([]);
});
