/**
 * A minimal job queue on top of the store. Every job is a row in `jobs` first (queued), so a crash
 * loses nothing: openProject turns running jobs into `interrupted`, and queued ones are picked up by
 * the next queue's `resume()`.
 *
 * GPU-heavy kinds (train, evaluate, refine, inspect) run one at a time in submission order; light
 * kinds (import, report) start at once. Handlers are async and get an AbortSignal (cancel) and a
 * `progress` callback whose database writes are throttled. A handler must never hold a store
 * transaction across an `await`.
 */
import { EventEmitter } from 'node:events';
import { jobs, type Project } from '../store/index.ts';

type Job = jobs.Job;
type JobKind = jobs.JobKind;

export const HEAVY_KINDS: ReadonlySet<JobKind> = new Set(['train', 'evaluate', 'refine', 'inspect']);

export interface ProgressUpdate {
  readonly fraction: number;
  readonly step?: string;
  readonly message?: string;
  /** Seconds left, when the handler can tell. */
  readonly etaSeconds?: number | null;
  /** Latest training loss, for training jobs. */
  readonly loss?: number | null;
}

export interface JobContext {
  readonly job: Job;
  /** Aborted when the job is cancelled; handlers should stop soon after and may throw. */
  readonly signal: AbortSignal;
  progress(update: ProgressUpdate): void;
}

export type JobHandler = (ctx: JobContext) => Promise<void>;

export interface JobQueueOptions {
  readonly handlers: Partial<Record<JobKind, JobHandler>>;
  /** Minimum time between progress writes to the database (events are not throttled). Default 250. */
  readonly progressIntervalMs?: number;
}

export interface JobQueueEvents {
  progress: [jobId: number, update: ProgressUpdate];
  status: [job: Job];
}

export class JobQueue extends EventEmitter<JobQueueEvents> {
  readonly #project: Project;
  readonly #handlers: Partial<Record<JobKind, JobHandler>>;
  readonly #interval: number;
  readonly #heavy: number[] = [];
  #heavyRunning = false;
  #stopped = false;
  readonly #running = new Map<number, { controller: AbortController; done: Promise<void> }>();

  constructor(project: Project, options: JobQueueOptions) {
    super();
    this.#project = project;
    this.#handlers = options.handlers;
    this.#interval = options.progressIntervalMs ?? 250;
  }

  /** Records a queued job and schedules it. */
  submit(kind: JobKind, params: unknown = {}, productId: number | null = null, resumesJobId: number | null = null): Job {
    const job = jobs.create(this.#project, { kind, params, productId, resumesJobId });
    this.emit('status', job);
    this.#schedule(job.id, kind);
    return job;
  }

  /** Schedules every job still queued in the project (e.g. after a restart). Returns their ids. */
  resume(): number[] {
    const queued = jobs.list(this.#project, { status: 'queued' }).reverse();
    for (const job of queued) this.#schedule(job.id, job.kind);
    return queued.map((j) => j.id);
  }

  /** Cancels a queued job at once, or asks a running one to stop. Returns false if it had ended. */
  cancel(jobId: number): boolean {
    const running = this.#running.get(jobId);
    if (running) {
      running.controller.abort();
      return true;
    }
    const job = jobs.get(this.#project, jobId);
    if (job.status !== 'queued') return false;
    const i = this.#heavy.indexOf(jobId);
    if (i >= 0) this.#heavy.splice(i, 1);
    this.emit('status', jobs.finish(this.#project, jobId, 'cancelled'));
    return true;
  }

  /**
   * Stops the queue (the project is closing): waiting jobs stay queued in the project for the next
   * open, running ones are cancelled and awaited.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#heavy.length = 0;
    for (const r of this.#running.values()) r.controller.abort();
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** Resolves when nothing is running or waiting. */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#heavy.length > 0) {
      await Promise.all([...this.#running.values()].map((r) => r.done));
      await new Promise((r) => setImmediate(r));
    }
  }

  #schedule(jobId: number, kind: JobKind): void {
    if (this.#stopped) return;
    if (HEAVY_KINDS.has(kind)) {
      this.#heavy.push(jobId);
      this.#pump();
    } else {
      this.#run(jobId);
    }
  }

  #pump(): void {
    if (this.#heavyRunning || this.#stopped) return;
    const next = this.#heavy.shift();
    if (next === undefined) return;
    this.#heavyRunning = true;
    void this.#run(next).finally(() => {
      this.#heavyRunning = false;
      this.#pump();
    });
  }

  #run(jobId: number): Promise<void> {
    const p = this.#project;
    const controller = new AbortController();
    const done = (async () => {
      await Promise.resolve();
      let job = jobs.get(p, jobId);
      if (job.status !== 'queued') return;
      const handler = this.#handlers[job.kind];
      job = jobs.start(p, jobId);
      this.emit('status', job);
      let lastWrite = 0;
      let lastMessage: string | undefined;
      const ctx: JobContext = {
        job, signal: controller.signal,
        progress: (update) => {
          this.emit('progress', jobId, update);
          if (update.message !== undefined) lastMessage = update.message;
          const now = Date.now();
          if (now - lastWrite >= this.#interval && !controller.signal.aborted) {
            lastWrite = now;
            jobs.progress(p, jobId, { fraction: update.fraction, step: update.step, message: update.message });
          }
        },
      };
      let final: Job;
      try {
        if (!handler) throw new Error(`no handler for ${job.kind} jobs`);
        await handler(ctx);
        const detail = lastMessage === undefined ? {} : { message: lastMessage };
        final = controller.signal.aborted ? jobs.finish(p, jobId, 'cancelled', detail) : jobs.finish(p, jobId, 'succeeded', detail);
      } catch (err) {
        final = controller.signal.aborted
          ? jobs.finish(p, jobId, 'cancelled')
          : jobs.finish(p, jobId, 'failed', { error: err instanceof Error ? err.message : String(err) });
      }
      this.emit('status', final);
    })().finally(() => this.#running.delete(jobId));
    this.#running.set(jobId, { controller, done });
    return done;
  }
}
