/**
 * Evaluation records (migration 0007), one per 'evaluate' job: the metrics with their bootstrap
 * intervals, the curves behind them and the frozen test set (each image with its label, defect type
 * and score then). Append-only; the latest record of a model counts. Recall per defect type depends
 * on the threshold, which is versioned apart from the model, so it is computed when read
 * (services/evaluations.ts) from the stored scores.
 *
 *   evaluations.add(project, { modelId, thresholdId, jobId, metrics, curves, images });
 *   evaluations.latest(project, modelId)?.metrics.imageAuroc;
 */
import type { Interval, MetricIntervals } from '../metrics/bootstrap.ts';
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkFinite, checkId, checkInt, checkOneOf, checkOptionalFinite, checkOptionalId, checkString, invalidParameterError, toJson } from './validate.ts';

/** What an evaluation measured on its images (also merged into the model's `metrics`). */
export interface EvaluationMetrics {
  readonly images: number;
  readonly good: number;
  readonly defective: number;
  readonly imageAuroc: number | null;
  readonly imageF1: number | null;
  readonly f1Threshold: number | null;
  readonly pixelAuroc: number | null;
  readonly aupro: number | null;
  /** Best pixel F1 over the ground-truth masks and the pixel threshold that reaches it. */
  readonly pixelF1: number | null;
  readonly pixelF1Threshold: number | null;
  /** Images with pixel ground truth (good ones, and defective ones with a mask). */
  readonly pixelImages: number;
  /** 95 % bootstrap confidence intervals over the evaluated images (metrics/bootstrap.ts). */
  readonly intervals: MetricIntervals;
}

/** Curves at most a few hundred points long (metrics/curves.ts downsampleCurve). */
export interface EvaluationCurves {
  /** Image ROC; its trapezoid area is the image AUROC up to the downsampling. */
  readonly roc: { readonly fpr: number[]; readonly tpr: number[] } | null;
  readonly pr: { readonly recall: number[]; readonly precision: number[] } | null;
  /** The per-region overlap curve behind AUPRO, up to the FPR limit (`fprLimit`) it integrates to. */
  readonly pro: { readonly fpr: number[]; readonly pro: number[]; readonly fprLimit: number } | null;
}

export const EVALUATED_VERDICTS = ['good', 'defective'] as const;
export const EVALUATED_SPLITS = ['validation', 'test'] as const;

export interface EvaluatedImage {
  readonly imageId: number;
  readonly verdict: (typeof EVALUATED_VERDICTS)[number];
  readonly defectType: string | null;
  readonly split: (typeof EVALUATED_SPLITS)[number];
  readonly score: number;
}

export interface NewEvaluation {
  readonly modelId: number;
  readonly thresholdId?: number | null;
  readonly jobId?: number | null;
  readonly metrics: EvaluationMetrics;
  readonly curves: EvaluationCurves;
  readonly images: readonly EvaluatedImage[];
}

export interface EvaluationRecord {
  readonly id: number;
  readonly modelId: number;
  readonly productId: number;
  readonly thresholdId: number | null;
  readonly jobId: number | null;
  readonly evaluatedAt: string;
  readonly metrics: EvaluationMetrics;
  readonly curves: EvaluationCurves;
  /** The frozen test set, in image id order. */
  readonly images: readonly EvaluatedImage[];
}

interface Row {
  id: number; model_id: number; product_id: number; threshold_id: number | null; job_id: number | null; evaluated_at: string;
  metrics_json: string; curves_json: string;
}
interface ImageRow { image_id: number; verdict: EvaluatedImage['verdict']; defect_type: string | null; split: EvaluatedImage['split']; score: number }

const METRIC_KEYS = ['imageAuroc', 'imageF1', 'f1Threshold', 'pixelAuroc', 'aupro', 'pixelF1', 'pixelF1Threshold'] as const;
const INTERVAL_KEYS = ['imageAuroc', 'imageF1', 'pixelAuroc', 'pixelF1', 'aupro'] as const;

function checkObject(name: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParameterError(name, 'an object', v);
  return v as Record<string, unknown>;
}

function checkInterval(name: string, v: unknown): Interval | null {
  if (v === null) return null;
  const o = checkObject(name, v);
  const low = checkFinite(`${name}.low`, o['low']);
  const high = checkFinite(`${name}.high`, o['high']);
  if (low > high) throw new RangeError(`expected ${name}.low <= ${name}.high, received ${low} > ${high}`);
  return { low, high };
}

function checkMetrics(v: unknown): EvaluationMetrics {
  const o = checkObject('metrics', v);
  const iv = checkObject('metrics.intervals', o['intervals']);
  const intervals = Object.fromEntries(INTERVAL_KEYS.map((k) => [k, checkInterval(`metrics.intervals.${k}`, iv[k] ?? null)])) as Record<(typeof INTERVAL_KEYS)[number], Interval | null>;
  const values = Object.fromEntries(METRIC_KEYS.map((k) => [k, checkOptionalFinite(`metrics.${k}`, o[k])])) as Record<(typeof METRIC_KEYS)[number], number | null>;
  return {
    images: checkInt('metrics.images', o['images'], 0), good: checkInt('metrics.good', o['good'], 0), defective: checkInt('metrics.defective', o['defective'], 0),
    ...values, pixelImages: checkInt('metrics.pixelImages', o['pixelImages'], 0),
    intervals: { ...intervals, resamples: checkInt('metrics.intervals.resamples', iv['resamples'], 0), level: checkFinite('metrics.intervals.level', iv['level']) },
  };
}

/** Two number arrays of one length, each value finite. */
function checkPoints<A extends string, B extends string>(name: string, v: unknown, a: A, b: B): Record<A | B, number[]> | null {
  if (v === null || v === undefined) return null;
  const o = checkObject(name, v);
  const arrays = [a, b].map((k) => {
    const values = o[k];
    if (!Array.isArray(values)) throw invalidParameterError(`${name}.${k}`, 'an array of numbers', values);
    if (values.length > 10_000) throw new RangeError(`expected at most 10000 points for ${name}.${k} (downsample the curve), received ${values.length}`);
    return values.map((x, i) => checkFinite(`${name}.${k}[${i}]`, x));
  });
  if (arrays[0]!.length !== arrays[1]!.length) throw new RangeError(`expected ${name}.${a} and ${name}.${b} of one length, received ${arrays[0]!.length} and ${arrays[1]!.length}`);
  return { [a]: arrays[0]!, [b]: arrays[1]! } as Record<A | B, number[]>;
}

function checkCurves(v: unknown): EvaluationCurves {
  const o = checkObject('curves', v);
  const pro = checkPoints('curves.pro', o['pro'], 'fpr', 'pro');
  return {
    roc: checkPoints('curves.roc', o['roc'], 'fpr', 'tpr'),
    pr: checkPoints('curves.pr', o['pr'], 'recall', 'precision'),
    pro: pro && { ...pro, fprLimit: checkFinite('curves.pro.fprLimit', checkObject('curves.pro', o['pro'])['fprLimit']) },
  };
}

function checkImages(v: unknown): EvaluatedImage[] {
  if (!Array.isArray(v)) throw invalidParameterError('images', 'an array of evaluated images', v);
  const seen = new Set<number>();
  return v.map((x: unknown, i) => {
    const o = checkObject(`images[${i}]`, x);
    const imageId = checkId(`images[${i}].imageId`, o['imageId']);
    if (seen.has(imageId)) throw new RangeError(`image ${imageId} appears twice in the evaluated images`);
    seen.add(imageId);
    return {
      imageId,
      verdict: checkOneOf(`images[${i}].verdict`, o['verdict'], EVALUATED_VERDICTS),
      defectType: o['defectType'] === null || o['defectType'] === undefined ? null : checkString(`images[${i}].defectType`, o['defectType'], { min: 1, max: 200 }),
      split: checkOneOf(`images[${i}].split`, o['split'], EVALUATED_SPLITS),
      score: checkFinite(`images[${i}].score`, o['score']),
    };
  });
}

function toRecord(p: Project, r: Row): EvaluationRecord {
  const rows = p.statement('SELECT image_id, verdict, defect_type, split, score FROM evaluation_images WHERE evaluation_id = ? ORDER BY image_id').all(r.id) as ImageRow[];
  let metrics: EvaluationMetrics;
  let curves: EvaluationCurves;
  try {
    metrics = checkMetrics(JSON.parse(r.metrics_json));
    curves = checkCurves(JSON.parse(r.curves_json));
  } catch (err) {
    throw new StoreError('PROJECT_CORRUPT', `evaluation ${r.id} in ${p.dir} is unreadable (${(err as Error).message}); evaluate the model again`);
  }
  return {
    id: r.id, modelId: r.model_id, productId: r.product_id, thresholdId: r.threshold_id, jobId: r.job_id, evaluatedAt: r.evaluated_at,
    metrics, curves,
    images: rows.map((x) => ({ imageId: x.image_id, verdict: x.verdict, defectType: x.defect_type, split: x.split, score: x.score })),
  };
}

/** Stores the record of an evaluation of a model (its product is the model's). */
export function add(p: Project, input: NewEvaluation): EvaluationRecord {
  checkObject('evaluation', input);
  const modelId = checkId('modelId', input.modelId);
  const thresholdId = checkOptionalId('thresholdId', input.thresholdId);
  const jobId = checkOptionalId('jobId', input.jobId);
  const metrics = toJson('metrics', checkMetrics(input.metrics));
  const curves = toJson('curves', checkCurves(input.curves));
  const list = checkImages(input.images);
  const id = p.transaction(() => {
    const model = p.statement('SELECT product_id FROM models WHERE id = ?').get(modelId) as { product_id: number } | undefined;
    if (!model) throw new StoreError('NOT_FOUND', `no model ${modelId} in project ${p.dir}`);
    const row = p.statement(
      `INSERT INTO evaluations (model_id, product_id, threshold_id, job_id, evaluated_at, metrics_json, curves_json)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(modelId, model.product_id, thresholdId, jobId, nowIso(), metrics, curves) as { id: number };
    const insert = p.statement('INSERT INTO evaluation_images (evaluation_id, image_id, verdict, defect_type, split, score) VALUES (?, ?, ?, ?, ?, ?)');
    for (const i of list) insert.run(row.id, i.imageId, i.verdict, i.defectType, i.split, i.score);
    return row.id;
  });
  return get(p, id);
}

export function get(p: Project, id: number): EvaluationRecord {
  return p.guard(() => {
    const r = p.statement('SELECT * FROM evaluations WHERE id = ?').get(checkId('id', id)) as Row | undefined;
    if (!r) throw new StoreError('NOT_FOUND', `no evaluation ${id} in project ${p.dir}`);
    return toRecord(p, r);
  });
}

/** The model's latest evaluation record, if it was ever evaluated. */
export function latest(p: Project, modelId: number): EvaluationRecord | undefined {
  return p.guard(() => {
    const r = p.statement('SELECT * FROM evaluations WHERE model_id = ? ORDER BY id DESC LIMIT 1').get(checkId('modelId', modelId)) as Row | undefined;
    return r && toRecord(p, r);
  });
}

/** A product's evaluation records (every model, every re-evaluation), newest first; `latestOnly` keeps one per model. */
export function list(p: Project, filter: { productId: number; latestOnly?: boolean }): EvaluationRecord[] {
  const productId = checkId('productId', filter.productId);
  const sql = filter.latestOnly
    ? 'SELECT * FROM evaluations WHERE id IN (SELECT max(id) FROM evaluations WHERE product_id = ? GROUP BY model_id) ORDER BY id DESC'
    : 'SELECT * FROM evaluations WHERE product_id = ? ORDER BY id DESC';
  return p.guard(() => (p.statement(sql).all(productId) as Row[]).map((r) => toRecord(p, r)));
}
