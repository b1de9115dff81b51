/**
 * Stored evaluation records read for the Evaluate screen: recall per defect type at the model's current
 * threshold (thresholds are versioned apart from models, so it is computed from the record's frozen
 * scores when read, never stored), and the paired comparison of model versions on the same images.
 */
import { performance } from 'node:perf_hooks';
import { ApiError, type DefectRecall, type Evaluation, type EvaluationComparison } from '../api/contract.ts';
import { pairedBootstrap, type ScoredMask } from '../metrics/index.ts';
import { evaluations, models, results, thresholds, type Project } from '../store/index.ts';
import { decodeMap } from './anomaly-maps.ts';
import { groundTruth } from './model-evaluation.ts';

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

/**
 * Paired comparison of model versions on their frozen test sets (metrics/bootstrap.ts pairedBootstrap):
 * the images every model's latest evaluation holds with one label; pixel metrics on those of them with
 * ground truth whose anomaly map every model has stored. Each model after the first is compared with
 * the first. Costs about resamples × pixel images × 1024 bins per model for the pixel metrics (under a
 * second for a hundred images), plus reading every map once.
 */
export async function compareEvaluations(p: Project, modelIds: readonly number[]): Promise<EvaluationComparison> {
  const started = performance.now();
  if (new Set(modelIds).size !== modelIds.length) throw new ApiError('BAD_INPUT', 'each model may be named once in a comparison');
  const compared = modelIds.map((id) => {
    const model = models.get(p, id);
    const record = evaluations.latest(p, model.id);
    if (!record) throw new ApiError('CONFLICT', `model v${model.version} (id ${model.id}) has not been evaluated yet: evaluate it first`);
    return { model, record };
  });
  const productId = compared[0]!.model.productId;
  if (compared.some((c) => c.model.productId !== productId)) throw new ApiError('BAD_INPUT', 'compare versions of one product: these models belong to different products');

  // the shared frozen test set: in every record, with one label
  const byModel = compared.map((c) => new Map(c.record.images.map((i) => [i.imageId, i])));
  const everywhere = new Set(compared.flatMap((c) => c.record.images.map((i) => i.imageId)));
  const shared = compared[0]!.record.images.filter((i) => byModel.every((m) => m.get(i.imageId)?.verdict === i.verdict));
  const labels = shared.map((i) => (i.verdict === 'defective' ? 1 : 0));

  // pixel images: ground truth known now, a stored map from every model
  const pixels: ScoredMask[][] = compared.map(() => []);
  for (const image of shared) {
    const perModel: ScoredMask[] = [];
    for (const { model } of compared) {
      const result = results.findFor(p, image.imageId, model.id);
      const bytes = result && results.readMap(p, result);
      if (!bytes) break;
      const map = decodeMap(bytes);
      const mask = await groundTruth(p, { id: image.imageId, verdict: image.verdict }, map.width, map.height);
      if (!mask) break;
      perModel.push({ map: map.data, mask, width: map.width, height: map.height });
    }
    if (perModel.length === compared.length) perModel.forEach((m, k) => pixels[k]!.push(m));
  }

  const out = pairedBootstrap(labels, compared.map((c, k) => ({ scores: shared.map((i) => byModel[k]!.get(i.imageId)!.score), pixels: pixels[k]! })));
  const baseline = compared[0]!.model.id;
  return {
    baselineModelId: baseline,
    images: {
      shared: shared.length, good: labels.length - labels.filter(Boolean).length, defective: labels.filter(Boolean).length,
      pixel: pixels[0]!.length, leftOut: everywhere.size - shared.length,
    },
    models: compared.map(({ model, record }, k) => ({ modelId: model.id, version: model.version, method: model.method, evaluationId: record.id, metrics: out.metrics[k]! })),
    differences: out.differences.map((d, k) => ({ modelId: compared[k + 1]!.model.id, baselineModelId: baseline, ...d })),
    resamples: out.resamples, level: out.level, seconds: (performance.now() - started) / 1000,
  };
}
