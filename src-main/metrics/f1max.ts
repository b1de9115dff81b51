import { splitByLabelSorted } from './sorted.ts';

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
  const { positives, negatives } = splitByLabelSorted(scores, labels);
  if (positives.length === 0) throw new RangeError('F1 is undefined: no positive (defect) samples');

  let bestF1 = -1;
  let bestThreshold = NaN;
  let bestTruePositives = 0;
  let bestFalsePositives = 0;
  let p = positives.length - 1;
  let n = negatives.length - 1;
  // Sweep thresholds from the highest score down; tp / fp count the samples at or above it.
  while (p >= 0 || n >= 0) {
    const threshold = Math.max(p >= 0 ? positives[p]! : -Infinity, n >= 0 ? negatives[n]! : -Infinity);
    while (p >= 0 && positives[p] === threshold) p--;
    while (n >= 0 && negatives[n] === threshold) n--;
    const truePositives = positives.length - 1 - p;
    const falsePositives = negatives.length - 1 - n;
    const f1 = f1Score(truePositives, falsePositives, positives.length);
    if (f1 >= bestF1) {
      bestF1 = f1;
      bestThreshold = threshold;
      bestTruePositives = truePositives;
      bestFalsePositives = falsePositives;
    }
  }
  return {
    f1: bestF1,
    threshold: bestThreshold,
    precision: bestTruePositives / (bestTruePositives + bestFalsePositives),
    recall: bestTruePositives / positives.length,
  };
}

function f1Score(truePositives: number, falsePositives: number, positiveCount: number): number {
  const precision = truePositives / (truePositives + falsePositives);
  const recall = truePositives / positiveCount;
  return (2 * precision * recall) / (precision + recall + 1e-10);
}
