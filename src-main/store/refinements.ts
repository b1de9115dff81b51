/**
 * F2PAD refinements of inspection results (one per result): the refined mask (PNG), the per-pixel
 * anomaly magnitude (float32 map) and the repaired image (PNG), all at the image's own size. The
 * result keeps its detector mask beside it. Files are durably written before the row is committed;
 * re-inspecting an image replaces its result and removes the refinement of the old one (results.ts).
 */
import { readBlob, registerBlob, stageBlob } from './blobs.ts';
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkFinite, checkId, checkInt, checkOptionalId, toJson } from './validate.ts';

export interface NewRefinement {
  readonly resultId: number;
  readonly jobId?: number | null;
  readonly mask: Uint8Array;
  readonly magnitude: Uint8Array;
  readonly repaired: Uint8Array;
  readonly defectAreaPx: number;
  /** The detector map threshold the refinement started from (its initial mask). */
  readonly detectorThreshold: number;
  readonly iterations: number;
  readonly seconds: number;
  /** The refinement settings used (ablation, τ, …). */
  readonly options: unknown;
}

export interface Refinement {
  readonly id: number;
  readonly resultId: number;
  readonly jobId: number | null;
  readonly maskSha256: string;
  readonly magnitudeSha256: string;
  readonly repairedSha256: string;
  readonly defectAreaPx: number;
  readonly detectorThreshold: number;
  readonly iterations: number;
  readonly seconds: number;
  readonly options: unknown;
  readonly createdAt: string;
}

interface Row {
  id: number; result_id: number; job_id: number | null; mask_sha256: string; magnitude_sha256: string; repaired_sha256: string;
  defect_area_px: number; detector_threshold: number; iterations: number; seconds: number; options_json: string; created_at: string;
}

const toRefinement = (r: Row): Refinement => ({
  id: r.id, resultId: r.result_id, jobId: r.job_id, maskSha256: r.mask_sha256, magnitudeSha256: r.magnitude_sha256,
  repairedSha256: r.repaired_sha256, defectAreaPx: r.defect_area_px, detectorThreshold: r.detector_threshold,
  iterations: r.iterations, seconds: r.seconds, options: JSON.parse(r.options_json) as unknown, createdAt: r.created_at,
});

const UPSERT = `INSERT INTO refinements (result_id, job_id, mask_sha256, magnitude_sha256, repaired_sha256, defect_area_px,
    detector_threshold, iterations, seconds, options_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (result_id) DO UPDATE SET job_id = excluded.job_id, mask_sha256 = excluded.mask_sha256,
    magnitude_sha256 = excluded.magnitude_sha256, repaired_sha256 = excluded.repaired_sha256, defect_area_px = excluded.defect_area_px,
    detector_threshold = excluded.detector_threshold, iterations = excluded.iterations, seconds = excluded.seconds,
    options_json = excluded.options_json, created_at = excluded.created_at
  RETURNING id`;

/**
 * Stores (or replaces) a result's refinement, optionally running `alsoInTransaction` (a job's
 * progress) in the same transaction.
 */
export function set(p: Project, input: NewRefinement, alsoInTransaction?: () => void): Refinement {
  const resultId = checkId('resultId', input.resultId);
  const jobId = checkOptionalId('jobId', input.jobId);
  const area = checkInt('defectAreaPx', input.defectAreaPx, 0);
  const threshold = checkFinite('detectorThreshold', input.detectorThreshold);
  const iterations = checkInt('iterations', input.iterations, 0);
  const seconds = checkFinite('seconds', input.seconds);
  const options = toJson('options', input.options ?? {});
  const mask = stageBlob(p, checkBytes('mask', input.mask), 'image/png');
  const magnitude = stageBlob(p, checkBytes('magnitude', input.magnitude), 'application/octet-stream');
  const repaired = stageBlob(p, checkBytes('repaired', input.repaired), 'image/png');
  const id = p.transaction(() => {
    if (!p.statement('SELECT 1 FROM results WHERE id = ?').get(resultId)) throw new StoreError('NOT_FOUND', `no result ${resultId} in project ${p.dir}`);
    for (const b of [mask, magnitude, repaired]) registerBlob(p, b);
    const row = p.statement(UPSERT).get(resultId, jobId, mask.sha256, magnitude.sha256, repaired.sha256, area, threshold, iterations, Math.max(0, seconds), options, nowIso()) as { id: number };
    alsoInTransaction?.();
    return row.id;
  });
  return get(p, id);
}

export function get(p: Project, id: number): Refinement {
  const r = p.guard(() => p.statement('SELECT * FROM refinements WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  if (!r) throw new StoreError('NOT_FOUND', `no refinement ${id} in project ${p.dir}`);
  return toRefinement(r);
}

/** The result's refinement, if it has one. */
export function findFor(p: Project, resultId: number): Refinement | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM refinements WHERE result_id = ?').get(checkId('resultId', resultId)) as Row | undefined);
  return r && toRefinement(r);
}

/** Refinements of a model's results, by result id. */
export function forModel(p: Project, modelId: number): Map<number, Refinement> {
  const rows = p.guard(() => p.statement(
    'SELECT f.* FROM refinements f JOIN results r ON r.id = f.result_id WHERE r.model_id = ? ORDER BY f.id',
  ).all(checkId('modelId', modelId)) as Row[]);
  return new Map(rows.map((r) => [r.result_id, toRefinement(r)]));
}

/** Refinements of the given results (a page of them), by result id. */
export function forResults(p: Project, resultIds: readonly number[]): Map<number, Refinement> {
  const ids = resultIds.map((id) => checkId('resultId', id));
  if (ids.length === 0) return new Map();
  const rows = p.guard(() => p.statement(
    'SELECT * FROM refinements WHERE result_id IN (SELECT value FROM json_each(?)) ORDER BY id',
  ).all(JSON.stringify(ids)) as Row[]);
  return new Map(rows.map((r) => [r.result_id, toRefinement(r)]));
}

export function readMask(p: Project, r: Refinement): Buffer {
  return readBlob(p, r.maskSha256);
}

export function readMagnitude(p: Project, r: Refinement): Buffer {
  return readBlob(p, r.magnitudeSha256);
}

export function readRepaired(p: Project, r: Refinement): Buffer {
  return readBlob(p, r.repairedSha256);
}
