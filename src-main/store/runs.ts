/**
 * Inspection runs (migration 0005): one per inspection, with a name or lot number, the model and the
 * threshold version it judged with, where its images came from, and when it started and ended. Its
 * results carry its id (results.ts); counts and throughput are read from them (their counts kept per
 * run by triggers in the same transaction, migration 0009), so a run killed half way shows exactly
 * what it finished.
 *
 *   const run = runs.create(project, { productId, modelId, thresholdId, name: 'Lot 2026-118', source: '/line3/out' });
 *   runs.get(project, run.id).counts;   // { inspected, pass, review, fail, unjudged }
 */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkId, checkOptionalId, checkString } from './validate.ts';

export interface RunCounts {
  readonly inspected: number;
  readonly pass: number;
  readonly review: number;
  readonly fail: number;
  readonly unjudged: number;
}

export interface Run {
  readonly id: number;
  readonly productId: number;
  readonly modelId: number;
  readonly thresholdId: number | null;
  /** The inspect job carrying it (a resumed job continues the same run and takes over). */
  readonly jobId: number | null;
  readonly name: string;
  /** The folder inspected, or a description of the stored images. */
  readonly source: string;
  /** A watched folder: new images are inspected as they arrive until the run is stopped. */
  readonly watch: boolean;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly counts: RunCounts;
  /** Images per second from the start to the end (or to the last result while running); null before two results. */
  readonly imagesPerSecond: number | null;
  /** When its last result was stored. */
  readonly lastResultAt: string | null;
}

export interface NewRun {
  readonly productId: number;
  readonly modelId: number;
  readonly thresholdId?: number | null;
  readonly jobId?: number | null;
  readonly name: string;
  readonly source?: string;
  readonly watch?: boolean;
}

interface Row {
  id: number; product_id: number; model_id: number; threshold_id: number | null; job_id: number | null; name: string; source: string;
  watch: number; started_at: string; finished_at: string | null;
  inspected: number; pass: number; review: number; fail: number; unjudged: number; last_result_at: string | null;
}

/** A run with its counts (run_counts, kept by triggers on results: migration 0009). */
const SELECT = `SELECT u.*, coalesce(c.inspected, 0) AS inspected, coalesce(c.pass, 0) AS pass, coalesce(c.review, 0) AS review,
    coalesce(c.fail, 0) AS fail, coalesce(c.unjudged, 0) AS unjudged, c.last_result_at AS last_result_at
  FROM runs u LEFT JOIN run_counts c ON c.run_id = u.id`;

function rate(r: Row): number | null {
  const end = r.finished_at ?? r.last_result_at;
  if (end === null || r.inspected === 0) return null;
  const seconds = (Date.parse(end) - Date.parse(r.started_at)) / 1000;
  return seconds > 0 ? r.inspected / seconds : null;
}

const toRun = (r: Row): Run => ({
  id: r.id, productId: r.product_id, modelId: r.model_id, thresholdId: r.threshold_id, jobId: r.job_id, name: r.name, source: r.source,
  watch: r.watch === 1, startedAt: r.started_at, finishedAt: r.finished_at,
  counts: { inspected: r.inspected, pass: r.pass, review: r.review, fail: r.fail, unjudged: r.unjudged },
  imagesPerSecond: rate(r), lastResultAt: r.last_result_at,
});

export function create(p: Project, input: NewRun): Run {
  const productId = checkId('productId', input.productId);
  const modelId = checkId('modelId', input.modelId);
  const thresholdId = checkOptionalId('thresholdId', input.thresholdId);
  const jobId = checkOptionalId('jobId', input.jobId);
  const name = checkString('name', input.name.trim(), { min: 1, max: 200 });
  const source = checkString('source', input.source ?? '', { max: 4096 });
  const id = p.transaction(() => Number(p.statement(
    'INSERT INTO runs (product_id, model_id, threshold_id, job_id, name, source, watch, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(productId, modelId, thresholdId, jobId, name, source, input.watch === true ? 1 : 0, nowIso()).lastInsertRowid));
  return get(p, id);
}

/** Names the job that carries it: the first once it is queued (the run is created before), then any job resuming it. */
export function setJob(p: Project, id: number, jobId: number): void {
  p.transaction(() => p.statement('UPDATE runs SET job_id = ? WHERE id = ?').run(checkId('jobId', jobId), checkId('id', id)));
}

/** Marks the run finished (idempotent: the first end counts). */
export function finish(p: Project, id: number): void {
  p.transaction(() => p.statement('UPDATE runs SET finished_at = coalesce(finished_at, ?) WHERE id = ?').run(nowIso(), checkId('id', id)));
}

export function find(p: Project, id: number): Run | undefined {
  const r = p.guard(() => p.statement(`${SELECT} WHERE u.id = ?`).get(checkId('id', id)) as Row | undefined);
  return r && toRun(r);
}

export function get(p: Project, id: number): Run {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no inspection run ${id} in project ${p.dir}`);
  return found;
}

/** A product's runs (optionally one model's), newest first. */
export function list(p: Project, filter: { productId: number; modelId?: number }): Run[] {
  const productId = checkId('productId', filter.productId);
  const modelId = checkOptionalId('modelId', filter.modelId);
  return p.guard(() => (p.statement(
    `${SELECT} WHERE u.product_id = @productId AND (@modelId IS NULL OR u.model_id = @modelId) ORDER BY u.id DESC`,
  ).all({ productId, modelId }) as Row[]).map(toRun));
}
