import { describe, expect, it } from 'vitest';
import { auroc, pairedBootstrap, type ScoredMask } from '../../src-main/metrics/index.ts';
import { Random } from '../../src-main/util/random.ts';

/**
 * n images of 24×24, every third defective with a square region; a model of `skill` raises the
 * region's scores by that much (0: it cannot tell defects from noise).
 */
function model(n: number, skill: number, seed: number): { scores: number[]; labels: number[]; pixels: ScoredMask[] } {
  const rng = new Random(seed);
  const pixels: ScoredMask[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const defective = i % 3 === 0;
    const map = Float32Array.from({ length: 24 * 24 }, () => rng.normal());
    const mask = new Uint8Array(24 * 24);
    if (defective) {
      const x0 = (i * 7) % 16;
      for (let y = 4; y < 10; y++) for (let x = x0; x < x0 + 6; x++) { mask[y * 24 + x] = 1; map[y * 24 + x]! += skill; }
    }
    pixels.push({ map, mask, width: 24, height: 24 });
    scores.push(Math.max(...map));
    labels.push(defective ? 1 : 0);
  }
  return { scores, labels, pixels };
}

describe('pairedBootstrap()', () => {
  it('finds no difference between a model and itself: every difference is 0 with an interval containing 0', () => {
    const m = model(30, 1.5, 1);
    const { differences: [d] } = pairedBootstrap(m.labels, [m, m], { resamples: 200 });
    for (const key of ['imageAuroc', 'imageF1', 'pixelAuroc', 'pixelF1', 'aupro'] as const) {
      expect(d![key], key).toEqual({ difference: 0, low: 0, high: 0, excludesZero: false });
    }
  });

  it('finds a clearly better model better: its AUROC and AUPRO differences have intervals above zero', () => {
    const weak = model(45, 0.3, 2);
    const strong = model(45, 3, 2); // the same noise, a far stronger defect signal
    const { differences: [d] } = pairedBootstrap(weak.labels, [weak, strong], { resamples: 300 });
    expect(d!.imageAuroc!.difference).toBeCloseTo(auroc(strong.scores, strong.labels) - auroc(weak.scores, weak.labels), 12);
    for (const key of ['imageAuroc', 'pixelAuroc', 'aupro'] as const) {
      expect(d![key]!.difference, key).toBeGreaterThan(0);
      expect(d![key]!.low, key).toBeGreaterThan(0);
      expect(d![key]!.low, key).toBeLessThanOrEqual(d![key]!.difference + 0.02);
      expect(d![key]!.excludesZero, key).toBe(true);
    }
    // the other way round, the same difference with its sign turned
    const { differences: [back] } = pairedBootstrap(weak.labels, [strong, weak], { resamples: 300 });
    expect(back!.imageAuroc!.difference).toBe(-d!.imageAuroc!.difference);
    expect(back!.imageAuroc!.high).toBeLessThan(0);
  });

  it('is paired: two models that agree on which images are hard get a narrow interval around zero', () => {
    const a = model(45, 1.2, 3);
    // b: a's scores with small independent noise, so the models agree on which images are hard
    const rng = new Random(9);
    const b = { ...a, scores: a.scores.map((s) => s + 0.05 * rng.normal()), pixels: a.pixels };
    const { differences: [d] } = pairedBootstrap(a.labels, [a, b], { resamples: 300 });
    expect(d!.imageAuroc!.excludesZero).toBe(false);
    expect(d!.imageAuroc!.high - d!.imageAuroc!.low).toBeLessThan(0.1);
  });

  it('compares several models against the first, and leaves out pixel metrics without maps', () => {
    const base = model(30, 1, 4);
    const noPixels = (m: ReturnType<typeof model>) => ({ scores: m.scores, pixels: [] });
    const { differences: out, metrics } = pairedBootstrap(base.labels, [noPixels(base), noPixels(model(30, 2, 4)), noPixels(model(30, 0, 4))], { resamples: 100 });
    expect(out).toHaveLength(2);
    expect(metrics).toHaveLength(3);
    expect(out[0]!.imageAuroc!.difference).toBeCloseTo(metrics[1]!.imageAuroc! - metrics[0]!.imageAuroc!, 12);
    expect(out[0]!.pixelAuroc).toBeNull();
    expect(out[0]!.imageAuroc!.difference).toBeGreaterThan(0);
    expect(out[1]!.imageAuroc!.difference).toBeLessThan(0);
  });

  it('refuses a single model and misaligned inputs', () => {
    const m = model(6, 1, 5);
    expect(() => pairedBootstrap(m.labels, [m])).toThrow(RangeError);
    expect(() => pairedBootstrap(m.labels, [m, { scores: m.scores.slice(1), pixels: m.pixels }])).toThrow(/scores for 6 labels/);
    expect(() => pairedBootstrap(m.labels, [m, { scores: m.scores, pixels: [] }])).toThrow(/pixel images/);
  });
});
