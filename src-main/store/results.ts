/**
 * Results: an inspection's belong to its run (runs.ts), one per image and run; an evaluation's have no
 * run, one per image and model (re-evaluating replaces it). Anomaly maps and
 * predicted masks are blobs, durably written before the rows that name them are committed.
 * `addMany` writes a batch in one transaction: either every result of the batch is kept or none.
 */
import { readBlob, registerBlob, stageBlob, type StagedBlob } from './blobs.ts';
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkFinite, checkId, checkInt, checkOneOf, checkOptionalId, invalidParameterError } from './validate.ts';

export type ResultVerdict = 'pass' | 'review' | 'fail' | 'unjudged';
export const RESULT_VERDICTS: readonly ResultVerdict[] = ['pass', 'review', 'fail', 'unjudged'];

export interface NewResult {
  readonly imageId: number;
  readonly modelId: number;
  readonly thresholdId?: number | null;
  readonly jobId?: number | null;
  /** The inspection run; null or absent for an evaluation result. */
  readonly runId?: number | null;
  readonly score: number;
  readonly verdict: ResultVerdict;
  /** The anomaly map (any encoding the caller chooses, e.g. float32 little-endian). */
  readonly map?: Uint8Array | null;
  /** The predicted defect mask as PNG. */
  readonly mask?: Uint8Array | null;
  readonly defectAreaPx?: number | null;
}

export interface Result {
  readonly id: number;
  readonly imageId: number;
  readonly modelId: number;
  readonly thresholdId: number | null;
  readonly jobId: number | null;
  readonly runId: number | null;
  readonly score: number;
  readonly verdict: ResultVerdict;
  readonly mapSha256: string | null;
  readonly maskSha256: string | null;
  readonly defectAreaPx: number | null;
  readonly createdAt: string;
}

interface Row {
  id: number; image_id: number; model_id: number; threshold_id: number | null; job_id: number | null; run_id: number | null; score: number;
  verdict: ResultVerdict; map_sha256: string | null; mask_sha256: string | null; defect_area_px: number | null; created_at: string;
}
const toResult = (r: Row): Result => ({
  id: r.id, imageId: r.image_id, modelId: r.model_id, thresholdId: r.threshold_id, jobId: r.job_id, runId: r.run_id, score: r.score,
  verdict: r.verdict, mapSha256: r.map_sha256, maskSha256: r.mask_sha256, defectAreaPx: r.defect_area_px, createdAt: r.created_at,
});

interface Prepared {
  readonly runId: number | null;
  readonly values: readonly unknown[];
  readonly blobs: readonly StagedBlob[];
}

function prepare(p: Project, input: NewResult, at: string): Prepared {
  const imageId = checkId('imageId', input.imageId);
  const modelId = checkId('modelId', input.modelId);
  const thresholdId = checkOptionalId('thresholdId', input.thresholdId);
  const jobId = checkOptionalId('jobId', input.jobId);
  const runId = checkOptionalId('runId', input.runId);
  const score = checkFinite('score', input.score);
  const verdict = checkOneOf('verdict', input.verdict, RESULT_VERDICTS);
  const area = input.defectAreaPx === undefined || input.defectAreaPx === null ? null : checkInt('defectAreaPx', input.defectAreaPx, 0);
  const map = input.map == null ? null : stageBlob(p, checkBytes('map', input.map), 'application/octet-stream');
  const mask = input.mask == null ? null : stageBlob(p, checkBytes('mask', input.mask), 'image/png');
  return {
    runId,
    values: [imageId, modelId, thresholdId, jobId, runId, score, verdict, map?.sha256 ?? null, mask?.sha256 ?? null, area, at],
    blobs: [map, mask].filter((b): b is StagedBlob => b !== null),
  };
}

const upsert = (conflict: string) => `INSERT INTO results (image_id, model_id, threshold_id, job_id, run_id, score, verdict, map_sha256, mask_sha256, defect_area_px, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT ${conflict} DO UPDATE SET threshold_id = excluded.threshold_id, job_id = excluded.job_id,
    score = excluded.score, verdict = excluded.verdict, map_sha256 = excluded.map_sha256, mask_sha256 = excluded.mask_sha256,
    defect_area_px = excluded.defect_area_px, created_at = excluded.created_at
  RETURNING id`;
/** An evaluation result replaces the image's earlier one for the model; a run's, the image's earlier one in the run (a resumed run). */
const UPSERT_EVALUATION = upsert('(image_id, model_id) WHERE run_id IS NULL');
const UPSERT_IN_RUN = upsert('(run_id, image_id) WHERE run_id IS NOT NULL');

/**
 * Stores a batch of results in one transaction (files first, then the rows), optionally running
 * `alsoInTransaction` (e.g. a job progress update) in the same transaction. Returns the result ids.
 */
export function addMany(p: Project, inputs: readonly NewResult[], alsoInTransaction?: () => void): number[] {
  if (!Array.isArray(inputs)) throw invalidParameterError('inputs', 'an array of results', inputs);
  const at = nowIso();
  const prepared = inputs.map((input) => prepare(p, input, at));
  return p.transaction(() => {
    const ids = prepared.map(({ runId, values, blobs }) => {
      for (const b of blobs) registerBlob(p, b);
      const id = (p.statement(runId === null ? UPSERT_EVALUATION : UPSERT_IN_RUN).get(...values) as { id: number }).id;
      // a replaced result's refinement described the old map and mask
      p.statement('DELETE FROM refinements WHERE result_id = ?').run(id);
      return id;
    });
    alsoInTransaction?.();
    return ids;
  });
}

export function add(p: Project, input: NewResult): Result {
  const [id] = addMany(p, [input]);
  return get(p, id!);
}

export function find(p: Project, id: number): Result | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM results WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toResult(r);
}

export function get(p: Project, id: number): Result {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no result ${id} in project ${p.dir}`);
  return found;
}

/** The model's evaluation result of an image. */
export function findFor(p: Project, imageId: number, modelId: number): Result | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM results WHERE image_id = ? AND model_id = ? AND run_id IS NULL').get(checkId('imageId', imageId), checkId('modelId', modelId)) as Row | undefined);
  return r && toResult(r);
}

/** Where results come from: inspection runs, or evaluation (no run). */
export const RESULT_SOURCES = ['inspection', 'evaluation'] as const;
export type ResultSource = (typeof RESULT_SOURCES)[number];

/** Results of a model, a job or a run (optionally only inspections' or only evaluation's), in id order. */
export function list(p: Project, filter: { modelId?: number; jobId?: number; runId?: number; source?: ResultSource }): Result[] {
  const modelId = checkOptionalId('modelId', filter.modelId);
  const jobId = checkOptionalId('jobId', filter.jobId);
  const runId = checkOptionalId('runId', filter.runId);
  const source = filter.source === undefined ? null : checkOneOf('source', filter.source, RESULT_SOURCES);
  if (modelId === null && jobId === null && runId === null) throw new TypeError('expected modelId, jobId or runId in the results filter');
  return p.guard(() => (p.statement(
    `SELECT * FROM results WHERE (@modelId IS NULL OR model_id = @modelId) AND (@jobId IS NULL OR job_id = @jobId)
     AND (@runId IS NULL OR run_id = @runId) AND (@source IS NULL OR (run_id IS NULL) = (@source = 'evaluation')) ORDER BY id`,
  ).all({ modelId, jobId, runId, source }) as Row[]).map(toResult));
}

export function readMap(p: Project, result: Result): Buffer | null {
  return result.mapSha256 === null ? null : readBlob(p, result.mapSha256);
}

export function readMask(p: Project, result: Result): Buffer | null {
  return result.maskSha256 === null ? null : readBlob(p, result.maskSha256);
}

/** A result with its image's label and original path, for review lists. */
export interface ReviewRow extends Result {
  readonly imageVerdict: 'good' | 'defective' | 'unlabelled';
  readonly originalPath: string;
}

/** Review queues: results without a reviewer's decision, or whose decision contradicts the model's pass / fail. */
export const REVIEW_QUEUES = ['awaiting', 'disagree'] as const;
export type ReviewQueue = (typeof REVIEW_QUEUES)[number];
/** Orders of a result page: worst score first, closest to the image threshold first, or newest first. */
export const RESULT_ORDERS = ['score', 'uncertainty', 'time'] as const;
export type ResultOrder = (typeof RESULT_ORDERS)[number];

const ORDER_SQL: Record<ResultOrder, string> = {
  score: 'r.score DESC, r.id',
  // results judged without a threshold have no distance to it: last
  uncertainty: 't.image_threshold IS NULL, abs(r.score - t.image_threshold), r.id',
  time: 'r.id DESC',
};

/** The latest decision's verdict on the result's image (decisions_by_image). */
const LATEST_DECISION = '(SELECT verdict FROM decisions WHERE id = (SELECT max(id) FROM decisions WHERE image_id = r.image_id))';

/**
 * One page of a model's results (optionally of one verdict, job or review queue), in `order` (default
 * worst score first), each with its image's latest decision (decisions.ts) if any. The query holds only
 * the conditions and joins the filter needs, so a run's or a model's results are read in score order
 * from the 0009 indexes; the page's ids come first, then only those rows are read whole.
 */
export function page(p: Project, filter: {
  modelId: number; verdict?: ResultVerdict; jobId?: number; runId?: number; source?: ResultSource; queue?: ReviewQueue; order?: ResultOrder; offset: number; limit: number;
  /** Just this result (its review row). */
  onlyId?: number;
}): { total: number; items: ReviewRow[] } {
  const params: Record<string, unknown> = { modelId: checkId('modelId', filter.modelId) };
  const where = ['r.model_id = @modelId'];
  if (filter.verdict !== undefined) {
    params['verdict'] = checkOneOf('verdict', filter.verdict, RESULT_VERDICTS);
    where.push('r.verdict = @verdict');
  }
  if (filter.jobId !== undefined) {
    params['jobId'] = checkId('jobId', filter.jobId);
    where.push('r.job_id = @jobId');
  }
  if (filter.runId !== undefined) {
    params['runId'] = checkId('runId', filter.runId);
    where.push('r.run_id = @runId');
  }
  if (filter.source !== undefined) where.push(checkOneOf('source', filter.source, RESULT_SOURCES) === 'evaluation' ? 'r.run_id IS NULL' : 'r.run_id IS NOT NULL');
  if (filter.onlyId !== undefined) {
    params['onlyId'] = checkId('onlyId', filter.onlyId);
    where.push('r.id = @onlyId');
  }
  if (filter.queue !== undefined) {
    where.push(checkOneOf('queue', filter.queue, REVIEW_QUEUES) === 'awaiting'
      ? 'r.image_id NOT IN (SELECT image_id FROM decisions)'
      : `r.verdict IN ('pass', 'fail') AND ${LATEST_DECISION} <> r.verdict`);
  }
  const order = checkOneOf('order', filter.order ?? 'score', RESULT_ORDERS);
  const offset = checkInt('offset', filter.offset, 0);
  const limit = checkInt('limit', filter.limit, 1, 10_000);
  const from = `results r ${order === 'uncertainty' ? 'LEFT JOIN thresholds t ON t.id = r.threshold_id' : ''} WHERE ${where.join(' AND ')}`;
  return p.guard(() => {
    const { n } = p.statement(`SELECT count(*) AS n FROM ${from}`).get(params) as { n: number };
    const ids = (p.statement(`SELECT r.id AS id FROM ${from} ORDER BY ${ORDER_SQL[order]} LIMIT @limit OFFSET @offset`).all({ ...params, limit, offset }) as Array<{ id: number }>).map((r) => r.id);
    if (ids.length === 0) return { total: n, items: [] };
    const rows = p.statement(
      `SELECT r.*, i.verdict AS image_verdict, i.original_path AS original_path FROM results r JOIN images i ON i.id = r.image_id
       WHERE r.id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(ids)) as Array<Row & { image_verdict: ReviewRow['imageVerdict']; original_path: string }>;
    const byId = new Map(rows.map((r) => [r.id, r]));
    return {
      total: n,
      items: ids.map((id) => byId.get(id)!).map((r) => ({ ...toResult(r), imageVerdict: r.image_verdict, originalPath: r.original_path })),
    };
  });
}

/** Ascending scores of a model's evaluation results on images labelled good in `split`. */
export function goodScores(p: Project, modelId: number, split: 'validation' | 'test'): Float64Array {
  return p.guard(() => Float64Array.from((p.statement(
    `SELECT r.score AS score FROM results r JOIN images i ON i.id = r.image_id
     WHERE r.model_id = ? AND r.run_id IS NULL AND i.verdict = 'good' AND i.split = ? ORDER BY r.score`,
  ).all(checkId('modelId', modelId), split) as Array<{ score: number }>), (r) => r.score));
}

/** Every evaluation result's score of a model with its image's label and split (threshold tuning), in id order. */
export function scoresWithLabels(p: Project, modelId: number): Array<{ imageId: number; score: number; verdict: 'good' | 'defective' | 'unlabelled'; split: 'train' | 'validation' | 'test' }> {
  return p.guard(() => (p.statement(
    `SELECT r.image_id AS imageId, r.score AS score, i.verdict AS verdict, i.split AS split
     FROM results r JOIN images i ON i.id = r.image_id WHERE r.model_id = ? AND r.run_id IS NULL ORDER BY r.id`,
  ).all(checkId('modelId', modelId)) as Array<{ imageId: number; score: number; verdict: 'good' | 'defective' | 'unlabelled'; split: 'train' | 'validation' | 'test' }>));
}
