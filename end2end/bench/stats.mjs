// Figures and plumbing shared by the benchmark scripts.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The lines every report starts its "how it was measured" list with. */
export function measuredLines(meta, command, code = "release build") {
  return [
    `- Measured: ${meta.date ?? "?"} (UTC), with \`${command}\``,
    `- Machine: ${meta.machine ?? "?"}`,
    `- Code: commit \`${meta.commit ?? "?"}\`, ${code}`,
    `- Load average (1 min) at the start and at the end: ${meta.load_start ?? "?"}, ${meta.load_end ?? "?"}`,
  ];
}

/** The p-th percentile of an ascending array (nearest rank), or null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The JSON result `name` in the results directory `dir`, or null when it is missing or unreadable. */
export function readResult(dir, name) {
  try {
    return JSON.parse(readFileSync(join(dir, name), "utf8"));
  } catch {
    return null;
  }
}

/** Writes a report's lines to `out`. */
export function writeReport(out, lines) {
  writeFileSync(out, lines.join("\n"));
  console.log(`wrote ${out}`);
}

/**
 * Runs the command named first on the command line: `report`, or one of `commands` (name ->
 * async function) whose result is written to `out` as JSON, and printed without its `raw` part.
 */
export async function runCommand(name, commands, report, out) {
  if (name === "report") return report();
  const run = commands[name];
  if (!run) throw new Error(`unknown command ${name}`);
  const result = await run();
  writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(JSON.stringify({ ...result, raw: undefined }));
}
