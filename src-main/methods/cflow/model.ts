/**
 * CFLOW-AD (METHODS.md §7): one conditional normalizing flow per backbone tap, trained on the feature
 * fibres of normal images with engine/training; a fibre's per-dimension log-likelihood ℓ becomes
 * exp(ℓ − maxℓ), upsampled (align_corners=True) and summed over taps into P; the anomaly map is
 * maxP − P and the image score its maximum. maxℓ per tap and maxP are fixed at fit time on held-out
 * normal training images (the official code takes them from the test set).
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { runRows } from '../../engine/onnx/quantise.ts';
import { f32, openSession, type Session } from '../../engine/session.ts';
import { type NamedTensor, readTensorFile, stepRandom, type TensorFile, Trainer, writeTensorFile } from '../../engine/training/index.ts';
import { Backbone } from '../../features/extractor.ts';
import { positionEncodingRows } from '../../features/position-encoding.ts';
import { upsampleBilinearAlignCorners } from '../../vision/interpolate.ts';
import { ignoredCells } from '../ignored-cells.ts';
import { RecordStore } from '../record-store.ts';
import { concatenated, mapToFloat32 } from '../../util/arrays.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { encodeModelFile, ModelFormatError, requireTensor, withStoredPrecision } from '../model-file.ts';
import { holdoutIndices, summarizeTrainingScores, trainingSample } from '../training-scores.ts';
import { CFLOW_DEFAULTS, cflowInput, checkCflowConfig, type CflowConfig } from './defaults.ts';
import { buildScoringGraph, flowShape, type FlowShape, flowTrainingModel, initialParams, initialRotations, paramDims, rotationName } from './flow.ts';
import { learningRate } from './schedule.ts';

/** One tap's grid. */
export interface TapGrid {
  readonly name: string;
  readonly channels: number;
  readonly gridH: number;
  readonly gridW: number;
}

/** The fit-time constants of the map: maxℓ per tap and maxP, on the held-out normal images. */
export interface Normalisation {
  readonly maxLogLikelihood: Readonly<Record<string, number>>;
  readonly maxProbability: number;
  /** Images they were measured on, and whether those were held out (false: too few images to hold any out). */
  readonly images: number;
  readonly heldOut: boolean;
}

export interface TrainingRecord {
  readonly images: number;
  /** Indices (in arrival order) of the training images held out for the normalisation. */
  readonly heldOut: readonly number[];
  readonly epochs: number;
  readonly subEpochs: number;
  /** Optimiser steps per sub-epoch of each tap's flow. */
  readonly stepsPerSubEpoch: Readonly<Record<string, number>>;
  /** Whether the training fibres were kept in a temporary file (more than featureCacheMb of them). */
  readonly fibresOnDisk?: boolean;
  /** Training fibres of each tap a sub-epoch shuffles: fitted images × cells, less those in ignore regions. */
  readonly fibres?: Readonly<Record<string, number>>;
  /** Mean loss of each sub-epoch trained in this fit, per tap. */
  readonly subEpochLosses: Readonly<Record<string, readonly number[]>>;
  /** Wall-clock seconds of each sub-epoch trained in this fit (all taps). */
  readonly epochSeconds: readonly number[];
  /** Sub-epochs restored from a checkpoint instead of trained here. */
  readonly resumedSubEpochs: number;
  readonly featureSeconds: number;
  readonly rotationSeconds: number;
  readonly provider: string;
}

/** One flow's weights: trainable parameters and the fixed rotations. */
export interface FlowWeights {
  readonly params: ReadonlyMap<string, NamedTensor>;
  readonly rotations: ReadonlyMap<string, NamedTensor>;
}

export function tapGrids(backbone: Backbone, c: CflowConfig): TapGrid[] {
  return c.taps.map((name) => {
    const tap = backbone.tap(name);
    return { name, channels: tap.channels, gridH: c.height / tap.stride, gridW: c.width / tap.stride };
  });
}

/** [n, C, h, w] → rows [n·h·w, C] (fibres image-major, then row-major grid order). */
export function toRows(data: Float32Array, n: number, C: number, cells: number): Float32Array {
  const out = new Float32Array(n * C * cells);
  for (let i = 0; i < n; i++) {
    const src = i * C * cells;
    const dst = i * cells * C;
    for (let ch = 0; ch < C; ch++) {
      const plane = src + ch * cells;
      for (let p = 0; p < cells; p++) out[dst + p * C + ch] = data[plane + p]!;
    }
  }
  return out;
}

/**
 * Every image's fibres per tap, kept from the single pass over the training images: one record per
 * image and tap, in memory when all of them fit `budgetMb`, else in temporary files (record-store.ts),
 * so the fit's memory does not grow with the number of training images.
 */
class FibreStore {
  readonly records: RecordStore[];
  /** Per tap, per image: its cells in ignore regions (1), or null when none is (or every one is: all kept). */
  readonly ignored: Array<Array<Uint8Array | null>>;
  n = 0;
  constructor(readonly grids: readonly TapGrid[], readonly capacity: number, budgetMb: number) {
    const perImage = grids.reduce((a, g) => a + g.gridH * g.gridW * g.channels, 0);
    const budget = capacity * perImage * 4 <= budgetMb * 2 ** 20 ? Infinity : 0;
    this.records = grids.map((g) => new RecordStore(g.gridH * g.gridW * g.channels, capacity, budget));
    this.ignored = grids.map(() => []);
  }

  get spilled(): boolean {
    return this.records.some((r) => r.spilled);
  }

  /**
   * The training fibres of tap t, numbered image-major over `images` (f = k·cells + cell for the k-th
   * of them), less those in ignore regions: the flows never learn a label or a fixture as normal.
   */
  keptFibres(t: number, images: readonly number[]): Int32Array {
    const cells = this.grids[t]!.gridH * this.grids[t]!.gridW;
    const out: number[] = [];
    images.forEach((image, k) => {
      const ignored = this.ignored[t]![image];
      for (let cell = 0; cell < cells; cell++) if (!ignored?.[cell]) out.push(k * cells + cell);
    });
    return Int32Array.from(out);
  }

  async add(backbone: Backbone, batch: ImageBatch): Promise<void> {
    if (this.n + batch.n > this.capacity) throw new RangeError(`more training images than announced (${this.capacity})`);
    const out = await backbone.run(batch, this.grids.map((g) => g.name));
    this.grids.forEach((g, t) => {
      const cells = g.gridH * g.gridW;
      this.records[t]!.append(toRows(out[g.name]!.data as Float32Array, batch.n, g.channels, cells));
      for (let i = 0; i < batch.n; i++) {
        const ignored = ignoredCells(batch, i, g.gridH, g.gridW);
        this.ignored[t]![this.n + i] = ignored && ignored.includes(0) ? ignored : null;
      }
    });
    this.n += batch.n;
  }

  /** Fibre `cell` of image `image` at tap t into `out` at `offset`. */
  fibreInto(t: number, image: number, cell: number, out: Float32Array, offset: number): void {
    const C = this.grids[t]!.channels;
    this.records[t]!.readInto(image, out, offset, cell * C, C);
  }

  /** The fibres of the given images, per tap. */
  images(indices: readonly number[]): Float32Array[] {
    return this.records.map((r) => r.gather(indices));
  }

  close(): void {
    for (const r of this.records) r.close();
  }
}

const CHECKPOINT_KIND = 'argus-cflow-checkpoint';

/** Images whose fibres calibration scores per call (bounds its memory whatever the number of images). */
const CALIBRATION_IMAGES = 32;

/** All flows' trainer states and rotations in one file, so a resume restores them together. */
function combinedCheckpoint(grids: readonly TapGrid[], trainers: readonly Trainer[], rotations: readonly FlowWeights['rotations'][], subEpochs: number): TensorFile {
  const tensors = new Map<string, NamedTensor>();
  const trainerMeta: Record<string, unknown> = {};
  grids.forEach((g, t) => {
    const file = trainers[t]!.checkpoint();
    trainerMeta[g.name] = file.meta;
    for (const [n, v] of file.tensors) tensors.set(`${g.name}/${n}`, v);
    for (const [n, v] of rotations[t]!) tensors.set(`${g.name}/rotation/${n}`, v);
  });
  return { meta: { kind: CHECKPOINT_KIND, subEpochs, trainers: trainerMeta }, tensors };
}

/** The part of a combined checkpoint that belongs to one tap. */
function tapPart(file: TensorFile, tap: string, sub: 'state' | 'rotation'): { meta: Record<string, unknown>; tensors: Map<string, NamedTensor> } {
  const prefix = sub === 'rotation' ? `${tap}/rotation/` : `${tap}/`;
  const tensors = new Map<string, NamedTensor>();
  for (const [n, v] of file.tensors) {
    if (!n.startsWith(prefix)) continue;
    if (sub === 'state' && n.startsWith(`${tap}/rotation/`)) continue;
    tensors.set(n.slice(prefix.length), v);
  }
  const meta = ((file.meta['trainers'] ?? {}) as Record<string, Record<string, unknown>>)[tap] ?? {};
  return { meta, tensors };
}

/** Per-fibre training cost of a flow (multiply-adds of one forward pass), for the ETA. */
const fibreCost = (s: FlowShape) => s.blocks * ((s.c1 + s.condition) * s.hidden + s.hidden * 2 * s.c2 + s.channels * s.channels);

/** FitEvents plus a look at the model after each sub-epoch (training curves; not used by the station). */
export interface CflowFitEvents extends FitEvents {
  /** `snapshot` builds and calibrates a model from the flows as they are now. */
  onSubEpoch?(subEpochs: number, snapshot: () => Promise<CflowModel>): Promise<void> | void;
}

export async function fitCflow(train: AsyncIterable<ImageBatch>, trainCount: number, config: CflowConfig, events: CflowFitEvents = {}): Promise<CflowModel> {
  const c = { ...CFLOW_DEFAULTS, ...config };
  checkCflowConfig(c);
  const backbone = await Backbone.open(c.backbone);
  const grids = tapGrids(backbone, c);
  const store = new FibreStore(grids, trainCount, c.featureCacheMb);
  try {
    return await fitOnFibres(store, backbone, grids, train, trainCount, c, events);
  } finally {
    store.close();
  }
}

/** fitCflow after its set-up: features into `store`, the flows' training, calibration. */
async function fitOnFibres(store: FibreStore, backbone: Backbone, grids: readonly TapGrid[], train: AsyncIterable<ImageBatch>, trainCount: number, c: CflowConfig, events: CflowFitEvents): Promise<CflowModel> {
  const featureStart = performance.now();
  for await (const batch of train) {
    await store.add(backbone, batch);
    events.onProgress?.({ stage: 'features', done: store.n, total: trainCount });
  }
  const n = store.n;
  if (n === 0) throw new RangeError('CFLOW-AD needs at least one training image');
  const featureSeconds = (performance.now() - featureStart) / 1000;
  const heldOut = holdoutIndices(n, c);
  const fitted = Array.from({ length: n }, (_, i) => i).filter((i) => !heldOut.includes(i));

  const shapes = grids.map((g) => flowShape(g.channels, c.condition, c.blocks));
  const conditions = grids.map((g) => positionEncodingRows(c.condition, g.gridH, g.gridW));
  const kept = grids.map((_, t) => store.keptFibres(t, fitted));
  const fibres = kept.map((k) => k.length);
  const N = c.fibersPerStep;
  // the official code drops each shuffle's remainder (FIB = E // N); with fewer fibres than a step, one smaller step
  const stepsPerSub = fibres.map((F) => Math.max(1, Math.floor(F / N)));
  const totalSub = c.epochs * c.subEpochs;

  const calibrated = async (flows: readonly FlowWeights[], record: TrainingRecord | undefined) => {
    const model = await CflowModel.create(c, flows, record, backbone);
    const calibration = heldOut.length > 0 ? heldOut : fitted;
    model.normalisation = await model.calibrate((some) => store.images(some), calibration, heldOut.length > 0);
    return model;
  };

  const resume: TensorFile | undefined = c.checkpoint && existsSync(c.checkpoint) ? readTensorFile(c.checkpoint) : undefined;
  if (resume && resume.meta['kind'] !== CHECKPOINT_KIND) throw new ModelFormatError('not-a-model', `${c.checkpoint} is not a CFLOW-AD training checkpoint`);
  const rotationStart = performance.now();
  const rotations: FlowWeights['rotations'][] = [];
  for (let t = 0; t < grids.length; t++) {
    rotations.push(resume ? tapPart(resume, grids[t]!.name, 'rotation').tensors : await initialRotations(shapes[t]!, stepRandom(c.seed, 2000 + t)));
  }
  const rotationSeconds = (performance.now() - rotationStart) / 1000;
  const trainers: Trainer[] = [];
  try {
    for (let t = 0; t < grids.length; t++) {
      const s = shapes[t]!;
      const model = flowTrainingModel(`cflow_${grids[t]!.name}_c${s.channels}_p${s.condition}_k${s.blocks}`, s, c.clamp, c.lr, initialParams(s, stepRandom(c.seed, 1000 + t)), rotations[t]!);
      const trainer = await Trainer.create(model, { seed: c.seed, stepsPerCall: c.stepsPerCall });
      trainers.push(trainer);
    }
    let done = 0;
    if (resume) {
      done = Number(resume.meta['subEpochs'] ?? 0);
      grids.forEach((g, t) => {
        const part = tapPart(resume, g.name, 'state');
        trainers[t]!.restore({ meta: part.meta, tensors: part.tensors });
        if (trainers[t]!.step !== done * stepsPerSub[t]!) throw new ModelFormatError('meta', `${c.checkpoint}: tap ${g.name} is at step ${trainers[t]!.step}, expected ${done * stepsPerSub[t]!}`);
      });
    }

    const subEpochLosses: Record<string, number[]> = Object.fromEntries(grids.map((g) => [g.name, []]));
    const epochSeconds: number[] = [];
    const totalSteps = stepsPerSub.reduce((a, b) => a + b, 0) * totalSub;
    const stepCost = shapes.map((s, t) => fibreCost(s) * Math.min(N, fibres[t]!));
    const totalCost = stepCost.reduce((a, w, t) => a + w * stepsPerSub[t]!, 0) * totalSub;
    let doneCost = stepCost.reduce((a, w, t) => a + w * stepsPerSub[t]!, 0) * done;
    let costTimed = 0;
    const trainStart = performance.now();
    for (let sub = done; sub < totalSub; sub++) {
      const subStart = performance.now();
      for (let t = 0; t < grids.length; t++) {
        const g = grids[t]!;
        const s = shapes[t]!;
        const cells = g.gridH * g.gridW;
        const F = fibres[t]!;
        const order = stepRandom((c.seed ^ (0x5eed + t)) >>> 0, sub).sample(F, F);
        const batch = (q: number) => {
          const picked = order.slice(q * N, Math.min((q + 1) * N, F));
          const x = new Float32Array(picked.length * s.channels);
          const cond = new Float32Array(picked.length * s.condition);
          picked.forEach((o, r) => {
            const f = kept[t]![o]!;
            const cell = f % cells;
            const image = fitted[Math.floor(f / cells)]!;
            store.fibreInto(t, image, cell, x, r * s.channels);
            cond.set(conditions[t]!.subarray(cell * s.condition, (cell + 1) * s.condition), r * s.condition);
          });
          return { fibers: f32(x, [picked.length, s.channels]), cond: f32(cond, [picked.length, s.condition]) };
        };
        let lossSum = 0;
        const steps = stepsPerSub[t]!;
        for (let q = 0; q < steps; q += c.stepsPerCall) {
          const count = Math.min(c.stepsPerCall, steps - q);
          trainers[t]!.setHyper('flow', 'lr', learningRate(c, sub * steps + q, steps));
          const results = await trainers[t]!.runSteps(Array.from({ length: count }, (_, i) => batch(q + i)));
          for (const r of results) lossSum += r.loss;
          doneCost += stepCost[t]! * count;
          costTimed += stepCost[t]! * count;
          const elapsed = (performance.now() - trainStart) / 1000;
          const stepsDone = stepsPerSub.reduce((a, b) => a + b, 0) * sub + stepsPerSub.slice(0, t).reduce((a, b) => a + b, 0) + q + count;
          events.onProgress?.({
            stage: 'train', done: stepsDone, total: totalSteps, loss: results[results.length - 1]!.loss, etaSeconds: (elapsed / costTimed) * (totalCost - doneCost),
          });
        }
        subEpochLosses[g.name]!.push(lossSum / steps);
      }
      epochSeconds.push((performance.now() - subStart) / 1000);
      if (c.checkpoint) writeTensorFile(c.checkpoint, combinedCheckpoint(grids, trainers, rotations, sub + 1));
      await events.onSubEpoch?.(sub + 1, () => calibrated(trainers.map((tr, t) => ({ params: tr.weights(), rotations: rotations[t]! })), undefined));
    }
    const flows: FlowWeights[] = trainers.map((tr, t) => ({ params: tr.weights(), rotations: rotations[t]! }));
    const record: TrainingRecord = {
      images: n, heldOut, epochs: c.epochs, subEpochs: c.subEpochs,
      stepsPerSubEpoch: Object.fromEntries(grids.map((g, t) => [g.name, stepsPerSub[t]!])), fibres: Object.fromEntries(grids.map((g, t) => [g.name, fibres[t]!])), subEpochLosses, epochSeconds, resumedSubEpochs: done,
      featureSeconds, rotationSeconds, provider: trainers[0]!.provider, fibresOnDisk: store.spilled,
    };
    for (const tr of trainers) await tr.release();
    trainers.length = 0;

    events.onProgress?.({ stage: 'calibrate', done: 0, total: 1 });
    const model = await calibrated(flows, record);
    const scored: Prediction[] = [];
    for (const i of trainingSample(n)) scored.push(...(await model.scoreFibres(store.images([i]), 1)));
    model.trainingScores = summarizeTrainingScores(scored);
    events.onProgress?.({ stage: 'calibrate', done: 1, total: 1 });
    return model;
  } finally {
    for (const tr of trainers) await tr.release();
  }
}

function parseNormalisation(stored: StoredModel<CflowConfig>): Normalisation {
  const v = stored.meta['normalisation'] as Record<string, unknown> | undefined;
  const fail = (why: string) => new ModelFormatError('meta', `${stored.source}: meta field 'normalisation' ${why}`);
  if (typeof v !== 'object' || v === null) throw fail('is missing');
  const ll = v['maxLogLikelihood'] as Record<string, unknown> | undefined;
  if (typeof ll !== 'object' || ll === null) throw fail('lacks maxLogLikelihood');
  for (const tap of stored.config.taps) if (typeof ll[tap] !== 'number' || !Number.isFinite(ll[tap])) throw fail(`lacks a finite maxLogLikelihood for ${tap}`);
  if (typeof v['maxProbability'] !== 'number' || !Number.isFinite(v['maxProbability'])) throw fail('lacks a finite maxProbability');
  return {
    maxLogLikelihood: Object.fromEntries(stored.config.taps.map((t) => [t, ll[t] as number])),
    maxProbability: v['maxProbability'] as number,
    images: typeof v['images'] === 'number' ? v['images'] : 0,
    heldOut: v['heldOut'] === true,
  };
}

/** Stored: per tap `<tap>/b<k>.<part>` parameters and `<tap>/b<k>.w_perm` rotations; meta normalisation and training. */
export async function deserializeCflow(stored: StoredModel<CflowConfig>): Promise<CflowModel> {
  const c = { ...CFLOW_DEFAULTS, ...withStoredPrecision(stored) };
  const backbone = await Backbone.open(c.backbone);
  const grids = tapGrids(backbone, c);
  const flows: FlowWeights[] = grids.map((g) => {
    const s = flowShape(g.channels, c.condition, c.blocks);
    const params = new Map<string, NamedTensor>();
    for (const [name, dims] of paramDims(s)) params.set(name, { dims, data: requireTensor(stored, `${g.name}/${name}`, dims) });
    const rotations = new Map<string, NamedTensor>();
    for (let k = 0; k < s.blocks; k++) rotations.set(rotationName(k), { dims: [s.channels, s.channels], data: requireTensor(stored, `${g.name}/${rotationName(k)}`, [s.channels, s.channels]) });
    return { params, rotations };
  });
  const normalisation = parseNormalisation(stored);
  const training = stored.meta['training'];
  if (training !== undefined && training !== null && (typeof training !== 'object' || Array.isArray(training))) {
    throw new ModelFormatError('meta', `${stored.source}: meta field 'training' must be an object`);
  }
  const model = await CflowModel.create(c, flows, (training as TrainingRecord | null | undefined) ?? undefined, backbone);
  model.normalisation = normalisation;
  model.trainingScores = stored.trainingScores;
  return model;
}

/** The scoring graph of a model: per tap `<tap>` fibre rows in, `<tap>:loglik` per-fibre ℓ out. */
export function cflowScoringGraph(config: CflowConfig, flows: readonly FlowWeights[], grids: readonly TapGrid[]): Promise<Uint8Array> {
  return buildScoringGraph(
    grids.map((g, t) => ({
      input: g.name, output: `${g.name}:loglik`, shape: flowShape(g.channels, config.condition, config.blocks), params: flows[t]!.params, rotations: flows[t]!.rotations,
      condition: positionEncodingRows(config.condition, g.gridH, g.gridW), cells: g.gridH * g.gridW,
    })),
    config.clamp,
    config.precision,
  );
}

export class CflowModel implements FittedModel {
  readonly method = 'cflow';
  /** Set once, at fit or load. */
  trainingScores: TrainingScores | undefined;
  normalisation: Normalisation | undefined;

  private constructor(
    readonly config: CflowConfig,
    readonly flows: readonly FlowWeights[],
    readonly training: TrainingRecord | undefined,
    private readonly backboneNet: Backbone,
    readonly grids: readonly TapGrid[],
    private readonly scorer: Session,
  ) {}

  static async create(config: CflowConfig, flows: readonly FlowWeights[], training: TrainingRecord | undefined, backbone: Backbone): Promise<CflowModel> {
    const grids = tapGrids(backbone, config);
    return new CflowModel(config, flows, training, backbone, grids, await openSession(await cflowScoringGraph(config, flows, grids)));
  }

  get input(): InputSpec {
    return cflowInput(this.config);
  }

  get backbone(): BackboneRef {
    return { id: this.backboneNet.spec.id, sha256: this.backboneNet.spec.sha256 };
  }

  describe(): Record<string, unknown> {
    return { ...this.config, training: this.training, normalisation: this.normalisation, backboneSha256: this.backboneNet.spec.sha256, trainingScores: this.trainingScores };
  }

  serialize(): Uint8Array {
    const tensors = new Map<string, NamedTensor>();
    this.grids.forEach((g, t) => {
      for (const [n, v] of this.flows[t]!.params) tensors.set(`${g.name}/${n}`, v);
      for (const [n, v] of this.flows[t]!.rotations) tensors.set(`${g.name}/${n}`, v);
    });
    return encodeModelFile({
      method: this.method,
      config: this.config,
      backbone: this.backbone,
      trainingScores: this.trainingScores,
      extra: { training: this.training ?? null, normalisation: this.normalisation ?? null },
      tensors,
    });
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const out = await this.backboneNet.run(batch, this.grids.map((g) => g.name));
    const rows = this.grids.map((g) => toRows(out[g.name]!.data as Float32Array, batch.n, g.channels, g.gridH * g.gridW));
    return this.scoreFibres(rows, batch.n);
  }

  /** ℓ of every fibre, per tap ([n·cells] each), from per-tap fibre rows of n images. */
  async logLikelihoods(rows: readonly Float32Array[], n: number): Promise<Float32Array[]> {
    const inputs = this.grids.map((g, t) => ({ name: g.name, data: rows[t]!, rowsPerImage: g.gridH * g.gridW, channels: g.channels }));
    const out = await runRows(this.scorer, inputs, n, this.config.precision);
    return this.grids.map((g) => out[`${g.name}:loglik`]!);
  }

  /** P = Σ_taps upsample(exp(ℓ − maxℓ_tap)) of each image, at the input size. */
  probabilityMaps(ll: readonly Float32Array[], n: number, maxLogLikelihood: Readonly<Record<string, number>>): Float32Array[] {
    const { height, width } = this.config;
    return Array.from({ length: n }, (_, i) => {
      const P = new Float32Array(height * width);
      this.grids.forEach((g, t) => {
        const cells = g.gridH * g.gridW;
        const max = maxLogLikelihood[g.name]!;
        const grid = mapToFloat32(ll[t]!.subarray(i * cells, (i + 1) * cells), (v) => Math.exp(v - max));
        const up = upsampleBilinearAlignCorners(grid, g.gridW, g.gridH, width, height);
        for (let p = 0; p < P.length; p++) P[p]! += up[p]!;
      });
      return P;
    });
  }

  /**
   * The normalisation constants from normal images' fibres (`fibres` gives the per-tap rows of a few
   * images), read CALIBRATION_IMAGES at a time so that memory stays bounded.
   */
  async calibrate(fibres: (images: readonly number[]) => readonly Float32Array[], images: readonly number[], heldOut: boolean): Promise<Normalisation> {
    const parts: Float32Array[][] = this.grids.map(() => []);
    for (let i = 0; i < images.length; i += CALIBRATION_IMAGES) {
      const some = images.slice(i, i + CALIBRATION_IMAGES);
      (await this.logLikelihoods(fibres(some), some.length)).forEach((l, t) => parts[t]!.push(l));
    }
    const ll = parts.map((l) => concatenated(l, (n) => new Float32Array(n)));
    const n = images.length;
    const maxLogLikelihood = Object.fromEntries(this.grids.map((g, t) => [g.name, ll[t]!.reduce((a, v) => Math.max(a, v), -Infinity)]));
    let maxProbability = -Infinity;
    for (const P of this.probabilityMaps(ll, n, maxLogLikelihood)) for (const v of P) if (v > maxProbability) maxProbability = v;
    return { maxLogLikelihood, maxProbability, images: n, heldOut };
  }

  /** Predictions from per-tap fibre rows of n images (as FibreStore and predict lay them out). */
  async scoreFibres(rows: readonly Float32Array[], n: number): Promise<Prediction[]> {
    const norm = this.normalisation;
    if (!norm) throw new Error('CFLOW-AD model has no normalisation constants (not fitted or loaded)');
    const ll = await this.logLikelihoods(rows, n);
    return this.probabilityMaps(ll, n, norm.maxLogLikelihood).map((P) => {
      const map = mapToFloat32(P, (v) => norm.maxProbability - v);
      let score = -Infinity;
      for (const v of map) if (v > score) score = v;
      return { score, map };
    });
  }
}
