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
import { resolve } from 'node:path';
import { dispatch, type ApiHost } from '../api/dispatch.ts';
import { ApiError, type ApiResponse, type ProjectInfo, type StationEvent } from '../api/contract.ts';
import { activeProvider } from '../engine/session.ts';
import { JobQueue } from '../jobs/queue.ts';
import { createProject, openProject, schemaVersion, type Project } from '../store/index.ts';
import { buildHandlers, type JobSubmitter } from './handlers.ts';
import { runImport } from './imports.ts';
import { runRefinement } from './refinement.ts';
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

/**
 * A folder the file system will not let us use (no permission, read-only, a file in the way, a name
 * too long, a full disk) is the caller's problem to fix: BAD_INPUT with the system's reason.
 */
function unreachable(dir: string, creating: boolean, err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !(/^E[A-Z]+$/.test(code) || /^SQLITE_(CANTOPEN|READONLY|IOERR|PERM|FULL|AUTH)/.test(code))) return err;
  return new ApiError('BAD_INPUT', `cannot ${creating ? 'create' : 'open'} a project in ${dir}: ${(err as Error).message}`);
}

export class Station implements ApiHost, StationContext {
  #project: Project | null = null;
  #queue: JobQueue | null = null;
  readonly #events = new EventEmitter<{ event: [StationEvent] }>();
  readonly #onInternal: (err: unknown) => void;
  readonly #handlers = buildHandlers(this);

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

  /** The open project's job queue. */
  jobs(): JobSubmitter {
    this.project();
    return this.#queue!;
  }

  /**
   * Opens (or creates) the project in `dir` and makes it the current one. The current project stays
   * open until the new one has opened, so a failed open or create changes nothing.
   */
  async openProject(dir: string, create?: { name: string }): Promise<ProjectInfo> {
    const current = this.currentProject;
    if (!create && current && current.dir === resolve(dir)) return this.info()!;
    let project: Project;
    try {
      project = create ? createProject(dir, create.name) : openProject(dir);
    } catch (err) {
      throw unreachable(dir, create !== undefined, err);
    }
    try {
      await this.closeProject();
    } catch (err) {
      project.close();
      throw err;
    }
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
        refine: async (ctx) => void (await runRefinement(project, ctx)),
      },
    });
    queue.on('status', (job) => this.emit({ type: 'job', job }));
    queue.on('progress', (jobId, u) => this.emit({
      type: 'progress', jobId,
      progress: { fraction: u.fraction, step: u.step ?? '', message: u.message ?? '', etaSeconds: u.etaSeconds ?? null, loss: u.loss ?? null },
    }));
    queue.resume();
    return queue;
  }

  async closeProject(): Promise<void> {
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

