/** Plain-text tables for the terminal. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A fraction as a percentage with two decimals, or '-' when undefined. */
export const pct = (v: number): string => (Number.isFinite(v) ? (100 * v).toFixed(2) : '-');
export const num = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
