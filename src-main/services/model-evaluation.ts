/**
 * Evaluation of a stored model on the product's labelled test and validation images: every image is
 * scored (and its result stored, as an inspection would), then image AUROC and F1-max, and — over
 * images with ground truth (good images count as all-normal) — pixel AUROC and AUPRO at the map's
 * resolution. The metrics land on the model and, with the curves behind them and the frozen test set,
 * in an evaluation record (store/evaluations.ts); a model without a threshold gets its F1-optimal one.
 */
import type { JobContext } from '../jobs/queue.ts';
import { aupro, auroc, bootstrapIntervals, f1Max, pooledPixels, proCurve, type ScoredMask } from '../metrics/index.ts';
import { downsampleCurve, prCurve, rocCurve } from '../metrics/curves.ts';
import { evaluations, images, jobs, masks, models, results, thresholds, type Project } from '../store/index.ts';
import { decodeMask, resizeMaskNearest } from '../vision/mask.ts';
import { encodeMap } from './anomaly-maps.ts';
import { judge, scoreImages } from './inspection.ts';

/** What lands on the model's `metrics` (merged with what training recorded there). */
export interface ModelMetrics extends evaluations.EvaluationMetrics {
  readonly evaluatedAt: string;
}

/** The FPR up to which AUPRO integrates its curve (the MVTec AD convention). */
const PRO_FPR_LIMIT = 0.3;
/** Points kept of each curve in the record. */
const CURVE_POINTS = 512;

/** Labelled images a model is evaluated on. */
export function evaluationImages(p: Project, productId: number): images.Image[] {
  return images.list(p, { productId }).filter((i) => i.split !== 'train' && i.verdict !== 'unlabelled');
}

/** The value, or null where it is undefined (a RangeError, or a non-finite number). */
function orNull<T>(f: () => T): T | null {
  try {
    const v = f();
    return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** Ground truth at the map's size: all zero for good images, the stored mask for defective ones (null without one). */
export async function groundTruth(p: Project, image: { readonly id: number; readonly verdict: string }, width: number, height: number): Promise<Uint8Array | null> {
  if (image.verdict === 'good') return new Uint8Array(width * height);
  const mask = masks.find(p, image.id, 'ground_truth');
  if (!mask) return null;
  return resizeMaskNearest(await decodeMask(masks.readPng(p, mask), `mask of image ${image.id}`), width, height).data;
}

/** The evaluate job's handler. */
export async function runModelEvaluation(p: Project, ctx: JobContext): Promise<ModelMetrics> {
  const { modelId } = ctx.job.params as { modelId: number };
  const model = models.get(p, modelId);
  const list = evaluationImages(p, model.productId);
  if (list.length === 0) throw new RangeError(`product ${model.productId} has no labelled test or validation images to evaluate on`);
  const byId = new Map(list.map((i) => [i.id, i]));
  const threshold = thresholds.latest(p, model.id);
  const scores: number[] = [];
  const labels: number[] = [];
  const evaluated: evaluations.EvaluatedImage[] = [];
  const pixel: ScoredMask[] = [];
  await scoreImages(p, model, list, ctx, async (items) => {
    const rows: results.NewResult[] = [];
    for (const item of items) {
      const image = byId.get(item.imageId)!;
      scores.push(item.score);
      labels.push(image.verdict === 'defective' ? 1 : 0);
      evaluated.push({
        imageId: image.id, verdict: image.verdict === 'defective' ? 'defective' : 'good', defectType: image.verdict === 'defective' ? image.defectType : null,
        split: image.split === 'validation' ? 'validation' : 'test', score: item.score,
      });
      const mask = await groundTruth(p, image, item.mapWidth, item.mapHeight);
      // pixels under ignore regions count for nothing (neither defect nor normal)
      if (mask) pixel.push({ map: item.map, mask, width: item.mapWidth, height: item.mapHeight, ...(item.ignore ? { ignore: item.ignore } : {}) });
      rows.push({
        imageId: item.imageId, modelId: model.id, thresholdId: threshold?.id ?? null, jobId: ctx.job.id, score: item.score,
        verdict: judge(item.score, threshold), map: encodeMap({ width: item.mapWidth, height: item.mapHeight, data: item.map }),
      });
    }
    results.addMany(p, rows);
  });
  const defective = labels.filter((l) => l === 1).length;
  const f1 = defective > 0 && defective < labels.length ? f1Max(scores, labels) : null;
  const hasPixelDefects = pixel.some((s) => s.mask.includes(1));
  let pixelAuroc: number | null = null;
  let pixelF1: { f1: number; threshold: number } | null = null;
  if (hasPixelDefects) {
    const { scores: ps, labels: pl } = pooledPixels(pixel);
    pixelAuroc = orNull(() => auroc(ps, pl));
    pixelF1 = f1Max(ps, pl);
  }
  const metrics: ModelMetrics = {
    evaluatedAt: new Date().toISOString(), images: scores.length, good: labels.length - defective, defective,
    imageAuroc: orNull(() => auroc(scores, labels)), imageF1: f1?.f1 ?? null, f1Threshold: f1?.threshold ?? null,
    pixelAuroc, aupro: hasPixelDefects ? orNull(() => aupro(pixel, PRO_FPR_LIMIT)) : null,
    pixelF1: pixelF1?.f1 ?? null, pixelF1Threshold: pixelF1?.threshold ?? null, pixelImages: pixel.length,
    intervals: bootstrapIntervals({ scores, labels }, pixel),
  };
  const { evaluatedAt: _at, ...measured } = metrics;
  evaluations.add(p, {
    modelId: model.id, thresholdId: threshold?.id ?? null, jobId: ctx.job.id, metrics: measured, images: evaluated,
    curves: evaluationCurves(scores, labels, hasPixelDefects ? pixel : []),
  });
  const earlier = (model.metrics ?? {}) as Record<string, unknown>;
  models.setMetrics(p, model.id, { ...earlier, ...metrics });
  if (!threshold && metrics.f1Threshold !== null) {
    thresholds.add(p, {
      modelId: model.id, imageThreshold: metrics.f1Threshold, pixelThreshold: metrics.pixelF1Threshold,
      note: 'suggested by evaluation: the F1-optimal image threshold (and pixel threshold, where masks allowed)',
    });
  }
  jobs.setResult(p, ctx.job.id, metrics);
  return metrics;
}

/** The curves of an evaluation as its record keeps them (at most CURVE_POINTS points each). */
export function evaluationCurves(scores: readonly number[], labels: readonly number[], pixel: readonly ScoredMask[]): evaluations.EvaluationCurves {
  const defective = labels.filter((l) => l === 1).length;
  const both = defective > 0 && defective < labels.length;
  const pro = pixel.length > 0 ? orNull(() => proCurve(pixel, PRO_FPR_LIMIT)) : null;
  return {
    roc: both ? downsampleCurve(rocCurve(scores, labels), 'fpr', 'tpr', CURVE_POINTS) : null,
    pr: defective > 0 ? downsampleCurve(prCurve(scores, labels), 'recall', 'precision', CURVE_POINTS) : null,
    pro: pro && { ...downsampleCurve(pro, 'fpr', 'pro', CURVE_POINTS), fprLimit: PRO_FPR_LIMIT },
  };
}

/** The pixel F1-optimal threshold from evaluation, else the training images' pixel 99th percentile. */
export function suggestedPixelThreshold(model: models.Model): number | null {
  const metrics = (model.metrics ?? {}) as { pixelF1Threshold?: unknown; trainingScores?: { pixelP99?: unknown } };
  if (typeof metrics.pixelF1Threshold === 'number') return metrics.pixelF1Threshold;
  return typeof metrics.trainingScores?.pixelP99 === 'number' ? metrics.trainingScores.pixelP99 : null;
}
