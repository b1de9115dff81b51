import { describe, expect, it } from 'vitest';
import { inputConfig } from '../../src-main/cli/input-options.ts';
import { positionNormHoldout, positionStatistics } from '../../src-main/methods/position-norm.ts';

describe('per-position statistics', () => {
  it("give each pixel its held-out maps' mean and spread, floored at a quantile of the spreads", () => {
    // pixel 0 varies a lot, pixel 1 a little, pixel 2 not at all, pixel 3 in between
    const maps = [Float32Array.of(0, 1, 5, 2), Float32Array.of(4, 1.2, 5, 2.5), Float32Array.of(8, 1.4, 5, 3)];
    const s = positionStatistics(maps, [undefined, undefined, undefined], { width: 4, sigma: 0, floorQuantile: 0.5 });
    expect(Array.from(s.mean)).toEqual([4, expect.closeTo(1.2, 6), 5, 2.5]);
    const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - xs.reduce((b, y) => b + y, 0) / xs.length) ** 2, 0) / xs.length);
    const median = sd([1, 1.2, 1.4]); // spreads sorted: 0, 0.163, 0.408, 3.27; quantile 0.5 of four is the lower middle one
    expect(s.scale[0]).toBeCloseTo(sd([0, 4, 8]), 5);
    expect(s.scale[1]).toBeCloseTo(median, 5);
    expect(s.scale[2]).toBeCloseTo(median, 5);
    expect(s.scale[3]).toBeCloseTo(sd([2, 2.5, 3]), 5);
    expect(s.images).toBe(3);
  });

  it('leave out the pixels an image excludes (ignored, or outside its picture), and give a pixel measured once the floor', () => {
    const maps = [Float32Array.of(1, 100), Float32Array.of(3, 7), Float32Array.of(5, 9)];
    const s = positionStatistics(maps, [Uint8Array.of(0, 1), undefined, Uint8Array.of(0, 1)], { width: 2, sigma: 0, floorQuantile: 0.5 });
    expect(s.mean[1]).toBe(7);
    expect(s.scale[1]).toBeCloseTo(s.scale[0]!, 6);
  });

  it('never divide by zero when no map varies anywhere', () => {
    const s = positionStatistics([Float32Array.of(2, 2), Float32Array.of(2, 2)], [undefined, undefined], { width: 2, sigma: 0, floorQuantile: 0.5 });
    expect(s.scale.every((v) => v > 0)).toBe(true);
  });
});

describe('pooled spreads', () => {
  it("give a pixel that happened to vary little among few held-out maps its neighbours' spread", () => {
    // one row of 9 pixels: every pixel swings by ±2 across the maps, except the middle one (±0.01)
    const swing = (sign: number) => Float32Array.from({ length: 9 }, (_, p) => 5 + sign * (p === 4 ? 0.01 : 2));
    const maps = [swing(1), swing(-1), swing(1), swing(-1)];
    const none = [undefined, undefined, undefined, undefined];
    const alone = positionStatistics(maps, none, { width: 9, sigma: 0, floorQuantile: 0 });
    const pooled = positionStatistics(maps, none, { width: 9, sigma: 1.5, floorQuantile: 0 });
    expect(alone.scale[4]).toBeCloseTo(0.01, 5);
    expect(pooled.scale[4]).toBeGreaterThan(1.5);
    expect(pooled.scale[0]).toBeCloseTo(2, 1);
    // pooling leaves out what an image excludes: a far-off value beyond every picture changes nothing
    const wide = maps.map((m) => Float32Array.of(...m, 1000));
    const cut = positionStatistics(wide, maps.map(() => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), { width: 10, sigma: 1.5, floorQuantile: 0 });
    expect(cut.scale[8]).toBeCloseTo(pooled.scale[8]!, 1);
  });
});

describe('held-out normal images', () => {
  it('are a tenth of the training images, at least 24 but at most half, and at most 48, evenly spaced', () => {
    expect(positionNormHoldout(16)).toEqual([1, 3, 5, 7, 9, 11, 13, 15]);
    expect(positionNormHoldout(100)).toHaveLength(24);
    expect(positionNormHoldout(253)).toHaveLength(25);
    expect(positionNormHoldout(5000)).toHaveLength(48);
  });

  it('are asked for by --position-norm on the command line', () => {
    expect(inputConfig({ 'position-norm': true, resize: 'tile' })).toEqual({ positionNorm: true, resize: 'tile' });
    expect(inputConfig({})).toEqual({});
  });
});
