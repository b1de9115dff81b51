import { describe, expect, it } from 'vitest';
import { lcg } from '../fixtures/lcg.ts';
import { auroc } from '../../src-main/metrics/auroc.ts';

describe('auroc', () => {
  it('counts the fraction of (positive, negative) pairs ranked correctly', () => {
    // Positives 0.35, 0.8; negatives 0.1, 0.4. Pairs won: 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3 of 4.
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });

  it('counts a tied pair as one half', () => {
    // Positives 0.5, 0.9; negatives 0.5, 0.1: (0.5,0.5)=1/2, the other three pairs won -> 3.5 / 4.
    expect(auroc([0.5, 0.9, 0.5, 0.1], [1, 1, 0, 0])).toBe(0.875);
  });

  it('is 0.5 when all scores are equal', () => {
    expect(auroc(new Float32Array(10).fill(0.3), [1, 0, 0, 1, 0, 1, 1, 0, 0, 0])).toBe(0.5);
  });

  it('is 1 for a perfect separation and 0 for an inverted one', () => {
    const labels = [0, 0, 0, 1, 1];
    expect(auroc([0.1, 0.2, 0.3, 0.4, 0.5], labels)).toBe(1);
    expect(auroc([0.5, 0.4, 0.3, 0.2, 0.1], labels)).toBe(0);
  });

  it('gives the same value for float32, float64 and plain-array inputs', () => {
    const scores = [0.25, 0.75, 0.5, 0.5, 1];
    const labels = Uint8Array.from([0, 1, 0, 1, 1]);
    const expected = auroc(scores, labels);
    expect(auroc(Float32Array.from(scores), labels)).toBe(expected);
    expect(auroc(Float64Array.from(scores), labels)).toBe(expected);
  });

  it('matches scipy rank statistics and the sklearn ROC trapezoid on 5000 scores with heavy ties', () => {
    // 5000 scores quantised to 200 float32 levels, labels correlated with the score (2031 positives).
    // Expected: python3 + numpy/scipy, (sum of scipy.stats.rankdata ranks of positives - n1(n1+1)/2) / (n1 n0)
    // = 0.66884766416933616; a sklearn-style roc_curve + trapezoid gives 0.66884766416933628.
    const next = lcg(42);
    const scores = new Float32Array(5000);
    const labels = new Uint8Array(5000);
    for (let i = 0; i < scores.length; i++) {
      scores[i] = Math.floor(next() * 200) / 200;
      labels[i] = next() < 0.15 + 0.5 * scores[i]! ? 1 : 0;
    }
    expect(auroc(scores, labels)).toBeCloseTo(0.66884766416933616, 14);
  });

  it('throws a RangeError naming the missing class when there are no positives or no negatives', () => {
    expect(() => auroc([0.1, 0.2], [0, 0])).toThrow(/no positive/);
    expect(() => auroc([0.1, 0.2], [1, 1])).toThrow(/no negative/);
    expect(() => auroc([], [])).toThrow(RangeError);
  });

  it('throws a RangeError when scores and labels differ in length', () => {
    expect(() => auroc([0.1, 0.2, 0.3], [0, 1])).toThrow(RangeError);
  });
});
