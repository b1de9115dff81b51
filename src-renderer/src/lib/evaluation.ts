/** The Evaluate screen's arithmetic and wording, pure so it can be tested without a page. */
import type { EvaluationComparison, EvaluationRecord } from './contract.ts';

export type MetricKey = 'imageAuroc' | 'pixelAuroc' | 'aupro' | 'imageF1' | 'pixelF1';

/** The metrics table's rows, in the order the screen shows them. */
export const METRICS: ReadonlyArray<{ readonly key: MetricKey; readonly title: string; readonly hint: string }> = [
  { key: 'imageAuroc', title: 'Image AUROC', hint: 'how well the image score ranks defective parts above good ones' },
  { key: 'pixelAuroc', title: 'Pixel AUROC', hint: 'the same over every pixel of the ground-truth masks' },
  { key: 'aupro', title: 'AUPRO (FPR ≤ 30 %)', hint: 'how much of each defect region is found, every region counting alike' },
  { key: 'imageF1', title: 'Image F1-max', hint: 'the best balance of precision and recall over image thresholds' },
  { key: 'pixelF1', title: 'Pixel F1-max', hint: 'the same for pixel thresholds (outlines)' },
];

/** A fraction as a percentage with two decimals ('93.75'), or '–'. */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : (v * 100).toFixed(2);
}

/** A difference of fractions in percentage points with its sign ('+3.10', '−0.42'). */
export function points(v: number): string {
  const s = (Math.abs(v) * 100).toFixed(2);
  return v > 0 ? `+${s}` : v < 0 ? `−${s}` : s;
}

/** Where a threshold puts the evaluated images: ROC and precision-recall coordinates (defect when score >= threshold). */
export function operatingPoint(images: EvaluationRecord['images'], threshold: number): { fpr: number; tpr: number; precision: number | null } | null {
  let tp = 0;
  let fp = 0;
  let pos = 0;
  let neg = 0;
  for (const i of images) {
    const flagged = i.score >= threshold;
    if (i.verdict === 'defective') {
      pos++;
      if (flagged) tp++;
    } else {
      neg++;
      if (flagged) fp++;
    }
  }
  if (pos === 0 || neg === 0) return null;
  return { fpr: fp / neg, tpr: tp / pos, precision: tp + fp > 0 ? tp / (tp + fp) : null };
}

/** One metric's difference in plain words. */
export function verdictWords(d: { difference: number; low: number; high: number; excludesZero: boolean }, model: string, baseline: string): string {
  if (!d.excludesZero) return `no clear difference: the interval includes zero`;
  return d.difference > 0 ? `${model} is better than ${baseline}: the interval excludes zero` : `${model} is worse than ${baseline}: the interval excludes zero`;
}

/** The comparison's images in words ('10 shared images (4 good, 6 defective); pixel metrics on 10'). */
export function sharedImagesWords(c: EvaluationComparison): string {
  const left = c.images.leftOut > 0 ? `; ${c.images.leftOut} left out (not in every evaluation, or labelled differently)` : '';
  return `${c.images.shared} shared images (${c.images.good} good, ${c.images.defective} defective); pixel metrics on ${c.images.pixel}${left}`;
}
