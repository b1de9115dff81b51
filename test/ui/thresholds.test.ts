/**
 * The threshold studio's arithmetic (src-renderer/src/lib/thresholds.ts): what the screen counts as
 * an escape, a false reject or a review must be what the station will decide.
 */
import { describe, expect, it } from 'vitest';
import { decide as stationDecide, type Threshold } from '../../src-main/store/thresholds.ts';
import {
  count, decide, falseRejectThreshold, goodPercentile, histogram, justAbove, mistakes, pixelModeOf, pixelSuggestion, pixelThresholdOf, scoreRange,
  zeroEscapeThreshold, type LabelledScore, type Policy,
} from '../../src-renderer/src/lib/thresholds.ts';
import { lcg } from '../fixtures/lcg.ts';

const scores: LabelledScore[] = [
  { score: 1, verdict: 'good' }, { score: 2, verdict: 'good' }, { score: 3, verdict: 'good' }, { score: 5, verdict: 'good' },
  { score: 4, verdict: 'defective' }, { score: 6, verdict: 'defective' }, { score: 9, verdict: 'defective' },
  { score: 7, verdict: 'unlabelled' },
];

function stored(policy: Policy): Threshold {
  return {
    id: 1, modelId: 1, version: 1, imageThreshold: policy.threshold, pixelThreshold: null,
    reviewLow: policy.band?.low ?? null, reviewHigh: policy.band?.high ?? null, note: '', createdAt: '',
  };
}

describe('decide()', () => {
  it('fails a score equal to the threshold', () => {
    expect(decide(4, { threshold: 4, band: null })).toBe('fail');
    expect(decide(3.99, { threshold: 4, band: null })).toBe('pass');
  });

  it('sends [low, high) to review with a band', () => {
    const policy = { threshold: 4, band: { low: 3, high: 5 } };
    expect([2.9, 3, 4.9, 5].map((s) => decide(s, policy))).toEqual(['pass', 'review', 'review', 'fail']);
  });

  it('agrees with the station on random scores and policies', () => {
    const rand = lcg(7);
    for (let i = 0; i < 2000; i++) {
      const threshold = rand() * 10;
      const band = rand() < 0.5 ? null : { low: threshold - rand() * 2, high: threshold + rand() * 2 };
      const policy = { threshold, band };
      const s = rand() < 0.1 ? threshold : rand() * 12;
      expect(decide(s, policy)).toBe(stationDecide(stored(policy), s));
    }
  });
});

describe('count()', () => {
  it('counts escapes, false rejects and reviews over labelled images only', () => {
    const c = count(scores, { threshold: 4.5, band: null });
    expect(c.escapes).toBe(1);
    expect(c.falseRejects).toBe(1);
    expect(c.review).toBe(0);
    expect(c.good).toEqual({ pass: 3, review: 0, fail: 1 });
    expect(c.defective).toEqual({ pass: 1, review: 0, fail: 2 });
    expect(c.escapeRate).toBeCloseTo(1 / 3);
  });

  it('moves the band into review', () => {
    const c = count(scores, { threshold: 4.5, band: { low: 3.5, high: 5.5 } });
    expect(c).toMatchObject({ escapes: 0, falseRejects: 0, review: 2 });
  });

  it('lists the images behind the counts, worst first: escapes by lowest score, false rejects by highest', () => {
    const wrong = mistakes(scores, { threshold: 6.5, band: null });
    expect(wrong.escapes.map((s) => s.score)).toEqual([4, 6]);
    expect(mistakes(scores, { threshold: 2.5, band: null }).falseRejects.map((s) => s.score)).toEqual([5, 3]);
    expect(wrong.escapes.length).toBe(count(scores, { threshold: 6.5, band: null }).escapes);
    // the band's images go to a person: they are neither
    expect(mistakes(scores, { threshold: 4.5, band: { low: 3.5, high: 5.5 } })).toEqual({ escapes: [], falseRejects: [] });
  });
});

describe('presets', () => {
  it('zero escapes: the lowest threshold at which every defect fails', () => {
    const t = zeroEscapeThreshold(scores)!;
    expect(t).toBe(4);
    expect(count(scores, { threshold: t, band: null }).escapes).toBe(0);
    expect(count(scores, { threshold: justAbove(t), band: null }).escapes).toBe(1);
  });

  it('at most a share of false rejects', () => {
    expect(count(scores, { threshold: falseRejectThreshold(scores, 0)!, band: null }).falseRejects).toBe(0);
    expect(count(scores, { threshold: falseRejectThreshold(scores, 0.25)!, band: null }).falseRejects).toBe(1);
    expect(falseRejectThreshold(scores, 0.25)).toBe(justAbove(3));
    expect(falseRejectThreshold(scores, 1)).toBe(1);
    expect(falseRejectThreshold([{ score: 1, verdict: 'defective' }], 0.1)).toBeNull();
  });

  it('justAbove() is the next double', () => {
    for (const v of [0, 1, -1, 1e-300, -2.5, 123456.789]) {
      const up = justAbove(v);
      expect(up).toBeGreaterThan(v);
      expect((v + up) / 2 === v || (v + up) / 2 === up).toBe(true);
    }
  });
});

describe('histogram() and scoreRange()', () => {
  it('bins every labelled score once, the maximum in the last bin', () => {
    const { lo, hi } = scoreRange(scores);
    expect(lo).toBeLessThan(1);
    expect(hi).toBeGreaterThan(9);
    const bins = histogram(scores, 5, 1, 9);
    expect(bins.reduce((a, b) => a + b.good + b.defective, 0)).toBe(7);
    expect(bins[4]!.defective).toBe(1);
  });

  it('gives the percentile of a score among good images', () => {
    expect(goodPercentile(scores, 3)).toBe(50);
    expect(goodPercentile([], 3)).toBeNull();
  });
});

describe('the pixel threshold', () => {
  it('names where the suggestion comes from: evaluation, else the training pixel scores', () => {
    expect(pixelSuggestion(null, { pixelF1Threshold: 0.4 })).toBeNull();
    expect(pixelSuggestion(0.4, { pixelF1Threshold: 0.4, pixelImages: 7, trainingScores: { pixelP99: 0.3 } })!.source).toMatch(/pixel F1.*7 evaluated images/);
    expect(pixelSuggestion(0.3, { pixelF1Threshold: null, trainingScores: { pixelP99: 0.3 } })!.source).toMatch(/99th percentile/);
    expect(pixelSuggestion(0.3, null)).toEqual({ value: 0.3, source: expect.any(String) as string });
  });

  it('maps a saved version back to its choice, and a choice to the value saved', () => {
    expect(pixelModeOf(null, 5, 0.4)).toBe('none');
    expect(pixelModeOf(0.4, 5, 0.4)).toBe('suggested');
    expect(pixelModeOf(5, 5, 0.4)).toBe('image');
    expect(pixelModeOf(5, 5, 5)).toBe('suggested');
    expect(pixelModeOf(2, 5, null)).toBe('custom');
    expect(pixelThresholdOf('suggested', 5, 0.4, null)).toBe(0.4);
    expect(pixelThresholdOf('image', 5, 0.4, 2)).toBe(5);
    expect(pixelThresholdOf('custom', 5, 0.4, 2)).toBe(2);
    expect(pixelThresholdOf('custom', 5, 0.4, null)).toBeNull();
    expect(pixelThresholdOf('none', 5, 0.4, 2)).toBeNull();
  });
});
