// Figures shared by the benchmark scripts.

/** The p-th percentile of an ascending array (nearest rank), or null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
