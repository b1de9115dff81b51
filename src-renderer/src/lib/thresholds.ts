/**
 * Threshold arithmetic for the threshold studio, pure so it can be tested without a page.
 *
 * Decision rule (the station's, src-main/store/thresholds.ts): a score at or above the image
 * threshold fails. With a review band [low, high) (low <= threshold <= high), scores below `low`
 * pass, scores at or above `high` fail, and the band itself goes to a person.
 */

export type Decision = 'pass' | 'review' | 'fail';
export type Label = 'good' | 'defective' | 'unlabelled';

export interface Band {
  readonly low: number;
  readonly high: number;
}

export interface Policy {
  readonly threshold: number;
  readonly band: Band | null;
}

export interface LabelledScore {
  readonly score: number;
  readonly verdict: Label;
}

export function decide(score: number, policy: Policy): Decision {
  if (policy.band) {
    if (score < policy.band.low) return 'pass';
    if (score >= policy.band.high) return 'fail';
    return 'review';
  }
  return score >= policy.threshold ? 'fail' : 'pass';
}

export type Tally = Record<Decision, number>;

export interface Counts {
  readonly good: Tally;
  readonly defective: Tally;
  /** Defective images that pass: the costly mistake. */
  readonly escapes: number;
  /** Good images that fail. */
  readonly falseRejects: number;
  /** Images of either label that go to review. */
  readonly review: number;
  /** Fraction of good images that fail or go to review (the line's rejection cost). */
  readonly goodRejectedRate: number | null;
  readonly escapeRate: number | null;
}

const tally = (): Tally => ({ pass: 0, review: 0, fail: 0 });

export function count(scores: readonly LabelledScore[], policy: Policy): Counts {
  const good = tally();
  const defective = tally();
  for (const s of scores) {
    if (s.verdict === 'good') good[decide(s.score, policy)]++;
    else if (s.verdict === 'defective') defective[decide(s.score, policy)]++;
  }
  const nGood = good.pass + good.review + good.fail;
  const nDefective = defective.pass + defective.review + defective.fail;
  return {
    good, defective,
    escapes: defective.pass,
    falseRejects: good.fail,
    review: good.review + defective.review,
    goodRejectedRate: nGood ? (good.fail + good.review) / nGood : null,
    escapeRate: nDefective ? defective.pass / nDefective : null,
  };
}

/** The smallest double above `v` (a threshold "just above" a score, so that score passes). */
export function justAbove(v: number): number {
  if (!Number.isFinite(v)) return v;
  if (v === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, v);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, v > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}

/** Lowest threshold at which every labelled defect fails (null without defects). */
export function zeroEscapeThreshold(scores: readonly LabelledScore[]): number | null {
  let min = Infinity;
  for (const s of scores) if (s.verdict === 'defective' && s.score < min) min = s.score;
  return Number.isFinite(min) ? min : null;
}

/** Lowest threshold at which at most `rate` of the good images fail (null without good images). */
export function falseRejectThreshold(scores: readonly LabelledScore[], rate: number): number | null {
  const good = scores.filter((s) => s.verdict === 'good').map((s) => s.score).sort((a, b) => b - a);
  if (good.length === 0) return null;
  const allowed = Math.floor(Math.max(0, Math.min(1, rate)) * good.length + 1e-9);
  if (allowed >= good.length) return good[good.length - 1]!;
  return justAbove(good[allowed]!);
}

/**
 * The labelled images the policy gets wrong: escapes (defective images that pass), worst (lowest
 * score) first, and false rejects (good images that fail), worst (highest score) first.
 */
export function mistakes<T extends LabelledScore>(scores: readonly T[], policy: Policy): { escapes: T[]; falseRejects: T[] } {
  const escapes = scores.filter((s) => s.verdict === 'defective' && decide(s.score, policy) === 'pass').sort((a, b) => a.score - b.score);
  const falseRejects = scores.filter((s) => s.verdict === 'good' && decide(s.score, policy) === 'fail').sort((a, b) => b.score - a.score);
  return { escapes, falseRejects };
}

/** Percentile (0..100) of `value` among the good images' scores: the share of good images scoring lower. */
export function goodPercentile(scores: readonly LabelledScore[], value: number): number | null {
  let n = 0;
  let below = 0;
  for (const s of scores) {
    if (s.verdict !== 'good') continue;
    n++;
    if (s.score < value) below++;
  }
  return n ? (100 * below) / n : null;
}

export interface Bin {
  readonly from: number;
  readonly to: number;
  readonly good: number;
  readonly defective: number;
}

/** Equal-width bins over [lo, hi]; a score equal to `hi` falls in the last bin. */
export function histogram(scores: readonly LabelledScore[], bins: number, lo: number, hi: number): Bin[] {
  const width = hi > lo ? (hi - lo) / bins : 1;
  const out = Array.from({ length: bins }, (_, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, good: 0, defective: 0 }));
  for (const s of scores) {
    if (s.verdict === 'unlabelled') continue;
    const i = Math.min(bins - 1, Math.max(0, Math.floor((s.score - lo) / width)));
    out[i]![s.verdict]++;
  }
  return out;
}

/** A padded score range for the histogram's axis. */
export function scoreRange(scores: readonly LabelledScore[]): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) {
    if (s.score < lo) lo = s.score;
    if (s.score > hi) hi = s.score;
  }
  if (!Number.isFinite(lo)) return { lo: 0, hi: 1 };
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  return { lo: lo - pad, hi: hi + pad };
}

/**
 * The pixel threshold outlines defects on inspection (and measures their area): a pixel of the
 * anomaly map at or above it is defect. Without one, inspections draw no outlines.
 */
export type PixelMode = 'suggested' | 'image' | 'custom' | 'none';

export interface PixelSuggestion {
  readonly value: number;
  /** Where the value comes from, as a phrase ("the best pixel F1 …"). */
  readonly source: string;
}

/**
 * ScoreSet.suggestedPixelThreshold with where it comes from, read off the model's metrics: the pixel
 * F1-optimal threshold of its evaluation, else its training images' pixel 99th percentile.
 */
export function pixelSuggestion(suggested: number | null, metrics: Readonly<Record<string, unknown>> | null): PixelSuggestion | null {
  if (suggested === null || !Number.isFinite(suggested)) return null;
  const m = metrics ?? {};
  if (m['pixelF1Threshold'] === suggested) {
    const n = typeof m['pixelImages'] === 'number' ? m['pixelImages'] : null;
    return { value: suggested, source: `best pixel F1 on the ground-truth masks${n === null ? '' : ` of ${n} evaluated image${n === 1 ? '' : 's'}`}` };
  }
  const training = m['trainingScores'] as { pixelP99?: unknown } | undefined;
  if (training?.pixelP99 === suggested) return { value: suggested, source: "99th percentile of the training images' pixel scores" };
  return { value: suggested, source: "suggested by the model's scores" };
}

/** Which choice a saved pixel threshold corresponds to (the suggestion wins a tie with the image threshold). */
export function pixelModeOf(pixel: number | null, image: number, suggested: number | null): PixelMode {
  if (pixel === null) return 'none';
  if (pixel === suggested) return 'suggested';
  if (pixel === image) return 'image';
  return 'custom';
}

/** The pixel threshold a choice stands for (null: no outlines). */
export function pixelThresholdOf(mode: PixelMode, image: number, suggested: number | null, custom: number | null): number | null {
  if (mode === 'suggested') return suggested;
  if (mode === 'image') return image;
  if (mode === 'custom') return custom !== null && Number.isFinite(custom) ? custom : null;
  return null;
}
