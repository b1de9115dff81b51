/**
 * The keyboard sheet (src-renderer/src/lib/shortcut-sheet.ts) shows the registered tinykeys bindings as
 * people read them, and one heading per screen or panel even when several parts register under it.
 */
import { describe, expect, it } from 'vitest';
import { keyLabel, keysLabel, sheet, type Shortcut } from '../../src-renderer/src/lib/shortcut-sheet.ts';

const noop = () => {};

describe('the keyboard sheet', () => {
  it('names keys as they are printed on the keyboard', () => {
    expect(keyLabel('j')).toBe('J');
    expect(keyLabel('ArrowDown')).toBe('↓');
    expect(keyLabel('Control+s')).toBe('Ctrl+S');
    expect(keyLabel('$mod+z')).toBe('Ctrl+Z');
    expect(keyLabel('Alt+Digit3')).toBe('Alt+3');
    expect(keyLabel('Shift+ArrowLeft')).toBe('Shift+←');
    // Shift that only types the character is not a separate key to press
    expect(keyLabel('Shift+?')).toBe('?');
    expect(keyLabel('Shift++')).toBe('+');
    expect(keyLabel('Escape')).toBe('Esc');
    // the mask editor's: 1:1 on Shift+1 (1…9 pick defect types there), redo, a defect type by its digit
    expect(keyLabel('Shift+Digit1')).toBe('Shift+1');
    expect(keyLabel('$mod+Shift+z')).toBe('Ctrl+Shift+Z');
    expect(keyLabel('Digit7')).toBe('7');
    expect(keyLabel('Shift+Enter')).toBe('Shift+Enter');
  });

  it('lists a shortcut\'s bindings once each, or its own shorter label', () => {
    const step: Shortcut = { keys: ['j', 'ArrowDown', 'J'], what: 'next', run: noop };
    expect(keysLabel(step)).toBe('J / ↓');
    expect(keysLabel({ keys: ['Alt+Digit1', 'Alt+Digit2'], label: 'Alt+1…2', what: 'screens', run: noop })).toBe('Alt+1…2');
  });

  it('merges the groups registered under one heading, in the order they first appeared', () => {
    const a: Shortcut = { keys: ['j'], what: 'next result', run: noop };
    const b: Shortcut = { keys: ['p'], what: 'pass', run: noop };
    const c: Shortcut = { keys: ['?'], what: 'this sheet', run: noop };
    expect(sheet([
      { id: 1, title: 'Inspect & review', shortcuts: [a] },
      { id: 2, title: 'Everywhere', shortcuts: [c] },
      { id: 3, title: 'Inspect & review', shortcuts: [b] },
    ])).toEqual([{ title: 'Inspect & review', shortcuts: [a, b] }, { title: 'Everywhere', shortcuts: [c] }]);
  });
});
