/**
 * Training-score statistics recorded with every fitted model (FittedModel.trainingScores): each method
 * scores a few evenly spaced training images right after fitting, from what it still holds (features or
 * embeddings), and keeps these summaries in the model's meta.
 */
import type { Prediction, TrainingScores } from './method.ts';

/** Training images scored at fit time: enough for pixel percentiles, cheap next to the fit itself. */
export const TRAINING_SCORE_IMAGES = 8;

/** Up to `max` distinct, evenly spaced indices in [0, count), ascending; index 0 always among them. */
export function trainingSample(count: number, max: number = TRAINING_SCORE_IMAGES): number[] {
  const k = Math.min(max, count);
  return Array.from({ length: k }, (_, i) => Math.floor((i * count) / k));
}

/**
 * Training images held out of a fit to measure something on normal images the model has not seen
 * (CFLOW-AD's normalisation constants, per-position normalisation): max(holdoutMin, round(holdout·n)),
 * at most half of them and at most `max`, evenly spaced; their indices in arrival order.
 */
export function holdoutIndices(n: number, c: { readonly holdout: number; readonly holdoutMin: number }, max = Infinity): number[] {
  if (n < 2) return [];
  const h = Math.min(max, Math.floor(n / 2), Math.max(c.holdoutMin, Math.round(n * c.holdout)));
  return Array.from({ length: h }, (_, i) => Math.floor(((i + 0.5) * n) / h));
}

/** Linear-interpolation percentile (NumPy's default) of ascending values. */
function percentile(sorted: Float32Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summaries of the predictions for the training sample. */
export function summarizeTrainingScores(predictions: readonly Prediction[]): TrainingScores {
  if (predictions.length === 0) throw new RangeError('no training predictions to summarise');
  const pixels = new Float32Array(predictions.reduce((a, p) => a + p.map.length, 0));
  let offset = 0;
  for (const p of predictions) {
    pixels.set(p.map, offset);
    offset += p.map.length;
  }
  pixels.sort();
  const scores = predictions.map((p) => p.score);
  return {
    images: predictions.length,
    imageMean: scores.reduce((a, b) => a + b, 0) / scores.length,
    imageMax: Math.max(...scores),
    pixelMedian: percentile(pixels, 0.5),
    pixelP99: percentile(pixels, 0.99),
    pixelMax: pixels[pixels.length - 1]!,
  };
}

const FIELDS = ['images', 'imageMean', 'imageMax', 'pixelMedian', 'pixelP99', 'pixelMax'] as const;

/** A stored TrainingScores, or undefined when `value` is not one (the caller reports that). */
export function parseTrainingScores(value: unknown): TrainingScores | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (!FIELDS.every((f) => typeof o[f] === 'number' && Number.isFinite(o[f]))) return undefined;
  if (Object.keys(o).length !== FIELDS.length) return undefined;
  return Object.fromEntries(FIELDS.map((f) => [f, o[f]])) as unknown as TrainingScores;
}
