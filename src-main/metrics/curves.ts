/**
 * The curves behind the image metrics, for charts and stored evaluation records: ROC (its trapezoid
 * area is exactly auroc(): ties between classes make diagonal segments, the Mann–Whitney ½) and
 * precision-recall (sklearn's `precision_recall_curve` points). A point per distinct score; charts
 * and records keep at most a few hundred of them (downsampleCurve).
 */
import { thresholdSweep } from './sorted.ts';

export interface RocCurve {
  readonly fpr: number[];
  readonly tpr: number[];
  /** The score threshold of each point (defect when score >= threshold); +Infinity at (0, 0). */
  readonly thresholds: number[];
}

export interface PrCurve {
  readonly recall: number[];
  readonly precision: number[];
  readonly thresholds: number[];
}

/** The ROC curve from (0, 0) to (1, 1). Throws RangeError without positives or negatives. */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCurve {
  const points: Array<[number, number, number]> = [[Infinity, 0, 0]];
  const { positives, negatives } = thresholdSweep(scores, labels, (t, tp, fp) => points.push([t, tp, fp]));
  if (positives === 0) throw new RangeError('ROC curve is undefined: no positive (defect) samples');
  if (negatives === 0) throw new RangeError('ROC curve is undefined: no negative (normal) samples');
  return {
    fpr: points.map(([, , fp]) => fp / negatives),
    tpr: points.map(([, tp]) => tp / positives),
    thresholds: points.map(([t]) => t),
  };
}

/**
 * Precision and recall at each distinct score, from the highest threshold (lowest recall) to the
 * lowest (recall 1). Throws RangeError without positives.
 */
export function prCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrCurve {
  const points: Array<[number, number, number]> = [];
  const { positives } = thresholdSweep(scores, labels, (t, tp, fp) => points.push([t, tp, fp]));
  if (positives === 0) throw new RangeError('precision-recall curve is undefined: no positive (defect) samples');
  return {
    recall: points.map(([, tp]) => tp / positives),
    precision: points.map(([, tp, fp]) => tp / (tp + fp)),
    thresholds: points.map(([t]) => t),
  };
}

/** Trapezoid area under a curve given by its points in order. */
export function trapezoidArea(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return area;
}

/**
 * Indices of at most `max` points of a curve, both ends kept, spread evenly along its path length
 * (|Δx| + |Δy|), so steep and flat stretches keep their shape alike. For a monotone curve (ROC, PRO)
 * the trapezoid area of the kept points differs from the full one by at most about 2 / max.
 */
export function downsampleIndices(x: ArrayLike<number>, y: ArrayLike<number>, max = 512): number[] {
  const n = x.length;
  if (max < 2) throw new RangeError(`a curve needs at least 2 points, got max ${max}`);
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const along = new Float64Array(n);
  for (let i = 1; i < n; i++) along[i] = along[i - 1]! + Math.abs(x[i]! - x[i - 1]!) + Math.abs(y[i]! - y[i - 1]!);
  const total = along[n - 1]!;
  const kept = [0];
  let i = 0;
  for (let k = 1; k < max - 1; k++) {
    const target = (total * k) / (max - 1);
    while (i < n - 1 && along[i]! < target) i++;
    if (i > kept[kept.length - 1]! && i < n - 1) kept.push(i);
  }
  kept.push(n - 1);
  return kept;
}

/** The curve's (x, y) points at the downsampled indices. */
export function downsampleCurve<X extends string, Y extends string>(curve: Readonly<Record<X | Y, ArrayLike<number>>>, x: X, y: Y, max = 512): Record<X | Y, number[]> {
  const keep = downsampleIndices(curve[x], curve[y], max);
  return { [x]: keep.map((i) => curve[x][i]!), [y]: keep.map((i) => curve[y][i]!) } as Record<X | Y, number[]>;
}
