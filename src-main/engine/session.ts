/**
 * ONNX Runtime sessions. Asks for the CUDA execution provider and falls back to the CPU one,
 * recording why. Sessions are cached per model so every caller shares one pool.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface SessionInfo {
  /** The provider the session actually runs on. */
  readonly provider: ExecutionProvider;
  /** Why CUDA is not used, when it is not. */
  readonly fallbackReason?: string;
}

export interface Session {
  readonly info: SessionInfo;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export type ProviderPreference = 'auto' | 'cuda' | 'cpu';

let logger: (message: string) => void = (m) => process.stderr.write(`${m}\n`);
/** Redirects the provider log (the CLI keeps it off its progress bars; tests silence it). */
export function setSessionLogger(log: (message: string) => void): void {
  logger = log;
}

function preferenceFromEnv(): ProviderPreference {
  const v = process.env['ARGUS_PROVIDER'];
  if (v === 'cuda' || v === 'cpu' || v === 'auto') return v;
  return 'auto';
}

/**
 * The CUDA provider is a separate library that onnxruntime-node downloads at install time (skipped on
 * offline machines). Without it ORT would print a native error on every attempt, so look first.
 */
function missingCudaLibrary(): string | undefined {
  const require = createRequire(import.meta.url);
  const binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', `napi-v6`, process.platform, process.arch);
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(binDir, lib)) ? undefined : `${lib} is not installed in ${binDir}`;
}

/** Why CUDA cannot be used, once known; undefined while it may still work. */
let cudaUnavailable: string | undefined = missingCudaLibrary();
let cudaReasonLogged = false;

/** Set by a worker that shares the CPUs with others (jobs/worker.ts); takes precedence over ARGUS_THREADS. */
let threadsOfThisThread: number | undefined;

/** Intra-op threads for the sessions this thread opens from now on (a compute worker's share of the CPUs). */
export function setIntraOpThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`intra-op threads must be a positive integer, got ${threads}`);
  threadsOfThisThread = threads;
}

/**
 * Intra-op threads per session: this thread's share (setIntraOpThreads), else ARGUS_THREADS, else the
 * CPUs this process may run on. ONNX Runtime's own default counts the host's physical cores, which in
 * a container or under a CPU affinity mask can be many times the CPUs granted: the oversubscribed pool
 * then runs a large matrix product at a third of the speed of two threads (measured on a 2-CPU
 * container of a many-core host).
 */
export function intraOpThreads(): number {
  if (threadsOfThisThread !== undefined) return threadsOfThisThread;
  const fromEnv = Number(process.env['ARGUS_THREADS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism();
}

async function createOrt(model: string | Uint8Array, provider: ExecutionProvider): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: provider === 'cuda' ? [{ name: 'cuda' }, 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: intraOpThreads(),
    // Every session has its own intra-op pool; spinning threads of one steal the cores from the next
    // (backbone -> embedding -> search run back to back), so idle threads sleep instead.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/**
 * Opens a session. With preference 'auto' (default, or ARGUS_PROVIDER), CUDA is tried first and
 * the CPU is used when it fails; the reason is logged once. With 'cuda', failure is an error.
 */
export async function openSession(model: string | Uint8Array, preference: ProviderPreference = preferenceFromEnv()): Promise<Session> {
  if (preference === 'cpu') return wrap(await createOrt(model, 'cpu'), { provider: 'cpu', fallbackReason: 'CPU requested' });
  if (cudaUnavailable === undefined) {
    try {
      return wrap(await createOrt(model, 'cuda'), { provider: 'cuda' });
    } catch (err) {
      cudaUnavailable = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    }
  }
  if (preference === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${cudaUnavailable}`);
  if (!cudaReasonLogged) {
    logger(`[argus] CUDA execution provider unavailable, using CPU: ${cudaUnavailable}`);
    cudaReasonLogged = true;
  }
  return wrap(await createOrt(model, 'cpu'), { provider: 'cpu', fallbackReason: cudaUnavailable });
}

let lastProvider: ExecutionProvider | undefined;
/** The provider of the most recently opened session ('cpu' before any). */
export function activeProvider(): ExecutionProvider {
  return lastProvider ?? 'cpu';
}

function wrap(s: ort.InferenceSession, info: SessionInfo): Session {
  lastProvider = info.provider;
  return {
    info,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    run: (feeds, outputs) => (outputs ? s.run(feeds, [...outputs]) : s.run(feeds)),
    release: () => s.release(),
  };
}

const pool = new Map<string, Promise<Session>>();

/** A shared session per key (a model path, or a name for a built graph). */
export function pooledSession(key: string, model: () => string | Uint8Array): Promise<Session> {
  let s = pool.get(key);
  if (!s) {
    s = openSession(model());
    pool.set(key, s);
    s.catch(() => pool.delete(key));
  }
  return s;
}

export async function releaseAllSessions(): Promise<void> {
  const all = [...pool.values()];
  pool.clear();
  await Promise.all(all.map(async (p) => (await p).release()));
}

export { ort };

/** A float32 tensor with readonly dims. */
export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, [...dims]);
}
