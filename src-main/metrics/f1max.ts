import { thresholdSweep } from './sorted.ts';

export interface F1Max {
  readonly f1: number;
  /** The F1-optimal threshold: a score value; predict defect when score >= threshold. */
  readonly threshold: number;
  readonly precision: number;
  readonly recall: number;
}

/**
 * Best F1 over thresholds, as anomalib's `F1Max` (torchmetrics precision-recall curve): every
 * distinct score is a threshold, prediction = score >= threshold, F1 = 2PR / (P + R + 1e-10).
 * Among equal maxima the lowest threshold wins (torch.argmax over ascending thresholds).
 * Throws RangeError without positives (recall undefined).
 */
export function f1Max(scores: ArrayLike<number>, labels: ArrayLike<number>): F1Max {
  let best = { f1: -1, threshold: NaN, tp: 0, fp: 0 };
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) positives++;
  if (positives === 0) throw new RangeError('F1 is undefined: no positive (defect) samples');
  thresholdSweep(scores, labels, (threshold, tp, fp) => {
    const f1 = f1Score(tp, fp, positives);
    if (f1 >= best.f1) best = { f1, threshold, tp, fp };
  });
  return { f1: best.f1, threshold: best.threshold, precision: best.tp / (best.tp + best.fp), recall: best.tp / positives };
}

function f1Score(truePositives: number, falsePositives: number, positiveCount: number): number {
  const precision = truePositives / (truePositives + falsePositives);
  const recall = truePositives / positiveCount;
  return (2 * precision * recall) / (precision + recall + 1e-10);
}
