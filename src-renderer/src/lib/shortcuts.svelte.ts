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
import type { Shortcut, ShortcutGroup } from './shortcut-sheet.ts';

export { keysLabel, sheet, type Shortcut, type ShortcutGroup } from './shortcut-sheet.ts';

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
