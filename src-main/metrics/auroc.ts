import { splitByLabelSorted } from './sorted.ts';

/**
 * Area under the ROC curve, equal to sklearn's `roc_auc_score`: the Mann–Whitney U statistic
 * (pairs with the positive scored higher, ties counted 1/2) over n_pos * n_neg.
 * Labels: non-zero = positive (defect). Throws RangeError without positives or negatives.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { positives, negatives } = splitByLabelSorted(scores, labels);
  if (positives.length === 0) throw new RangeError('AUROC is undefined: no positive (defect) samples');
  if (negatives.length === 0) throw new RangeError('AUROC is undefined: no negative (normal) samples');

  // Twice U is an integer, exact in a double while 2 * n_pos * n_neg < 2^53 (~1e8 samples).
  let twiceU = 0;
  let below = 0; // negatives strictly below the current positive value
  let p = 0;
  while (p < positives.length) {
    const value = positives[p]!;
    let tiedPositives = 0;
    while (p < positives.length && positives[p] === value) {
      tiedPositives++;
      p++;
    }
    while (below < negatives.length && negatives[below]! < value) below++;
    let tiedNegatives = 0;
    while (below + tiedNegatives < negatives.length && negatives[below + tiedNegatives] === value) tiedNegatives++;
    twiceU += tiedPositives * (2 * below + tiedNegatives);
  }
  return twiceU / 2 / (positives.length * negatives.length);
}
