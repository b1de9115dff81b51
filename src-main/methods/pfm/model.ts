/**
 * PFM / MB-PFM and PEFM (METHODS.md §2, §3): two frozen backbones see each image; per level a small
 * 1×1-conv network learns to map the normalised features of S into those of T and back (network.ts),
 * trained on engine/training with one Adam per level; a pixel's score is the mapping error, upsampled
 * to the input size and fused over levels; the image's score is the map's maximum.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getBackbone } from '../../features/backbones.ts';
import { runRows } from '../../engine/onnx/quantise.ts';
import { f32, openSession, type Session } from '../../engine/session.ts';
import { type NamedTensor, stepRandom, Trainer } from '../../engine/training/index.ts';
import { upsampleBilinear } from '../../vision/index.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { encodeModelFile, ModelFormatError, requireTensor, withStoredPrecision } from '../model-file.ts';
import { RecordStore } from '../record-store.ts';
import { summarizeTrainingScores, trainingSample } from '../training-scores.ts';
import { ignoredCells, standInCells, useStandInRows } from '../ignored-cells.ts';
import { checkPfmConfig, pfmInput, type PfmConfig } from './defaults.ts';
import { type LevelFeatures, levelSpecs, PfmFeatures } from './features.ts';
import {
  batchStatisticOutput, bufferDims, buildBatchStatisticsGraph, buildScoringGraph, errorOutput, initialWeights, type MappingSpec, parameterDims, sourceFeed, squaredOutput, statisticDims, targetFeed, trainingModel,
} from './network.ts';
import { mapToFloat32 } from '../../util/arrays.ts';

export type PfmMethodName = 'pfm' | 'pefm';

export interface PfmTrainingRecord {
  readonly images: number;
  readonly epochs: number;
  readonly steps: number;
  readonly stepsPerEpoch: number;
  /** Mean loss (summed over levels) of each epoch trained in this fit. */
  readonly epochLosses: readonly number[];
  /** Mean loss of each level in each epoch trained in this fit ([epoch][level in config order]). */
  readonly epochLevelLosses: readonly (readonly number[])[];
  /** Wall-clock seconds of each epoch trained in this fit. */
  readonly epochSeconds: readonly number[];
  /** Epochs completed before this fit started (resumed from a checkpoint). */
  readonly resumedAtEpoch: number;
  readonly featureSeconds: number;
  readonly cachedFeatures: boolean;
  /** Whether the training images were kept in a temporary file (more than featureCacheMb of them). */
  readonly imagesOnDisk?: boolean;
  readonly provider: string;
  /** Per level (config order): training cells in ignore regions, trained with the nearest kept cell's features. */
  readonly ignoredCells?: readonly number[];
}

export function mappingSpec(c: PfmConfig): MappingSpec {
  checkPfmConfig(c);
  return {
    levels: levelSpecs(c),
    direction: c.direction,
    positionEncoding: c.positionEncoding,
    normalise: c.normalise,
    bnEps: c.bnEps,
    bnMomentum: c.bnMomentum,
    lr: c.levels.map((l) => c.lr[l - 1]!),
    weightDecay: c.weightDecay,
  };
}

/**
 * Training features of every image, kept from the single pass over the training images. Cells in a
 * training image's ignore regions train with the features of the nearest kept cell of the same image
 * (ignored-cells.ts: standInCells), so a label or a fixture is never learnt as normal.
 */
class TrainingSet {
  private cache: { s: Float32Array; t: Float32Array }[] | undefined;
  private images: RecordStore | undefined;
  /** Per image, per level: the stand-in of every cell, or null when none of the image's cells is ignored. */
  private readonly standIns: Array<Array<Int32Array | null>> = [];
  /** Per level: cells of all training images that trained with a stand-in's features. */
  readonly ignoredCounts: number[];
  n = 0;

  constructor(private readonly features: PfmFeatures, private readonly c: PfmConfig, private readonly capacity: number) {
    this.ignoredCounts = features.levels.map(() => 0);
  }

  get cached(): boolean {
    return this.cache !== undefined;
  }

  /** Whether the training images were kept in a temporary file (neither features nor images fit featureCacheMb). */
  get spilled(): boolean {
    return this.images?.spilled ?? false;
  }

  close(): void {
    this.cache = undefined;
    this.images?.close();
  }

  private get levels() {
    return this.features.levels;
  }

  async add(batch: ImageBatch): Promise<void> {
    if (this.n + batch.n > this.capacity) throw new RangeError(`more training images than announced (${this.capacity})`);
    if (this.n === 0) {
      const perImage = this.levels.reduce((a, l) => a + l.gridH * l.gridW * (l.cs + l.ct), 0);
      if (this.capacity * perImage * 4 <= this.c.featureCacheMb * 2 ** 20) {
        this.cache = this.levels.map((l) => ({ s: new Float32Array(this.capacity * l.gridH * l.gridW * l.cs), t: new Float32Array(this.capacity * l.gridH * l.gridW * l.ct) }));
      } else {
        // features re-extracted per step from the images, which stay within the same budget (else on disk)
        this.images = new RecordStore(3 * batch.height * batch.width, this.capacity, this.c.featureCacheMb * 2 ** 20);
      }
    }
    for (let i = 0; i < batch.n; i++) {
      const standIns = this.levels.map((l) => standInCells(ignoredCells(batch, i, l.gridH, l.gridW), l.gridH, l.gridW));
      standIns.forEach((source, k) => (this.ignoredCounts[k]! += source ? source.filter((from: number, cell: number) => from !== cell).length : 0));
      this.standIns.push(standIns);
    }
    if (this.cache) {
      const f = this.withStandIns(await this.features.extract(batch), Array.from({ length: batch.n }, (_, i) => this.n + i));
      this.levels.forEach((l, i) => {
        const hw = l.gridH * l.gridW;
        this.cache![i]!.s.set(f[i]!.s, this.n * hw * l.cs);
        this.cache![i]!.t.set(f[i]!.t, this.n * hw * l.ct);
      });
    } else {
      this.images!.append(batch.data.subarray(0, batch.n * this.images!.recordFloats));
    }
    this.n += batch.n;
  }

  /** Features of the given training images (in order) with their ignored cells' rows replaced, in place. */
  private withStandIns(f: LevelFeatures[], indices: readonly number[]): LevelFeatures[] {
    this.levels.forEach((l, k) => {
      const hw = l.gridH * l.gridW;
      indices.forEach((img, j) => {
        const source = this.standIns[img]?.[k];
        if (!source) return;
        useStandInRows(f[k]!.s.subarray(j * hw * l.cs, (j + 1) * hw * l.cs), l.cs, source);
        useStandInRows(f[k]!.t.subarray(j * hw * l.ct, (j + 1) * hw * l.ct), l.ct, source);
      });
    });
    return f;
  }

  /** Per level the S and T rows of the given images, in that order. */
  async gather(indices: readonly number[]): Promise<LevelFeatures[]> {
    if (this.cache) {
      return this.levels.map((l, i) => {
        const hw = l.gridH * l.gridW;
        const pick = (all: Float32Array, ch: number) => {
          const out = new Float32Array(indices.length * hw * ch);
          indices.forEach((img, k) => out.set(all.subarray(img * hw * ch, (img + 1) * hw * ch), k * hw * ch));
          return out;
        };
        return { s: pick(this.cache![i]!.s, l.cs), t: pick(this.cache![i]!.t, l.ct) };
      });
    }
    const data = this.images!.gather(indices);
    return this.withStandIns(await this.features.extract({ data, n: indices.length, height: this.c.height, width: this.c.width }), indices);
  }
}

/**
 * The order the training images are read in an epoch: it depends on (seed, epoch) only, so a resumed
 * run draws the same batches (and bench/pfm-parity.ts --same-start hands it to the official loop).
 */
export function epochOrder(seed: number, epoch: number, n: number): number[] {
  return stepRandom(seed ^ 0x5eed, epoch).sample(n, n);
}

export async function fitPfm(name: PfmMethodName, defaults: PfmConfig, train: AsyncIterable<ImageBatch>, trainCount: number, config: PfmConfig, events: FitEvents = {}): Promise<PfmModel> {
  const c: PfmConfig = { ...defaults, ...config };
  const spec = mappingSpec(c);
  const features = await PfmFeatures.open(c);
  const set = new TrainingSet(features, c, trainCount);
  try {
    return await fitOnSet(name, c, spec, features, set, train, trainCount, events);
  } finally {
    set.close();
  }
}

/** fitPfm after its set-up: features (or images) into `set`, the mapping's training, its statistics. */
async function fitOnSet(name: PfmMethodName, c: PfmConfig, spec: MappingSpec, features: PfmFeatures, set: TrainingSet, train: AsyncIterable<ImageBatch>, trainCount: number, events: FitEvents): Promise<PfmModel> {
  const featureStart = performance.now();
  for await (const batch of train) {
    await set.add(batch);
    events.onProgress?.({ stage: 'features', done: set.n, total: trainCount });
  }
  if (set.n === 0) throw new RangeError(`${name} needs at least one training image`);
  const featureSeconds = (performance.now() - featureStart) / 1000;

  const n = set.n;
  const batchSize = Math.max(1, Math.min(c.batchSize, n));
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = c.epochs * stepsPerEpoch;
  const trainer = await Trainer.create(trainingModel(spec, initialWeights(spec, c.seed)), { seed: c.seed });
  if (c.checkpoint && existsSync(c.checkpoint)) trainer.loadCheckpoint(c.checkpoint);
  const resumedAtEpoch = Math.floor(trainer.step / stepsPerEpoch);

  const orders = new Map<number, number[]>();
  const order = (epoch: number) => orders.get(epoch) ?? orders.set(epoch, epochOrder(c.seed, epoch, n)).get(epoch)!;
  const source = async (step: number) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    const j = step % stepsPerEpoch;
    return mappingFeeds(spec, set, order(epoch).slice(j * batchSize, (j + 1) * batchSize));
  };

  const epochLosses: number[] = [];
  const epochLevelLosses: number[][] = [];
  const epochSeconds: number[] = [];
  let loss = 0;
  let levelLoss = spec.levels.map(() => 0);
  let epochStart = performance.now();
  try {
    await trainer.run(source, {
      until: totalSteps,
      ...(c.checkpoint ? { checkpoint: { path: c.checkpoint, everySteps: stepsPerEpoch } } : {}),
      onProgress: (p) => {
        loss += p.loss;
        levelLoss = levelLoss.map((v, i) => v + (p.metrics[`loss_l${spec.levels[i]!.level}`] ?? Number.NaN));
        if (p.step % stepsPerEpoch === 0 || p.step === totalSteps) {
          const steps = p.step - (Math.ceil(p.step / stepsPerEpoch) - 1) * stepsPerEpoch;
          epochLosses.push(loss / steps);
          epochLevelLosses.push(levelLoss.map((v) => v / steps));
          epochSeconds.push((performance.now() - epochStart) / 1000);
          loss = 0;
          levelLoss = levelLoss.map(() => 0);
          epochStart = performance.now();
        }
        events.onProgress?.({ stage: 'train', done: p.step, total: totalSteps, loss: p.loss, etaSeconds: p.etaSeconds });
      },
    });
  } finally {
    await trainer.release();
  }
  const record: PfmTrainingRecord = {
    images: n, epochs: c.epochs, steps: trainer.step, stepsPerEpoch, epochLosses, epochLevelLosses, epochSeconds, resumedAtEpoch,
    featureSeconds, cachedFeatures: set.cached, imagesOnDisk: set.spilled, provider: trainer.provider, ignoredCells: set.ignoredCounts,
  };
  const weights = new Map(trainer.weights());
  if (c.bnStatistics === 'precise') for (const [t, tensor] of await preciseBatchNorm(spec, weights, set, batchSize)) weights.set(t, tensor);
  for (const [t, tensor] of await trainingErrorStatistic(spec, weights, set, batchSize)) weights.set(t, tensor);
  const model = await PfmModel.create(name, c, weights, record, features);
  const scored: Prediction[] = [];
  for (const i of trainingSample(n)) scored.push(...(await model.scoreFeatures(await set.gather([i]), 1)));
  model.trainingScores = summarizeTrainingScores(scored);
  return model;
}

/** Feeds of the mapping graphs for the given training images. */
async function mappingFeeds(spec: MappingSpec, set: TrainingSet, images: readonly number[]): Promise<Record<string, ReturnType<typeof f32>>> {
  const f = await set.gather(images);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  spec.levels.forEach((l, i) => {
    const rows = images.length * l.gridH * l.gridW;
    feeds[sourceFeed(l.level)] = f32(f[i]!.s, [rows, l.cs]);
    feeds[targetFeed(l.level)] = f32(f[i]!.t, [rows, l.ct]);
  });
  return feeds;
}

/**
 * Means over the training batches (in order, `batchSize` images each) of per-batch vectors: runs
 * `graph` on each batch and asks `perBatch` for one vector per accumulated tensor, of `lengths[k]`.
 */
async function meanOverTrainingBatches(
  graph: Uint8Array, spec: MappingSpec, set: TrainingSet, batchSize: number, lengths: readonly number[],
  perBatch: (out: Record<string, ReturnType<typeof f32>>, images: number) => readonly Float32Array[],
): Promise<Float32Array[]> {
  const session = await openSession(graph);
  try {
    const sums = lengths.map((n) => new Float64Array(n));
    let batches = 0;
    for (let start = 0; start < set.n; start += batchSize, batches++) {
      const images = Array.from({ length: Math.min(batchSize, set.n - start) }, (_, k) => start + k);
      perBatch(await session.run(await mappingFeeds(spec, set, images)), images.length).forEach((v, k) => {
        const sum = sums[k]!;
        for (let j = 0; j < sum.length; j++) sum[j]! += v[j]!;
      });
    }
    return sums.map((sum) => mapToFloat32(sum, (v) => v / batches));
  } finally {
    await session.release();
  }
}

/**
 * bnStatistics 'precise': every BatchNorm buffer replaced by the mean over the training batches of its
 * batch value under the final weights (buildBatchStatisticsGraph).
 */
async function preciseBatchNorm(spec: MappingSpec, weights: ReadonlyMap<string, NamedTensor>, set: TrainingSet, batchSize: number): Promise<Map<string, NamedTensor>> {
  const buffers = bufferDims(spec);
  const means = await meanOverTrainingBatches(buildBatchStatisticsGraph(spec, weights), spec, set, batchSize, buffers.map((x) => x.dims[0]!),
    (out) => buffers.map((x) => out[batchStatisticOutput(x.name)]!.data as Float32Array));
  return new Map(buffers.map((x, k) => [x.name, { dims: x.dims, data: means[k]! }]));
}

/**
 * normalise 'variance' (the official statistic_var(c=True)): per level, side, position and channel the
 * mean over training batches of the batch mean of (x − x̂)², with the trained mapping in inference
 * mode. Empty under normalise 'none'.
 */
async function trainingErrorStatistic(spec: MappingSpec, weights: ReadonlyMap<string, NamedTensor>, set: TrainingSet, batchSize: number): Promise<Map<string, NamedTensor>> {
  const wanted = statisticDims(spec);
  if (wanted.length === 0) return new Map();
  const means = await meanOverTrainingBatches(buildScoringGraph(spec, weights, { squaredErrors: true }), spec, set, batchSize, wanted.map((x) => x.dims[0]! * x.dims[1]!),
    (out, images) => wanted.map((x) => {
      // the batch mean over its images of each (position, channel) element
      const q = out[squaredOutput(x.level, x.side)]!.data as Float32Array;
      const cells = x.dims[0]! * x.dims[1]!;
      const mean = new Float32Array(cells);
      for (let img = 0; img < images; img++) for (let p = 0; p < cells; p++) mean[p]! += q[img * cells + p]! / images;
      return mean;
    }));
  // a zero mean (a dead channel) would divide by zero: floor at a tiny share of the level's mean
  return new Map(wanted.map((x, k) => {
    const mean = means[k]!;
    const floor = Math.max((mean.reduce((a, v) => a + v, 0) / mean.length) * 1e-6, 1e-30);
    for (let p = 0; p < mean.length; p++) if (!(mean[p]! > floor)) mean[p] = floor;
    return [x.name, { dims: x.dims, data: mean }];
  }));
}

/** Stored: the weights (BatchNorm running statistics included), meta.training and the target backbone's sha256. */
export async function deserializePfm(name: PfmMethodName, stored: StoredModel<PfmConfig>): Promise<PfmModel> {
  const config = withStoredPrecision(stored);
  const spec = mappingSpec(config);
  const weights = new Map<string, NamedTensor>();
  for (const { name: t, dims } of [...parameterDims(spec), ...bufferDims(spec), ...statisticDims(spec)]) weights.set(t, { dims, data: requireTensor(stored, t, dims) });
  const training = stored.meta['training'];
  if (training !== undefined && training !== null && (typeof training !== 'object' || Array.isArray(training))) {
    throw new ModelFormatError('meta', `${stored.source}: meta field 'training' must be an object`);
  }
  const targetSha = stored.meta['targetBackboneSha256'];
  const installed = getBackbone(stored.config.targetBackbone).sha256;
  if (targetSha !== installed) {
    throw new ModelFormatError('backbone', `${stored.source} was fitted on target backbone '${stored.config.targetBackbone}' with sha256 ${String(targetSha)}, but the installed one is ${installed}`);
  }
  const model = await PfmModel.create(name, config, weights, (training as PfmTrainingRecord | null | undefined) ?? undefined);
  model.trainingScores = stored.trainingScores;
  return model;
}

export class PfmModel implements FittedModel {
  /** Set once, at fit or load. */
  trainingScores: TrainingScores | undefined;

  private constructor(
    readonly method: PfmMethodName,
    readonly config: PfmConfig,
    readonly spec: MappingSpec,
    readonly weights: ReadonlyMap<string, NamedTensor>,
    readonly training: PfmTrainingRecord | undefined,
    private readonly features: PfmFeatures,
    private readonly scorer: Session,
  ) {}

  static async create(method: PfmMethodName, config: PfmConfig, weights: ReadonlyMap<string, NamedTensor>, training?: PfmTrainingRecord, features?: PfmFeatures): Promise<PfmModel> {
    const spec = mappingSpec(config);
    const scorer = await openSession(buildScoringGraph(spec, weights, { precision: config.precision }));
    return new PfmModel(method, config, spec, weights, training, features ?? (await PfmFeatures.open(config)), scorer);
  }

  get input(): InputSpec {
    return pfmInput(this.config);
  }

  get backbone(): BackboneRef {
    return { id: this.config.backbone, sha256: this.features.sourceSha256 };
  }

  describe(): Record<string, unknown> {
    return {
      ...this.config, training: this.training, latentUsed: this.spec.levels.map((l) => l.d),
      backboneSha256: this.features.sourceSha256, targetBackboneSha256: this.features.targetSha256, trainingScores: this.trainingScores,
    };
  }

  serialize(): Uint8Array {
    return encodeModelFile({
      method: this.method,
      config: this.config,
      backbone: this.backbone,
      trainingScores: this.trainingScores,
      extra: { training: this.training ?? null, targetBackboneSha256: this.features.targetSha256 },
      tensors: this.weights,
    });
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    return this.scoreFeatures(await this.features.extract(batch), batch.n);
  }

  /** Predictions of n images from their per-level features (PfmFeatures.extract). */
  async scoreFeatures(f: readonly LevelFeatures[], n: number): Promise<Prediction[]> {
    const inputs = this.spec.levels.flatMap((l, i) => [
      { name: sourceFeed(l.level), data: f[i]!.s, rowsPerImage: l.gridH * l.gridW, channels: l.cs },
      { name: targetFeed(l.level), data: f[i]!.t, rowsPerImage: l.gridH * l.gridW, channels: l.ct },
    ]);
    const out = await runRows(this.scorer, inputs, n, this.config.precision);
    const { height, width } = this.config;
    const predictions: Prediction[] = [];
    for (let img = 0; img < n; img++) {
      let map: Float32Array | undefined;
      for (const l of this.spec.levels) {
        const cells = l.gridH * l.gridW;
        const grid = out[errorOutput(l.level)]!.subarray(img * cells, (img + 1) * cells);
        const up = upsampleBilinear(Float32Array.from(grid), l.gridW, l.gridH, width, height);
        if (!map) map = up;
        else if (this.config.fusion === 'multiply') for (let p = 0; p < map.length; p++) map[p]! *= up[p]!;
        else for (let p = 0; p < map.length; p++) map[p]! += up[p]!;
      }
      if (this.config.fusion === 'add') for (let p = 0; p < map!.length; p++) map![p]! /= this.spec.levels.length;
      let score = -Infinity;
      for (const v of map!) if (v > score) score = v;
      predictions.push({ score, map: map! });
    }
    return predictions;
  }
}
