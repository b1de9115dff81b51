/**
 * Jobs: the durable record of long-running work. Life cycle:
 *
 *   queued -> running -> succeeded | failed | cancelled
 *   queued -> cancelled
 *   running -> interrupted            (only by recovery in openProject, after a crash)
 *
 * Any other change throws StoreError INVALID_TRANSITION. Progress updates are single-row writes;
 * callers should throttle them (each commit is fsync'd).
 */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkFinite, checkId, checkOneOf, checkOptionalId, checkString, toJson } from './validate.ts';

export type JobKind = 'import' | 'train' | 'evaluate' | 'refine' | 'inspect' | 'report';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
export const JOB_KINDS: readonly JobKind[] = ['import', 'train', 'evaluate', 'refine', 'inspect', 'report'];
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'];
export type FinalStatus = 'succeeded' | 'failed' | 'cancelled';

export interface Job {
  readonly id: number;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly productId: number | null;
  readonly params: unknown;
  /** Fraction done, 0..1. */
  readonly progress: number;
  readonly step: string;
  readonly message: string;
  readonly error: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** What the job produced (summary, counts, ids), once it has. */
  readonly result: unknown;
  /** The interrupted job this one continues, if any. */
  readonly resumesJobId: number | null;
}

interface Row {
  id: number; kind: JobKind; status: JobStatus; product_id: number | null; params_json: string; progress: number;
  step: string; message: string; error: string | null; created_at: string; started_at: string | null; finished_at: string | null;
  result_json: string | null; resumes_job_id: number | null;
}
const toJob = (r: Row): Job => ({
  id: r.id, kind: r.kind, status: r.status, productId: r.product_id, params: JSON.parse(r.params_json) as unknown,
  progress: r.progress, step: r.step, message: r.message, error: r.error, createdAt: r.created_at,
  startedAt: r.started_at, finishedAt: r.finished_at, result: r.result_json === null ? null : JSON.parse(r.result_json) as unknown,
  resumesJobId: r.resumes_job_id,
});

export function create(p: Project, input: { kind: JobKind; productId?: number | null; params?: unknown; resumesJobId?: number | null }): Job {
  const kind = checkOneOf('kind', input.kind, JOB_KINDS);
  const productId = checkOptionalId('productId', input.productId);
  const params = toJson('params', input.params ?? {});
  const resumes = checkOptionalId('resumesJobId', input.resumesJobId);
  const id = p.transaction(() => Number(p.statement('INSERT INTO jobs (kind, product_id, params_json, resumes_job_id, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(kind, productId, params, resumes, nowIso()).lastInsertRowid));
  return get(p, id);
}

/** Records what a running job has produced so far (replaces the previous record). */
export function setResult(p: Project, id: number, result: unknown): void {
  const json = toJson('result', result);
  const changed = p.transaction(() => p.statement('UPDATE jobs SET result_json = ? WHERE id = ?').run(json, checkId('id', id)).changes);
  if (changed === 0) throw new StoreError('NOT_FOUND', `no job ${id} in project ${p.dir}`);
}

/** The job that continues `id`, if one was started. */
export function resumedBy(p: Project, id: number): Job | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM jobs WHERE resumes_job_id = ? ORDER BY id LIMIT 1').get(checkId('id', id)) as Row | undefined);
  return r && toJob(r);
}

/** The chain of jobs this one continues, itself first (for resumable work that skips what is done). */
export function lineage(p: Project, id: number): number[] {
  const ids: number[] = [];
  let next: number | null = checkId('id', id);
  while (next !== null && !ids.includes(next)) {
    ids.push(next);
    next = get(p, next).resumesJobId;
  }
  return ids;
}

export function find(p: Project, id: number): Job | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM jobs WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toJob(r);
}

export function get(p: Project, id: number): Job {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no job ${id} in project ${p.dir}`);
  return found;
}

/** Jobs newest first, optionally of one status. */
export function list(p: Project, filter: { status?: JobStatus } = {}): Job[] {
  const status = filter.status === undefined ? null : checkOneOf('status', filter.status, JOB_STATUSES);
  return p.guard(() => (p.statement('SELECT * FROM jobs WHERE (@status IS NULL OR status = @status) ORDER BY id DESC').all({ status }) as Row[]).map(toJob));
}

function transition(p: Project, id: number, from: readonly JobStatus[], sql: string, ...args: unknown[]): Job {
  checkId('id', id);
  p.transaction(() => {
    const current = p.statement('SELECT status FROM jobs WHERE id = ?').get(id) as { status: JobStatus } | undefined;
    if (!current) throw new StoreError('NOT_FOUND', `no job ${id} in project ${p.dir}`);
    if (!from.includes(current.status)) {
      throw new StoreError('INVALID_TRANSITION', `job ${id} is ${current.status}; this change needs it to be ${from.join(' or ')}`);
    }
    p.statement(sql).run(...args, id);
  });
  return get(p, id);
}

/** queued -> running. */
export function start(p: Project, id: number): Job {
  return transition(p, id, ['queued'], "UPDATE jobs SET status = 'running', started_at = ?, progress = 0 WHERE id = ?", nowIso());
}

/** Records progress of a running job: fraction 0..1, the current step and a message. */
export function progress(p: Project, id: number, update: { fraction: number; step?: string; message?: string }): Job {
  const fraction = checkFinite('fraction', update.fraction);
  if (fraction < 0 || fraction > 1) throw new RangeError(`expected a fraction in [0, 1], received ${fraction}`);
  const step = update.step === undefined ? null : checkString('step', update.step, { max: 200 });
  const message = update.message === undefined ? null : checkString('message', update.message, { max: 2000 });
  return transition(p, id, ['running'],
    'UPDATE jobs SET progress = ?, step = coalesce(?, step), message = coalesce(?, message) WHERE id = ?', fraction, step, message);
}

/**
 * Ends a job: succeeded (progress 1), failed (with `error`) or cancelled. Running jobs may end any
 * way; a queued job may only be cancelled.
 */
export function finish(p: Project, id: number, status: FinalStatus, detail: { error?: string; message?: string } = {}): Job {
  const s = checkOneOf('status', status, ['succeeded', 'failed', 'cancelled'] as const);
  const error = detail.error === undefined ? null : checkString('error', detail.error, { max: 20_000 });
  const message = detail.message === undefined ? null : checkString('message', detail.message, { max: 2000 });
  if (s === 'failed' && error === null) throw new TypeError('expected an error message for a failed job');
  return transition(p, id, s === 'cancelled' ? ['queued', 'running'] : ['running'],
    `UPDATE jobs SET status = ?, finished_at = ?, error = ?, message = coalesce(?, message),
       progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END WHERE id = ?`,
    s, nowIso(), error, message, s);
}
