/**
 * The station: one open project, its job runner and the event stream, behind the API contract.
 * Every transport (Electron IPC, browser-mode HTTP/WebSocket) and the CLI talk to a Station.
 *
 *   const station = new Station();
 *   await station.handle('project.open', { dir });      // ApiResponse, never throws
 *   const off = station.subscribe((event) => ...);
 *   await station.close();
 */
import { EventEmitter } from 'node:events';
import { dispatch, type ApiHost } from '../api/dispatch.ts';
import { ApiError, type ApiResponse, type ProjectInfo, type StationEvent } from '../api/contract.ts';
import { activeProvider } from '../engine/session.ts';
import { JobQueue } from '../jobs/queue.ts';
import { createProject, jobs as jobStore, openProject, schemaVersion, type Project } from '../store/index.ts';
import { buildHandlers, toJob, type JobSubmitter } from './handlers.ts';
import { runImport } from './imports.ts';
import { runInspection } from './inspection.ts';
import { runModelEvaluation } from './model-evaluation.ts';
import { runTraining } from './training.ts';

export interface StationOptions {
  /** Reports unexpected errors (bugs); default: console.error. */
  readonly onInternalError?: (err: unknown) => void;
}

/** What every service function gets: the open project and a way to tell the screens. */
export interface StationContext {
  /** The open project; ApiError NO_PROJECT when none is. */
  project(): Project;
  emit(event: StationEvent): void;
}

export class Station implements ApiHost, StationContext {
  #project: Project | null = null;
  #queue: JobQueue | null = null;
  readonly #events = new EventEmitter<{ event: [StationEvent] }>();
  readonly #onInternal: (err: unknown) => void;
  readonly #handlers = buildHandlers(this);
  #closeHooks: Array<() => Promise<void> | void> = [];

  constructor(options: StationOptions = {}) {
    this.#onInternal = options.onInternalError ?? ((err) => console.error('argus: internal error:', err));
    this.#events.setMaxListeners(100);
  }

  handle(method: string, input: unknown): Promise<ApiResponse<unknown>> {
    return dispatch(this.#handlers, method, input, this.#onInternal);
  }

  subscribe(listener: (event: StationEvent) => void): () => void {
    this.#events.on('event', listener);
    return () => this.#events.off('event', listener);
  }

  emit(event: StationEvent): void {
    this.#events.emit('event', event);
  }

  project(): Project {
    if (!this.#project || !this.#project.isOpen) throw new ApiError('NO_PROJECT', 'no project is open: create or open one first');
    return this.#project;
  }

  get currentProject(): Project | null {
    return this.#project?.isOpen ? this.#project : null;
  }

  /** Runs before the project closes (the job runner stops its workers here). */
  onClose(hook: () => Promise<void> | void): void {
    this.#closeHooks.push(hook);
  }

  /** What a job produced (its summary), or null. */
  jobResult(jobId: number): unknown {
    return jobStore.get(this.project(), jobId).result;
  }

  /** The open project's job queue. */
  jobs(): JobSubmitter {
    this.project();
    return this.#queue!;
  }

  async openProject(dir: string, create?: { name: string }): Promise<ProjectInfo> {
    await this.closeProject();
    const project = create ? createProject(dir, create.name) : openProject(dir);
    this.#project = project;
    this.#queue = this.#startQueue(project);
    const info = this.info()!;
    this.emit({ type: 'project', project: info });
    return info;
  }

  #startQueue(project: Project): JobQueue {
    const queue = new JobQueue(project, {
      handlers: {
        import: async (ctx) => void (await runImport(project, ctx)),
        train: async (ctx) => void (await runTraining(project, ctx)),
        evaluate: async (ctx) => void (await runModelEvaluation(project, ctx)),
        inspect: async (ctx) => void (await runInspection(project, ctx)),
      },
    });
    queue.on('status', (job) => this.emit({ type: 'job', job: toJob(job) }));
    queue.on('progress', (jobId, u) => this.emit({
      type: 'progress', jobId,
      progress: { fraction: u.fraction, step: u.step ?? '', message: u.message ?? '', etaSeconds: u.etaSeconds ?? null, loss: u.loss ?? null },
    }));
    queue.resume();
    return queue;
  }

  async closeProject(): Promise<void> {
    const hooks = this.#closeHooks;
    this.#closeHooks = [];
    for (const hook of hooks) await hook();
    const queue = this.#queue;
    this.#queue = null;
    if (queue) await queue.stop();
    if (this.#project) {
      this.#project.close();
      this.#project = null;
      this.emit({ type: 'project', project: null });
    }
  }

  info(): ProjectInfo | null {
    const p = this.currentProject;
    if (!p) return null;
    return {
      dir: p.dir, name: p.name, schemaVersion: schemaVersion(p.db), readonly: p.readonly,
      interruptedJobs: [...p.recovery.interruptedJobs], provider: activeProvider(),
    };
  }

  async close(): Promise<void> {
    await this.closeProject();
    this.#events.removeAllListeners();
  }
}

