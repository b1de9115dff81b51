/** CSV as spreadsheets and MES imports read it: CRLF lines, quoted where needed, no formula injection. */

export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // a leading = + - @ would be run as a formula by spreadsheet programs
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvText(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return [header.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\r\n') + '\r\n';
}
