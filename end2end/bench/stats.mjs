// Figures shared by the benchmark scripts.

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
