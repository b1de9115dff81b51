/** Times are stored as ISO-8601 UTC strings (sortable as text). */
export function nowIso(): string {
  return new Date().toISOString();
}
