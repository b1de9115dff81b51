/**
 * The station's one keyboard mechanism (tinykeys underneath): each screen or panel registers its keys
 * with what they do, for as long as it is shown, and the `?` sheet lists exactly what is registered.
 *
 *   $effect(() => shortcuts('Inspect & review', [
 *     { keys: ['j', 'ArrowDown'], what: 'next result', run: () => step(1) },
 *   ]));
 *
 * Key strings are tinykeys bindings (KeyboardEvent.key or .code, modifiers exact: 'Shift+?',
 * 'Control+s', 'Alt+Digit1'). Keys do not fire while the user types in a field unless `inFields`.
 */
import { untrack } from 'svelte';
import { tinykeys } from 'tinykeys';

export interface Shortcut {
  readonly keys: readonly string[];
  /** What the key does, as the sheet says it. */
  readonly what: string;
  /** The keys as the sheet shows them, when shorter than the list of bindings ('Alt+1…7'). */
  readonly label?: string;
  /** Return false when the key did nothing here (its default action then goes ahead). */
  readonly run: (event: KeyboardEvent) => void | boolean;
  /** Also while typing in a text field (Ctrl+S). */
  readonly inFields?: boolean;
}

export interface ShortcutGroup {
  readonly id: number;
  readonly title: string;
  readonly shortcuts: readonly Shortcut[];
}

/** What is registered now, in registration order (the `?` sheet reads it). */
export const registered = $state<{ groups: ShortcutGroup[] }>({ groups: [] });
let nextId = 1;

/** Whether the key went to a text field (a single-key shortcut then stays out of the way). */
export function isTyping(event: Event): boolean {
  const el = event.target as HTMLElement | null;
  if (!el || typeof el.tagName !== 'string') return false;
  const tag = el.tagName;
  if (tag === 'INPUT') {
    const type = (el as HTMLInputElement).type;
    return type !== 'checkbox' && type !== 'radio' && type !== 'range' && type !== 'button';
  }
  return tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}

/** Registers keys under a sheet heading; returns the unregister function (an $effect's cleanup). */
export function shortcuts(title: string, list: readonly Shortcut[]): () => void {
  const bindings: Record<string, (e: KeyboardEvent) => void> = {};
  for (const s of list) {
    for (const key of s.keys) {
      bindings[key] = (e) => {
        if (e.defaultPrevented || (!s.inFields && isTyping(e))) return;
        if (s.run(e) !== false) e.preventDefault();
      };
    }
  }
  const group: ShortcutGroup = { id: nextId++, title, shortcuts: list };
  // registering from an $effect must not make that effect depend on the registry it changes
  untrack(() => registered.groups.push(group));
  const off = tinykeys(window, bindings);
  return () => {
    off();
    untrack(() => {
      const i = registered.groups.findIndex((g) => g.id === group.id);
      if (i >= 0) registered.groups.splice(i, 1);
    });
  };
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
