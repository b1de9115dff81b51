/**
 * Runs one WorkerTask in a fresh worker thread and turns its messages into callbacks. Cancelling
 * asks the worker to stop at its next check; a worker that does not stop within `graceMs` is
 * terminated. Each task gets its own thread, so a crash in native code ends only that job.
 */
import { startWorker } from '../util/worker-thread.ts';
import type { FromWorker, ToWorker, WorkerTask } from './worker-protocol.ts';

export interface WorkerRun {
  /** Acknowledges one 'scored' message (the worker keeps at most maxInFlight unacknowledged). */
  ack(): void;
  /** Resolves when the worker has finished; rejects with its error. */
  readonly done: Promise<void>;
}

export class WorkerTaskError extends Error {
  constructor(message: string, readonly workerErrorName: string) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);

export function runWorkerTask(task: WorkerTask, onMessage: (m: FromWorker) => void, signal?: AbortSignal, graceMs = 10_000): WorkerRun {
  const worker = startWorker(WORKER_URL, { workerData: task });
  const send = (m: ToWorker) => worker.postMessage(m);
  let failure: Error | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    send({ type: 'cancel' });
    killTimer = setTimeout(() => void worker.terminate(), graceMs);
  };
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') failure = new WorkerTaskError(m.message, m.name);
      else {
        try {
          onMessage(m);
        } catch (err) {
          failure ??= err instanceof Error ? err : new Error(String(err));
          onAbort();
        }
      }
    });
    worker.on('error', (err) => (failure ??= err));
    worker.on('exit', (code) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else if (code !== 0 && !signal?.aborted) reject(new Error(`compute worker exited with code ${code}`));
      else resolve();
    });
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return { ack: () => send({ type: 'ack' }), done };
}

/**
 * Handles workers' acknowledged messages ('scored', 'refined') one at a time and in the order they
 * arrive, then acknowledges each to the worker that sent it, so a worker runs at most its in-flight
 * limit ahead of what is stored. One InOrder may serve several workers of a job: their messages are
 * still handled one at a time. The first failure is kept (later messages are acknowledged unhandled,
 * so no worker waits forever) and thrown by settle().
 */
export class InOrder {
  #chain: Promise<void> = Promise.resolve();
  #failure: { readonly error: unknown } | null = null;

  /** `from`: the worker run to acknowledge once `handle` is done. */
  add(from: () => WorkerRun, handle: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(async () => {
      if (!this.#failure) {
        try {
          await handle();
        } catch (error) {
          this.#failure = { error };
        }
      }
      from().ack();
    });
  }

  /** Waits for every handled message; throws the first failure. */
  async settle(): Promise<void> {
    await this.#chain;
    if (this.#failure) throw this.#failure.error;
  }
}
