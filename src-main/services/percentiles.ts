/**
 * Scores a person understands: an image score as its percentile among good parts the model was not
 * fitted on (the good validation images, else the good test images), e.g. "above 99.2 % of good parts".
 */
import { results, type Project } from '../store/index.ts';

export interface GoodReference {
  /** Ascending scores of the reference good parts. */
  readonly scores: Float64Array;
  /** Which labelled split they come from (null: the model has scored no good parts yet). */
  readonly split: 'validation' | 'test' | null;
}

export function goodReference(p: Project, modelId: number): GoodReference {
  for (const split of ['validation', 'test'] as const) {
    const scores = results.goodScores(p, modelId, split);
    if (scores.length > 0) return { scores, split };
  }
  return { scores: new Float64Array(0), split: null };
}

/** Percent (0-100) of the reference scores strictly below `score`; null without a reference. */
export function goodPercentile(ref: GoodReference, score: number): number | null {
  const s = ref.scores;
  if (s.length === 0) return null;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! < score) lo = mid + 1;
    else hi = mid;
  }
  return (100 * lo) / s.length;
}
