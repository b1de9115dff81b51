import { describe, expect, it } from 'vitest';
import { wilsonInterval } from '../../src-main/metrics/index.ts';

describe('the Wilson score interval of a proportion', () => {
  it('has the closed forms of its special cases: [0, z²/(n+z²)] for none, [1 - that, 1] for all, symmetric about one half', () => {
    const z2 = 1.959963984540054 ** 2;
    expect(wilsonInterval(0, 6)).toEqual({ low: 0, high: expect.closeTo(z2 / (6 + z2), 12) });
    expect(wilsonInterval(6, 6)).toEqual({ low: expect.closeTo(6 / (6 + z2), 12), high: 1 });
    const half = wilsonInterval(2, 4)!;
    expect(half.low + half.high).toBeCloseTo(1, 12);
    expect(half.low).toBeCloseTo(0.150036, 5);
  });

  it('narrows as the trials grow, around the observed rate', () => {
    const small = wilsonInterval(3, 10)!;
    const large = wilsonInterval(300, 1000)!;
    expect(large.high - large.low).toBeLessThan((small.high - small.low) / 5);
    expect(large.low).toBeLessThan(0.3);
    expect(large.high).toBeGreaterThan(0.3);
  });

  it('is undefined without trials and refuses impossible counts', () => {
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(5, 4)).toThrow(RangeError);
    expect(() => wilsonInterval(1.5, 4)).toThrow(RangeError);
  });
});
