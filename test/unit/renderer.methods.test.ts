/**
 * The Train screen's method catalogue (src-renderer/src/lib/methods.ts) against the station's methods:
 * every method is offered, and every setting the screen starts from is the method's own default, so
 * an untouched form trains exactly what `argus train` would.
 */
import { describe, expect, it } from 'vitest';
import { getMethod, METHOD_NAMES } from '../../src-main/methods/index.ts';
import { defaultSettings, METHODS } from '../../src-renderer/src/lib/methods.ts';

describe('Train screen method catalogue', () => {
  it('offers exactly the station methods, each with a plain-language line', () => {
    expect(METHODS.map((m) => m.name).sort()).toEqual([...METHOD_NAMES].sort());
    for (const m of METHODS) expect(m.about.length, m.name).toBeGreaterThan(40);
  });

  it('starts every setting at the method default', () => {
    for (const info of METHODS) {
      const defaults = getMethod(info.name).defaults as Record<string, unknown>;
      for (const [key, value] of Object.entries(defaultSettings(info))) {
        expect(key in defaults, `${info.name}.${key} is a setting of the method`).toBe(true);
        expect(value, `${info.name}.${key}`).toEqual(defaults[key]);
      }
      const { height } = defaults as { height?: number };
      if (height !== undefined) expect(info.sizes, `${info.name} offers its default size`).toContain(height);
    }
  });

  it('offers choices and ranges the method accepts', () => {
    for (const info of METHODS) {
      const method = getMethod(info.name);
      for (const setting of info.settings) {
        const values = setting.kind === 'choice' ? setting.options.map((o) => o.value)
          : setting.kind === 'toggle' ? [true, false] : [setting.min, setting.max];
        for (const value of values) {
          const config = { ...(method.defaults as object), [setting.key]: value };
          expect(() => (method.validate as ((c: unknown) => void) | undefined)?.(config), `${info.name}.${setting.key}=${JSON.stringify(value)}`).not.toThrow();
        }
      }
    }
  });
});
