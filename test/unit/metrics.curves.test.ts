import { describe, expect, it } from 'vitest';
import { auroc, f1Max, proCurve } from '../../src-main/metrics/index.ts';
import { downsampleCurve, downsampleIndices, prCurve, rocCurve, trapezoidArea } from '../../src-main/metrics/curves.ts';
import { Random } from '../../src-main/util/random.ts';

/** Scores of n samples, about a third positive and shifted up by `shift`; rounded so that ties occur. */
function sample(n: number, seed: number, shift = 1, decimals = 1): { scores: number[]; labels: number[] } {
  const rng = new Random(seed);
  const labels = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = labels.map((l) => Number((rng.normal() + shift * l).toFixed(decimals)));
  return { scores, labels };
}

describe('rocCurve()', () => {
  it('runs from (0, 0) to (1, 1) and its trapezoid area is exactly auroc(), ties included', () => {
    for (const [n, seed, decimals] of [[12, 1, 1], [300, 2, 1], [2000, 3, 3]] as const) {
      const { scores, labels } = sample(n, seed, 1, decimals);
      const roc = rocCurve(scores, labels);
      expect([roc.fpr[0], roc.tpr[0]]).toEqual([0, 0]);
      expect([roc.fpr.at(-1), roc.tpr.at(-1)]).toEqual([1, 1]);
      expect(trapezoidArea(roc.fpr, roc.tpr)).toBeCloseTo(auroc(scores, labels), 12);
      for (let i = 1; i < roc.fpr.length; i++) {
        expect(roc.fpr[i]!).toBeGreaterThanOrEqual(roc.fpr[i - 1]!);
        expect(roc.tpr[i]!).toBeGreaterThanOrEqual(roc.tpr[i - 1]!);
        expect(roc.thresholds[i]!).toBeLessThan(roc.thresholds[i - 1]!);
      }
    }
  });

  it('gives the textbook curve of a small case', () => {
    // sklearn.metrics.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], drop_intermediate=False)
    const roc = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(roc.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(roc.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(roc.thresholds).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1]);
    expect(trapezoidArea(roc.fpr, roc.tpr)).toBe(0.75);
  });

  it('refuses scores of one class only', () => {
    expect(() => rocCurve([1, 2], [0, 0])).toThrow(RangeError);
    expect(() => rocCurve([1, 2], [1, 1])).toThrow(RangeError);
  });
});

describe('prCurve()', () => {
  it('ends at recall 1 with the share of positives as precision, and its best F1 is f1Max()', () => {
    const { scores, labels } = sample(500, 4);
    const pr = prCurve(scores, labels);
    expect(pr.recall.at(-1)).toBe(1);
    expect(pr.precision.at(-1)).toBeCloseTo(labels.filter(Boolean).length / labels.length, 12);
    const f1s = pr.recall.map((r, i) => (2 * r * pr.precision[i]!) / (r + pr.precision[i]! + 1e-10));
    const best = f1s.indexOf(Math.max(...f1s));
    const expected = f1Max(scores, labels);
    expect(f1s[best]).toBeCloseTo(expected.f1, 12);
    expect(pr.thresholds[best]).toBe(expected.threshold);
  });

  it('refuses scores without positives', () => {
    expect(() => prCurve([1, 2], [0, 0])).toThrow(RangeError);
  });
});

describe('downsampling a curve', () => {
  it('keeps a short curve whole', () => {
    expect(downsampleIndices([0, 0.5, 1], [0, 1, 1], 512)).toEqual([0, 1, 2]);
  });

  it('keeps at most max points, both ends, and the ROC area within 2 / max of auroc()', () => {
    const { scores, labels } = sample(20_000, 5, 0.8, 4);
    const roc = rocCurve(scores, labels);
    expect(roc.fpr.length).toBeGreaterThan(5000);
    const small = downsampleCurve(roc, 'fpr', 'tpr', 512);
    expect(small.fpr.length).toBeLessThanOrEqual(512);
    expect(small.fpr.length).toBeGreaterThan(400);
    expect([small.fpr[0], small.tpr[0], small.fpr.at(-1), small.tpr.at(-1)]).toEqual([0, 0, 1, 1]);
    expect(Math.abs(trapezoidArea(small.fpr, small.tpr) - auroc(scores, labels))).toBeLessThan(2 / 512);
    expect(Object.keys(small).sort()).toEqual(['fpr', 'tpr']);
  });

  it('keeps the PRO curve of a million-pixel evaluation to a chartable size', () => {
    const rng = new Random(6);
    const maps = Array.from({ length: 16 }, (_, k) => {
      const map = Float32Array.from({ length: 256 * 256 }, () => rng.normal());
      const mask = new Uint8Array(256 * 256);
      for (let y = 40 + k; y < 80 + k; y++) for (let x = 40; x < 90; x++) { mask[y * 256 + x] = 1; map[y * 256 + x]! += 1.2; }
      return { map, mask, width: 256, height: 256 };
    });
    const pro = proCurve(maps, 0.3);
    const small = downsampleCurve(pro, 'fpr', 'pro', 512);
    expect(small.fpr.length).toBeLessThanOrEqual(512);
    expect(Math.abs(trapezoidArea(small.fpr, small.pro) - trapezoidArea(pro.fpr, pro.pro))).toBeLessThan(2 / 512);
  });
});
