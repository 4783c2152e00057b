import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type ReporterDescription } from "@playwright/test";

// scripts/test starts `wharf serve` (console and registry on free ports) and sets:
//   WHARF_E2E_URL       the console, e.g. http://127.0.0.1:3000
//   WHARF_E2E_REGISTRY  the registry as host:port, e.g. 127.0.0.1:5000
//   WHARF_E2E_PASSWORD  the admin password (WHARF_ADMIN_PASSWORD of that server)
//   WHARF_E2E_BIN       the wharf binary (its push-synthetic command builds test images)
//   WHARF_E2E_SITE_ROOT the built web assets, for tests that start a server of their own
//   WHARF_E2E_JSON      optional: also write a JSON report there (scripts/test reads the counts)
const baseURL = process.env.WHARF_E2E_URL ?? "http://127.0.0.1:3000";

const reporter: ReporterDescription[] = [["list"]];
if (process.env.WHARF_E2E_JSON) reporter.push(["json", { outputFile: process.env.WHARF_E2E_JSON }]);

const launch = JSON.parse(readFileSync(join(__dirname, "chromium.json"), "utf8"));

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter,
  outputDir: "test-results",
  use: {
    baseURL,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's chromium (see chromium.json): Playwright's own browser download cannot work here.
      executablePath: process.env.WHARF_E2E_CHROMIUM ?? launch.executablePath,
      args: launch.args,
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
});
