import { describe, expect, it } from 'vitest';
import { blurredUpsample, gaussianFilter, upsampleBilinear } from '../../src-main/vision/index.ts';

/** A deterministic grid with values in [0, 5) that differ from cell to cell. */
function gridOf(w: number, h: number, seed: number): Float32Array {
  return Float32Array.from({ length: w * h }, (_, i) => ((i * 7919 + seed * 104729) % 1000) / 200);
}

function largestDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('blurredUpsample: the anomaly map of a patch grid in one pass', () => {
  const cases = [
    { name: 'a 32x32 grid to 256x256 with the backbone offset (PatchCore at 256 px)', gw: 32, gh: 32, w: 256, h: 256, sigma: 4, align: { stride: 8, offsetX: 1.5, offsetY: -0.5 } },
    { name: 'a 28x28 grid to 224x224 without alignment', gw: 28, gh: 28, w: 224, h: 224, sigma: 4, align: undefined },
    { name: 'a long 90x32 grid to 717x256', gw: 90, gh: 32, w: 717, h: 256, sigma: 4, align: { stride: 8, offsetX: 0, offsetY: 0 } },
    { name: 'a map shorter than the kernel (reflected repeatedly)', gw: 3, gh: 2, w: 20, h: 9, sigma: 4, align: undefined },
    { name: 'sigma 0: the upsampling alone', gw: 5, gh: 4, w: 40, h: 32, sigma: 0, align: undefined },
    { name: 'a single cell', gw: 1, gh: 1, w: 9, h: 7, sigma: 2, align: undefined },
  ];
  for (const c of cases) {
    it(`equals upsampling then blurring, for ${c.name}`, () => {
      const grid = gridOf(c.gw, c.gh, c.w);
      const upsampled = upsampleBilinear(grid, c.gw, c.gh, c.w, c.h, c.align);
      const expected = c.sigma > 0 ? gaussianFilter(upsampled, c.w, c.h, c.sigma) : upsampled;
      const actual = blurredUpsample(grid, c.gw, c.gh, c.w, c.h, c.sigma, c.align);
      expect(largestDifference(actual, expected)).toBeLessThan(2e-6);
    });
  }

  it('gives the same map when called again (its cached operators are not changed by use)', () => {
    const grid = gridOf(32, 32, 3);
    const first = blurredUpsample(grid, 32, 32, 256, 256, 4);
    blurredUpsample(gridOf(32, 32, 4), 32, 32, 256, 256, 4);
    expect(blurredUpsample(grid, 32, 32, 256, 256, 4)).toEqual(first);
  });

  it('refuses a grid whose length does not match its size, and a negative sigma', () => {
    expect(() => blurredUpsample(new Float32Array(10), 4, 3, 8, 8, 1)).toThrow(/grid length 10 does not match 4x3/);
    expect(() => blurredUpsample(new Float32Array(4), 2, 2, 8, 8, -1)).toThrow(/invalid sigma/);
    expect(() => blurredUpsample(new Float32Array(4), 2, 2, 0, 8, 1)).toThrow(/output width must be a positive integer/);
  });
});
