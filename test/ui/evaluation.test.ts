/** The Evaluate screen's arithmetic and wording (src-renderer/src/lib/evaluation.ts). */
import { describe, expect, it } from 'vitest';
import { operatingPoint, pct, points, verdictWords } from '../../src-renderer/src/lib/evaluation.ts';

const image = (score: number, verdict: 'good' | 'defective') => ({ imageId: 1, score, verdict, defectType: null, split: 'test' as const });

describe('operatingPoint()', () => {
  it('places a threshold on the ROC and precision-recall curves (defect when score >= threshold)', () => {
    const images = [image(1, 'good'), image(2, 'good'), image(3, 'defective'), image(2.5, 'defective'), image(0.5, 'defective')];
    expect(operatingPoint(images, 2)).toEqual({ fpr: 0.5, tpr: 2 / 3, precision: 2 / 3 });
    expect(operatingPoint(images, 10)).toEqual({ fpr: 0, tpr: 0, precision: null });
    expect(operatingPoint(images.filter((i) => i.verdict === 'good'), 2)).toBeNull();
  });
});

describe('wording', () => {
  it('says whether a difference is clear, and which way', () => {
    expect(verdictWords({ difference: 0.03, low: 0.01, high: 0.05, excludesZero: true }, 'v3', 'v2')).toBe('v3 is better than v2: the interval excludes zero');
    expect(verdictWords({ difference: -0.03, low: -0.05, high: -0.01, excludesZero: true }, 'v1', 'v2')).toBe('v1 is worse than v2: the interval excludes zero');
    expect(verdictWords({ difference: 0.01, low: -0.01, high: 0.03, excludesZero: false }, 'v3', 'v2')).toBe('no clear difference: the interval includes zero');
  });

  it('writes fractions as percentages and differences as signed points', () => {
    expect(pct(0.93751)).toBe('93.75');
    expect(pct(null)).toBe('–');
    expect(points(0.031)).toBe('+3.10');
    expect(points(-0.0042)).toBe('−0.42');
    expect(points(0)).toBe('0.00');
  });
});
