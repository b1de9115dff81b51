import { describe, expect, it } from 'vitest';
import { lcg } from '../fixtures/lcg.ts';
import { f1Max } from '../../src-main/metrics/f1max.ts';

describe('f1Max', () => {
  it('tries every distinct score as a threshold with prediction = score >= threshold', () => {
    // Positives 0.35, 0.8; negatives 0.1, 0.4. Per threshold (tp, fp) -> F1:
    // 0.1 (2,2) -> P 1/2 R 1 -> 2/3;  0.35 (2,1) -> P 2/3 R 1 -> 0.8;
    // 0.4 (1,1) -> 1/2;               0.8 (1,0) -> P 1 R 1/2 -> 2/3.
    const result = f1Max([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(result.f1).toBeCloseTo(0.8, 9); // 2PR / (P + R + 1e-10) = 0.799999999952
    expect(result.threshold).toBe(0.35);
    expect(result.precision).toBeCloseTo(2 / 3, 15);
    expect(result.recall).toBe(1);
  });

  it('returns the lowest threshold among equal maxima, as torch.argmax over ascending thresholds', () => {
    // Thresholds 1 (tp 2, fp 2) and 4 (tp 1, fp 0) both give P*R = 1/2 and P + R = 3/2.
    const result = f1Max([1, 2, 3, 4], [1, 0, 0, 1]);
    expect(result.threshold).toBe(1);
    expect(result.f1).toBeCloseTo(2 / 3, 9);
  });

  it('reaches F1 = 1 at the lowest positive score for a perfect separation', () => {
    const result = f1Max([0.1, 0.2, 0.6, 0.7], [0, 0, 1, 1]);
    expect(result.f1).toBeCloseTo(1, 9);
    expect(result.threshold).toBe(0.6);
  });

  it('with all scores equal predicts everything defective: P = positive share, R = 1', () => {
    const result = f1Max(new Float32Array(4).fill(0.5), [1, 0, 0, 0]);
    expect(result).toMatchObject({ threshold: 0.5, precision: 0.25, recall: 1 });
    expect(result.f1).toBeCloseTo(0.4, 9);
  });

  it('with an inverted ranking the best is to flag everything', () => {
    const result = f1Max([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]);
    expect(result.threshold).toBe(0.1);
    expect(result.f1).toBeCloseTo(2 / 3, 9);
  });

  it('matches a numpy port of torchmetrics + anomalib F1Max on 5000 tied scores', () => {
    // Same data as the AUROC cross-check (seed 42). Expected from python3 + numpy: sort descending,
    // tps/fps at the last index of each tie group, reverse, append (P 1, R 0), argmax of F1.
    const next = lcg(42);
    const scores = new Float32Array(5000);
    const labels = new Uint8Array(5000);
    for (let i = 0; i < scores.length; i++) {
      scores[i] = Math.floor(next() * 200) / 200;
      labels[i] = next() < 0.15 + 0.5 * scores[i]! ? 1 : 0;
    }
    const result = f1Max(scores, labels);
    expect(result.f1).toBeCloseTo(0.61168258628680039, 14);
    expect(result.threshold).toBe(0.33000001311302185);
    expect(result.precision).toBeCloseTo(0.48784060943451507, 14);
    expect(result.recall).toBeCloseTo(0.8197932053175776, 14);
  });

  it('throws a RangeError when there are no positives', () => {
    expect(() => f1Max([0.1, 0.2], [0, 0])).toThrow(/no positive/);
  });

  it('is defined without negatives: every threshold has precision 1', () => {
    const result = f1Max([0.3, 0.7], [1, 1]);
    expect(result.threshold).toBe(0.3);
    expect(result.f1).toBeCloseTo(1, 9);
  });
});
