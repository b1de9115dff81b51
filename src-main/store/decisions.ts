/**
 * A reviewer's decisions on results (migration 0004): append-only, the latest per image counts, the
 * model's verdict is never changed. A decision is about the part (its image), so it outlives a
 * re-inspection that replaces the result it was made on.
 *
 *   decisions.record(project, { resultId: 12, verdict: 'fail', defectType: 'scratch', by: 'A. Weber' });
 *   decisions.latestFor(project, [imageId]).get(imageId)?.verdict;   // 'fail'
 */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkId, checkOneOf, checkString } from './validate.ts';

export const DECISION_VERDICTS = ['pass', 'fail'] as const;
export type DecisionVerdict = (typeof DECISION_VERDICTS)[number];

export interface NewDecision {
  readonly resultId: number;
  readonly verdict: DecisionVerdict;
  readonly defectType?: string | null;
  readonly note?: string;
  /** Who decided (the station's reviewer name). */
  readonly by: string;
}

export interface Decision {
  readonly id: number;
  readonly imageId: number;
  /** The result it was made on (null once that result was replaced by a re-inspection). */
  readonly resultId: number | null;
  /** The model's verdict the reviewer saw. */
  readonly modelVerdict: 'pass' | 'review' | 'fail' | 'unjudged';
  readonly verdict: DecisionVerdict;
  readonly defectType: string | null;
  readonly note: string;
  readonly decidedBy: string;
  readonly decidedAt: string;
}

interface Row {
  id: number; image_id: number; result_id: number | null; model_verdict: Decision['modelVerdict']; verdict: DecisionVerdict;
  defect_type: string | null; note: string; decided_by: string; decided_at: string;
}

const toDecision = (r: Row): Decision => ({
  id: r.id, imageId: r.image_id, resultId: r.result_id, modelVerdict: r.model_verdict, verdict: r.verdict,
  defectType: r.defect_type, note: r.note, decidedBy: r.decided_by, decidedAt: r.decided_at,
});

/** Records a decision on a result (a fail may name a defect type; a pass may not). */
export function record(p: Project, input: NewDecision): Decision {
  const resultId = checkId('resultId', input.resultId);
  const verdict = checkOneOf('verdict', input.verdict, DECISION_VERDICTS);
  const by = checkString('by', input.by, { min: 1, max: 200 }).trim();
  if (by === '') throw new TypeError("invalid parameter 'by': expected the reviewer's name");
  const note = checkString('note', input.note ?? '', { max: 10_000 });
  const defectType = input.defectType === undefined || input.defectType === null ? null : checkString('defectType', input.defectType, { min: 1, max: 200 });
  if (verdict === 'pass' && defectType !== null) throw new TypeError("invalid parameter 'defectType': a passing part has no defect type");
  const id = p.transaction(() => {
    const result = p.statement('SELECT image_id, verdict FROM results WHERE id = ?').get(resultId) as { image_id: number; verdict: Decision['modelVerdict'] } | undefined;
    if (!result) throw new StoreError('NOT_FOUND', `no result ${resultId} in project ${p.dir}`);
    const row = p.statement(
      `INSERT INTO decisions (image_id, result_id, model_verdict, verdict, defect_type, note, decided_by, decided_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(result.image_id, resultId, result.verdict, verdict, defectType, note, by, nowIso()) as { id: number };
    return row.id;
  });
  return get(p, id);
}

export function get(p: Project, id: number): Decision {
  const r = p.guard(() => p.statement('SELECT * FROM decisions WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  if (!r) throw new StoreError('NOT_FOUND', `no decision ${id} in project ${p.dir}`);
  return toDecision(r);
}

/** Every decision on an image, oldest first (the audit trail). */
export function history(p: Project, imageId: number): Decision[] {
  return p.guard(() => (p.statement('SELECT * FROM decisions WHERE image_id = ? ORDER BY id').all(checkId('imageId', imageId)) as Row[]).map(toDecision));
}

/** The latest decision of each of the given images that has one, by image id. */
export function latestFor(p: Project, imageIds: readonly number[]): Map<number, Decision> {
  const ids = imageIds.map((id) => checkId('imageId', id));
  if (ids.length === 0) return new Map();
  const rows = p.guard(() => p.statement(
    `SELECT d.* FROM decisions d JOIN (SELECT image_id, max(id) AS id FROM decisions
       WHERE image_id IN (SELECT value FROM json_each(?)) GROUP BY image_id) latest ON latest.id = d.id`,
  ).all(JSON.stringify(ids)) as Row[]);
  return new Map(rows.map((r) => [r.image_id, toDecision(r)]));
}
