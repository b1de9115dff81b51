/**
 * The training runner: compiles a TrainableModel into one training-step graph (forward + gradients +
 * optimiser updates), then runs it over mini-batches, carrying parameters, optimiser state and buffers
 * as ONNX Runtime tensors from one call to the next (they never leave ORT's tensor form in between).
 *
 * Seeded: the batch source gets a Random derived from (seed, step), so a run resumed from a checkpoint
 * draws exactly what the uninterrupted run drew. Progress events carry step, loss, metrics and ETA;
 * an AbortSignal stops it between steps (after writing a checkpoint, when checkpoints are on).
 * The same code runs on the CUDA and CPU providers; session.ts picks one.
 */
import { performance } from 'node:perf_hooks';
import { openSession, ort, type ProviderPreference, type Session } from '../session.ts';
import { Random } from '../../util/random.ts';
import { type NamedTensor, readTensorFile, type TensorFile, writeTensorFile } from './tensor-file.ts';
import {
  buildLoopGraph, buildStepGraph, carriedTensors, hyperInputs, hyperName, LOSS, nextName, STEP, stackedName, type TrainableModel,
} from './step-graph.ts';

export interface TrainerOptions {
  readonly seed?: number;
  readonly provider?: ProviderPreference;
  /**
   * Steps per session call: above 1, equally shaped consecutive mini-batches are stacked and run by an
   * ONNX Loop in one call (less host-device traffic); odd-shaped batches take the one-step graph.
   */
  readonly stepsPerCall?: number;
}

export interface StepResult {
  /** Steps completed after this one (1-based index of this step). */
  readonly step: number;
  readonly loss: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TrainingProgress extends StepResult {
  readonly totalSteps: number;
  readonly elapsedSeconds: number;
  readonly secondsPerStep: number;
  readonly etaSeconds: number;
}

export type Feeds = Record<string, ort.Tensor>;

/** Supplies the mini-batch of a step (0-based), drawing any randomness from `rng`. */
export type BatchSource = (step: number, rng: Random) => Feeds | Promise<Feeds>;

export interface RunOptions {
  /** Run until this many steps are completed in total (a resumed trainer continues from its step). */
  readonly until: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TrainingProgress) => void;
  /** Write a checkpoint every `everySteps` steps, at the end, and when cancelled. */
  readonly checkpoint?: { readonly path: string; readonly everySteps: number };
}

export interface RunSummary {
  readonly steps: number;
  readonly losses: readonly number[];
  readonly seconds: number;
}

export class TrainingCancelledError extends Error {
  readonly code = 'CANCELLED';
  constructor(readonly step: number) {
    super(`training cancelled after step ${step}`);
    this.name = 'AbortError';
  }
}

export class CheckpointMismatchError extends Error {
  readonly code = 'CHECKPOINT_MISMATCH';
}

/** A Random for one step of one seeded run: a hash of (seed, step), independent of earlier steps. */
export function stepRandom(seed: number, step: number): Random {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ (step >>> 0), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16) ^ Math.floor(step / 4294967296), 0x27d4eb2f) >>> 0;
  return new Random((h ^ (h >>> 15)) >>> 0);
}

const CHECKPOINT_KIND = 'argus-training-checkpoint';

export class Trainer {
  private readonly carried: Map<string, ort.Tensor>;
  private readonly hyper = new Map<string, number>();
  private stepSession: Session | undefined;
  private loopSession: Session | undefined;
  private completed = 0;
  readonly seed: number;
  readonly stepsPerCall: number;

  private constructor(readonly model: TrainableModel, options: TrainerOptions) {
    this.seed = options.seed ?? 0;
    this.stepsPerCall = Math.max(1, Math.floor(options.stepsPerCall ?? 1));
    const init = new Map<string, Float32Array>([...model.params.map((p) => [p.name, p.init] as const), ...(model.buffers ?? []).map((b) => [b.name, b.init] as const)]);
    this.carried = new Map(carriedTensors(model).map((c) => [c.name, new ort.Tensor('float32', Float32Array.from(init.get(c.name) ?? new Float32Array(size(c.dims))), [...c.dims])]));
    for (const h of hyperInputs(model)) this.hyper.set(h.name, h.value);
  }

  /** Compiles the step graph (and the loop graph when stepsPerCall > 1) and opens their sessions. */
  static async create(model: TrainableModel, options: TrainerOptions = {}): Promise<Trainer> {
    const t = new Trainer(model, options);
    t.stepSession = await openSession(buildStepGraph(model), options.provider);
    if (t.stepsPerCall > 1) t.loopSession = await openSession(buildLoopGraph(model), options.provider);
    return t;
  }

  /** Steps completed so far. */
  get step(): number {
    return this.completed;
  }

  get provider(): string {
    return this.stepSession?.info.provider ?? 'cpu';
  }

  /** Changes a hyper-parameter of a group (a schedule) from the next step on. */
  setHyper(group: string, key: string, value: number): void {
    const name = hyperName(group, key);
    if (!this.hyper.has(name)) throw new RangeError(`no hyper-parameter '${key}' in group '${group}'`);
    this.hyper.set(name, value);
  }

  /** Current value of a parameter, optimiser state (`<param>:<key>`) or buffer, as a copy. */
  value(name: string): Float32Array {
    const t = this.carried.get(name);
    if (!t) throw new RangeError(`no carried tensor '${name}'`);
    return Float32Array.from(t.data as Float32Array);
  }

  /** Parameters and buffers (not optimiser state), as copies. */
  weights(): Map<string, NamedTensor> {
    const names = [...this.model.params.map((p) => p.name), ...(this.model.buffers ?? []).map((b) => b.name)];
    return new Map(names.map((n) => [n, { dims: this.carried.get(n)!.dims, data: this.value(n) }]));
  }

  private commonFeeds(): Feeds {
    const feeds: Feeds = Object.fromEntries(this.carried);
    for (const [k, v] of this.hyper) feeds[k] = new ort.Tensor('float32', Float32Array.of(v), []);
    return feeds;
  }

  private takeCarried(out: Record<string, ort.Tensor>): void {
    for (const name of this.carried.keys()) this.carried.set(name, out[nextName(name)]!);
  }

  /** One optimisation step on one mini-batch. */
  async runStep(batch: Feeds): Promise<StepResult> {
    const out = await this.stepSession!.run({ ...this.commonFeeds(), ...batch, [STEP]: int64(this.completed + 1) });
    this.takeCarried(out);
    this.completed++;
    return { step: this.completed, loss: Number(out[LOSS]!.data[0]), metrics: this.metricsAt(out, 0) };
  }

  /** Several steps in one session call (ONNX Loop); the batches must have equal shapes. */
  async runSteps(batches: readonly Feeds[]): Promise<StepResult[]> {
    if (batches.length === 0) return [];
    if (batches.length === 1 || !this.loopSession) {
      const results: StepResult[] = [];
      for (const b of batches) results.push(await this.runStep(b));
      return results;
    }
    const stacked: Feeds = {};
    for (const f of this.model.feeds) stacked[stackedName(f.name)] = stack(batches.map((b) => b[f.name]!));
    const out = await this.loopSession.run({ ...this.commonFeeds(), ...stacked, [STEP]: int64(this.completed) });
    this.takeCarried(out);
    const losses = out[LOSS]!.data as Float32Array;
    return batches.map((_, i) => ({ step: ++this.completed, loss: losses[i]!, metrics: this.metricsAt(out, i) }));
  }

  private metricsAt(out: Record<string, ort.Tensor>, i: number): Record<string, number> {
    const labels = Object.keys(out).filter((k) => k.startsWith('train:metric:'));
    return Object.fromEntries(labels.map((k) => [k.slice('train:metric:'.length), Number(out[k]!.data[i])]));
  }

  /**
   * Runs steps until `options.until` are completed, asking `source` for each step's batch with that
   * step's seeded Random. Throws TrainingCancelledError when the signal fires (between calls).
   */
  async run(source: BatchSource, options: RunOptions): Promise<RunSummary> {
    const start = performance.now();
    const first = this.completed;
    const losses: number[] = [];
    const cp = options.checkpoint;
    const cancelled = () => {
      if (cp) this.saveCheckpoint(cp.path);
      return new TrainingCancelledError(this.completed);
    };
    while (this.completed < options.until) {
      if (options.signal?.aborted) throw cancelled();
      const group: Feeds[] = [];
      const want = Math.min(this.stepsPerCall, options.until - this.completed);
      for (let i = 0; i < want; i++) {
        const s = this.completed + i;
        const b = await source(s, stepRandom(this.seed, s));
        if (group.length > 0 && !sameShapes(group[0]!, b, this.model.feeds.map((f) => f.name))) {
          // An odd-shaped batch ends the group; it is fetched again (same seed) as the next group's first.
          break;
        }
        group.push(b);
        if (options.signal?.aborted) throw cancelled();
      }
      const before = this.completed;
      const results = await this.runSteps(group);
      for (const r of results) {
        losses.push(r.loss);
        const elapsed = (performance.now() - start) / 1000;
        const perStep = elapsed / (r.step - first);
        options.onProgress?.({ ...r, totalSteps: options.until, elapsedSeconds: elapsed, secondsPerStep: perStep, etaSeconds: perStep * (options.until - r.step) });
      }
      if (cp && Math.floor(this.completed / cp.everySteps) > Math.floor(before / cp.everySteps)) this.saveCheckpoint(cp.path);
    }
    if (cp) this.saveCheckpoint(cp.path);
    return { steps: this.completed - first, losses, seconds: (performance.now() - start) / 1000 };
  }

  /** Parameters, optimiser state, buffers, hyper-parameters and step, as a tensor file. */
  checkpoint(): TensorFile {
    const tensors = new Map<string, NamedTensor>();
    for (const [name, t] of this.carried) tensors.set(name, { dims: t.dims, data: t.data as Float32Array });
    return {
      meta: { kind: CHECKPOINT_KIND, model: this.model.name, step: this.completed, seed: this.seed, hyper: Object.fromEntries(this.hyper) },
      tensors,
    };
  }

  saveCheckpoint(path: string): void {
    writeTensorFile(path, this.checkpoint());
  }

  /** Continues from a checkpoint of the same model (names and shapes must match). */
  restore(file: TensorFile): void {
    const meta = file.meta;
    if (meta['kind'] !== CHECKPOINT_KIND) throw new CheckpointMismatchError('not a training checkpoint');
    if (meta['model'] !== this.model.name) throw new CheckpointMismatchError(`checkpoint of '${String(meta['model'])}', not '${this.model.name}'`);
    for (const [name, t] of this.carried) {
      const saved = file.tensors.get(name);
      if (!saved) throw new CheckpointMismatchError(`checkpoint lacks '${name}'`);
      if (saved.dims.join('x') !== t.dims.join('x')) throw new CheckpointMismatchError(`'${name}' has dims [${saved.dims}] in the checkpoint, [${t.dims}] here`);
    }
    for (const name of this.carried.keys()) {
      const saved = file.tensors.get(name)!;
      this.carried.set(name, new ort.Tensor('float32', Float32Array.from(saved.data), [...saved.dims]));
    }
    for (const [k, v] of Object.entries((meta['hyper'] ?? {}) as Record<string, number>)) if (this.hyper.has(k)) this.hyper.set(k, v);
    this.completed = Number(meta['step'] ?? 0);
  }

  loadCheckpoint(path: string): void {
    this.restore(readTensorFile(path));
  }

  async release(): Promise<void> {
    await this.stepSession?.release();
    await this.loopSession?.release();
    this.stepSession = this.loopSession = undefined;
  }
}

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const int64 = (v: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);

function sameShapes(a: Feeds, b: Feeds, names: readonly string[]): boolean {
  return names.every((n) => a[n]!.dims.join('x') === b[n]!.dims.join('x'));
}

/** Stacks equally shaped tensors along a new leading axis. */
function stack(ts: readonly ort.Tensor[]): ort.Tensor {
  const first = ts[0]!;
  const n = first.data.length;
  if (first.type === 'float32') {
    const out = new Float32Array(n * ts.length);
    ts.forEach((t, i) => out.set(t.data as Float32Array, i * n));
    return new ort.Tensor('float32', out, [ts.length, ...first.dims]);
  }
  if (first.type === 'int64') {
    const out = new BigInt64Array(n * ts.length);
    ts.forEach((t, i) => out.set(t.data as BigInt64Array, i * n));
    return new ort.Tensor('int64', out, [ts.length, ...first.dims]);
  }
  throw new RangeError(`cannot stack ${first.type} feeds`);
}


