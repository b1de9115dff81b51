/** Keyboard helpers: screens ignore their single-key shortcuts while the user types in a field. */

export function isTyping(event: KeyboardEvent): boolean {
  const el = event.target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}

/** A plain key press (no Ctrl, Alt or Meta) outside text fields. */
export function plainKey(event: KeyboardEvent): boolean {
  return !event.ctrlKey && !event.altKey && !event.metaKey && !isTyping(event);
}
