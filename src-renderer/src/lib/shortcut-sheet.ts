/**
 * What the keyboard sheet shows of the registered shortcuts (lib/shortcuts.svelte.ts): the shortcut's
 * shape, each tinykeys binding as a person reads it, and the groups merged by heading.
 */

/** The key press a shortcut runs on (a KeyboardEvent; typed without the DOM library for the unit tests). */
export type KeyPress = Event & { readonly key: string; readonly code: string };

export interface Shortcut {
  readonly keys: readonly string[];
  /** What the key does, as the sheet says it. */
  readonly what: string;
  /** The keys as the sheet shows them, when shorter than the list of bindings ('Alt+1…7'). */
  readonly label?: string;
  /** Return false when the key did nothing here (its default action then goes ahead). */
  readonly run: (event: KeyPress) => void | boolean;
  /** Also while typing in a text field (Ctrl+S). */
  readonly inFields?: boolean;
}

export interface ShortcutGroup {
  readonly id: number;
  readonly title: string;
  readonly shortcuts: readonly Shortcut[];
}

const NAMES: Record<string, string> = {
  ArrowDown: '↓', ArrowUp: '↑', ArrowLeft: '←', ArrowRight: '→', Escape: 'Esc', Control: 'Ctrl', $mod: 'Ctrl',
  Space: 'Space', ' ': 'Space', NumpadAdd: 'Num +', NumpadSubtract: 'Num −', Enter: 'Enter',
};

/** One binding as the sheet shows it: 'Control+s' → 'Ctrl+S', 'Shift+?' → '?', 'ArrowDown' → '↓'. */
export function keyLabel(binding: string): string {
  const parts = binding.split(/\b\+/);
  const key = parts.pop()!;
  const shown = NAMES[key] ?? (/^Digit\d$/.test(key) ? key.slice(5) : key.length === 1 ? key.toUpperCase() : key);
  // Shift that only produces the character itself ('Shift+?', 'Shift++') is not shown
  const mods = parts.filter((m) => !(m === 'Shift' && key.length === 1 && !/[a-z0-9]/i.test(key))).map((m) => NAMES[m] ?? m);
  return [...mods, shown].join('+');
}

/** The keys of a shortcut as the sheet shows them. */
export function keysLabel(s: Shortcut): string {
  return s.label ?? [...new Set(s.keys.map(keyLabel))].join(' / ');
}

/** The registered groups merged by heading, in the order they first appeared. */
export function sheet(groups: readonly ShortcutGroup[]): Array<{ title: string; shortcuts: Shortcut[] }> {
  const merged = new Map<string, Shortcut[]>();
  for (const g of groups) merged.set(g.title, [...(merged.get(g.title) ?? []), ...g.shortcuts]);
  return [...merged].map(([title, shortcuts]) => ({ title, shortcuts }));
}
