/**
 * Thresholds, versioned per model and kept apart from it: re-tuning never needs retraining. A
 * review band [reviewLow, reviewHigh) splits decisions into pass / review / fail; without one, a
 * score at or above the image threshold fails.
 */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkFinite, checkId, checkOptionalFinite, checkString } from './validate.ts';

export interface Threshold {
  readonly id: number;
  readonly modelId: number;
  readonly version: number;
  readonly imageThreshold: number;
  readonly pixelThreshold: number | null;
  readonly reviewLow: number | null;
  readonly reviewHigh: number | null;
  readonly note: string;
  readonly createdAt: string;
}

export interface NewThreshold {
  readonly modelId: number;
  readonly imageThreshold: number;
  readonly pixelThreshold?: number | null;
  readonly reviewLow?: number | null;
  readonly reviewHigh?: number | null;
  readonly note?: string;
}

interface Row {
  id: number; model_id: number; version: number; image_threshold: number; pixel_threshold: number | null;
  review_low: number | null; review_high: number | null; note: string; created_at: string;
}
const toThreshold = (r: Row): Threshold => ({
  id: r.id, modelId: r.model_id, version: r.version, imageThreshold: r.image_threshold, pixelThreshold: r.pixel_threshold,
  reviewLow: r.review_low, reviewHigh: r.review_high, note: r.note, createdAt: r.created_at,
});

/** Adds the next threshold version of a model. The review band needs both ends, low <= threshold <= high. */
export function add(p: Project, input: NewThreshold): Threshold {
  const modelId = checkId('modelId', input.modelId);
  const image = checkFinite('imageThreshold', input.imageThreshold);
  const pixel = checkOptionalFinite('pixelThreshold', input.pixelThreshold);
  const low = checkOptionalFinite('reviewLow', input.reviewLow);
  const high = checkOptionalFinite('reviewHigh', input.reviewHigh);
  if ((low === null) !== (high === null)) throw new RangeError('expected both reviewLow and reviewHigh, or neither');
  if (low !== null && high !== null && !(low <= image && image <= high)) {
    throw new RangeError(`expected reviewLow <= imageThreshold <= reviewHigh, received ${low}, ${image}, ${high}`);
  }
  const note = checkString('note', input.note ?? '', { max: 10_000 });
  const id = p.transaction(() => {
    const { v } = p.statement('SELECT coalesce(max(version), 0) + 1 AS v FROM thresholds WHERE model_id = ?').get(modelId) as { v: number };
    return Number(p.statement(
      `INSERT INTO thresholds (model_id, version, image_threshold, pixel_threshold, review_low, review_high, note, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(modelId, v, image, pixel, low, high, note, nowIso()).lastInsertRowid);
  });
  return get(p, id);
}

export function find(p: Project, id: number): Threshold | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM thresholds WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toThreshold(r);
}

export function get(p: Project, id: number): Threshold {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no threshold ${id} in project ${p.dir}`);
  return found;
}

/** The model's thresholds, oldest version first. */
export function list(p: Project, modelId: number): Threshold[] {
  return p.guard(() => (p.statement('SELECT * FROM thresholds WHERE model_id = ? ORDER BY version').all(checkId('modelId', modelId)) as Row[]).map(toThreshold));
}

export function latest(p: Project, modelId: number): Threshold | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM thresholds WHERE model_id = ? ORDER BY version DESC LIMIT 1').get(checkId('modelId', modelId)) as Row | undefined);
  return r && toThreshold(r);
}

export type Decision = 'pass' | 'review' | 'fail';

/** The decision for an image score under threshold `t`. */
export function decide(t: Threshold, score: number): Decision {
  if (t.reviewLow !== null && t.reviewHigh !== null) {
    if (score < t.reviewLow) return 'pass';
    return score >= t.reviewHigh ? 'fail' : 'review';
  }
  return score >= t.imageThreshold ? 'fail' : 'pass';
}

/**
 * The outline policy: defect outlines and defect areas belong to parts that fail or need review. A
 * passing part never carries one, whatever the pixel threshold, so an outline always agrees with its
 * verdict (a pixel threshold below the image threshold would otherwise outline good parts).
 */
export function outlined(verdict: Decision | 'unjudged'): boolean {
  return verdict === 'fail' || verdict === 'review';
}
