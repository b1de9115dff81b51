/**
 * Stored evaluation records read for the Evaluate screen: recall per defect type at the model's current
 * threshold (thresholds are versioned apart from models, so it is computed from the record's frozen
 * scores when read, never stored).
 */
import type { DefectRecall, Evaluation } from '../api/contract.ts';
import { evaluations, models, thresholds, type Project } from '../store/index.ts';

/**
 * Per defect type, the share of its defective images that the threshold does not pass (fail, or
 * review when it has a review band: a human looks at those, none escapes). Types in name order,
 * images without a type last.
 */
export function recallByDefectType(images: readonly evaluations.EvaluatedImage[], threshold: thresholds.Threshold): DefectRecall[] {
  const byType = new Map<string | null, { images: number; caught: number }>();
  for (const image of images) {
    if (image.verdict !== 'defective') continue;
    const entry = byType.get(image.defectType) ?? { images: 0, caught: 0 };
    entry.images++;
    if (thresholds.decide(threshold, image.score) !== 'pass') entry.caught++;
    byType.set(image.defectType, entry);
  }
  return [...byType.entries()]
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)))
    .map(([defectType, { images: n, caught }]) => ({ defectType, images: n, caught, recall: caught / n }));
}

/** The model's latest evaluation with its current threshold and the recall per defect type there; null before any. */
export function latestEvaluation(p: Project, modelId: number): Evaluation | null {
  const model = models.get(p, modelId);
  const record = evaluations.latest(p, model.id);
  if (!record) return null;
  const threshold = thresholds.latest(p, model.id) ?? null;
  return { record: { ...record, images: [...record.images] }, threshold, recallByDefectType: threshold ? recallByDefectType(record.images, threshold) : [] };
}
