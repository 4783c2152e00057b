import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { gotoLive, signIn, skopeoPush, uniqueRepository } from "./helpers";

// Webhooks in the browser: create one pointing at a real HTTP receiver on 127.0.0.1 (scripts/test
// allows that network with --webhook-allow-network), push with skopeo, watch the delivery appear
// live, open it, redeliver it.

interface Received {
  id: string;
  body: Record<string, unknown>;
}

/** An HTTP receiver that answers 200 and records each request's webhook-id and JSON body. */
async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        id: String(request.headers["webhook-id"] ?? ""),
        body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"),
      });
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("thanks");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, server };
}

test("create a webhook, push, see the delivery live, open it, redeliver", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    const repository = uniqueRepository("hook");
    const name = `deploy-${Date.now().toString(36)}`;
    await signIn(page);
    await page.goto("/webhooks");
    await page.getByRole("link", { name: "New webhook" }).first().click();
    await expect(page.getByRole("heading", { name: "New webhook" })).toBeVisible();
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("URL").fill(receiver.url);
    await page.getByLabel("Scope").fill(`${repository}:*`);
    await page.getByLabel("Format").selectOption("generic");
    await page.getByRole("button", { name: "Create webhook" }).click();

    // The signing secret is shown once.
    const created = page.getByRole("status").filter({ hasText: "Webhook created" });
    await expect(created).toBeVisible();
    await expect(created.locator("code.secret")).toHaveText(/^whsec_/);
    await created.getByRole("link", { name: "Open the webhook" }).click();
    await expect(page.getByRole("heading", { name })).toBeVisible();

    // Ping answers at once.
    await page.getByRole("button", { name: "Ping" }).click();
    await expect(page.getByRole("status").filter({ hasText: "The receiver answered 200" })).toBeVisible();

    // A push shows up in the open delivery log without a reload.
    await gotoLive(page, page.url());
    await page.evaluate(() => ((window as unknown as { __mark?: number }).__mark = 7));
    skopeoPush(repository, "v1");
    const row = page.locator("table.deliveries tbody tr").filter({ hasText: `push ${repository}:v1` });
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row.locator(".badge")).toHaveText("delivered", { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { __mark?: number }).__mark)).toBe(7);
    const pushes = receiver.received.filter((r) => r.body.action === "push");
    expect(pushes).toHaveLength(1);
    expect((pushes[0].body.target as Record<string, unknown>).repository).toBe(repository);

    // Its detail: the request as sent and the receiver's answer.
    await row.getByRole("link").click();
    await expect(page.getByRole("heading", { name: `push ${repository}:v1` })).toBeVisible();
    await expect(page.locator(".attempt h3").first()).toContainText("answered 200");
    await expect(page.locator(".attempt pre.body").nth(1)).toHaveText("thanks");

    // Redeliver: the same webhook-id again.
    await page.getByRole("button", { name: "Redeliver" }).click();
    await expect(page.getByText("Queued again.")).toBeVisible();
    await expect.poll(() => receiver.received.filter((r) => r.body.action === "push").length, { timeout: 20_000 }).toBe(2);
    const ids = receiver.received.filter((r) => r.body.action === "push").map((r) => r.id);
    expect(ids[0]).toMatch(/^msg_/);
    expect(ids[1]).toBe(ids[0]);
    await expect(page.locator(".attempt")).toHaveCount(2, { timeout: 15_000 });
  } finally {
    receiver.server.close();
  }
});

test("a webhook to a link-local address is refused with a clear message", async ({ page }) => {
  await signIn(page);
  await page.goto("/webhooks/new");
  await page.getByLabel("Name", { exact: true }).fill("metadata");
  await page.getByLabel("URL").fill("http://169.254.169.254/latest/meta-data");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.getByRole("alert")).toContainText("link-local");
});
