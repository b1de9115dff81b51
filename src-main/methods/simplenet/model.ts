/**
 * SimpleNet (METHODS.md §4): locally aware patch features from the frozen backbone, a one-layer feature
 * adaptor, Gaussian-noise anomalous features and a small discriminator trained with a truncated L1 loss
 * on engine/training; a patch scores −D(adaptor(q)), the image its worst patch.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { f32, openSession, type Session } from '../../engine/session.ts';
import { type NamedTensor, stepRandom, Trainer } from '../../engine/training/index.ts';
import { PatchEmbedder } from '../patchcore/model.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { ignoredCells } from '../ignored-cells.ts';
import { anomalyMapFromPatches } from '../anomaly-map.ts';
import { encodeModelFile, ModelFormatError, requireTensor } from '../model-file.ts';
import { RecordStore } from '../record-store.ts';
import { summarizeTrainingScores, trainingSample } from '../training-scores.ts';
import type { Random } from '../../util/random.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from './defaults.ts';
import { buildScoringGraph, initialWeights, P, trainingModel } from './graphs.ts';
import { NoiseSource } from './noise.ts';

export { gaussianNoise } from './noise.ts';

/** The patch embedder SimpleNet shares with PatchCore (same machinery, its own dimensions). */
export function openEmbedder(c: SimpleNetConfig): Promise<PatchEmbedder> {
  return PatchEmbedder.open(c);
}

/**
 * The noise σ of a fit: `noiseStd` as is when `noiseRelative` is 0 (the official setting), else
 * `noiseRelative` × the features' spread (see TrainingSet.spread).
 */
export function noiseStdFor(c: SimpleNetConfig, featureSpread: number): number {
  return c.noiseRelative > 0 ? c.noiseRelative * featureSpread : c.noiseStd;
}

export interface TrainingRecord {
  readonly images: number;
  readonly epochs: number;
  readonly steps: number;
  readonly stepsPerEpoch: number;
  /** Patch features per image (the feature grid's cells). */
  readonly patchesPerImage?: number;
  /** Patches one epoch trains on: every cell of every image, less those in ignore regions. */
  readonly patchesPerEpoch?: number;
  /** Mean loss of each epoch trained in this fit. */
  readonly epochLosses: readonly number[];
  /** Wall-clock seconds of each epoch trained in this fit. */
  readonly epochSeconds: readonly number[];
  /** Mean fraction of true (fake) patches beyond the margin in each epoch (the official p_true, p_fake). */
  readonly epochPTrue?: readonly number[];
  readonly epochPFake?: readonly number[];
  /** RMS per-dimension standard deviation of the training patch features (TrainingSet.spread). */
  readonly featureSpread?: number;
  /** The noise σ used. */
  readonly noiseStd?: number;
  readonly featureSeconds: number;
  readonly cachedFeatures: boolean;
  /** Whether the training images were kept in a temporary file (more than featureCacheMb of them). */
  readonly imagesOnDisk?: boolean;
  readonly provider: string;
}

/**
 * Training inputs kept from the single pass over the training images. Patches whose cell lies in an
 * image's ignore region are left out of the training batches (and of the feature spread): the
 * discriminator never learns a label or a fixture as normal. An image ignored everywhere keeps all.
 */
class TrainingSet {
  private features: Float32Array | undefined;
  private images: RecordStore | undefined;
  /** Per image, its kept cells; absent for an image without ignore regions (all kept). */
  private readonly keptCells = new Map<number, Int32Array>();
  n = 0;
  cells = 0;
  /** Patches kept for training so far. */
  rows = 0;
  gridH = 0;
  gridW = 0;
  /** Per-dimension sums and sums of squares of every training patch feature (float64). */
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;

  constructor(private readonly embedder: PatchEmbedder, private readonly c: SimpleNetConfig, private readonly capacity: number) {
    this.sum = new Float64Array(c.targetDim);
    this.sumSq = new Float64Array(c.targetDim);
  }

  /**
   * sqrt(mean over dimensions of each dimension's variance over all training patches): the expected
   * per-dimension standard deviation of the adapted features at initialisation, since the Xavier-normal
   * D×D adaptor has weight variance 1/D (E[Var(W o)_i] = Σ_j Var(o_j)/D).
   */
  get spread(): number {
    const rows = this.rows;
    let total = 0;
    for (let j = 0; j < this.sum.length; j++) {
      const mean = this.sum[j]! / rows;
      total += Math.max(0, this.sumSq[j]! / rows - mean * mean);
    }
    return Math.sqrt(total / this.sum.length);
  }

  get cached(): boolean {
    return this.features !== undefined;
  }

  /** Whether the training images were kept in a temporary file (neither features nor images fit featureCacheMb). */
  get spilled(): boolean {
    return this.images?.spilled ?? false;
  }

  close(): void {
    this.features = undefined;
    this.images?.close();
  }

  async add(batch: ImageBatch): Promise<void> {
    const D = this.c.targetDim;
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    const cells = gridH * gridW;
    if (this.n === 0) {
      [this.cells, this.gridH, this.gridW] = [cells, gridH, gridW];
      if (this.capacity * cells * D * 4 <= this.c.featureCacheMb * 2 ** 20) this.features = new Float32Array(this.capacity * cells * D);
      // else patches are re-embedded per step from the images, which stay within the same budget (else on disk)
      else this.images = new RecordStore(3 * batch.height * batch.width, this.capacity, this.c.featureCacheMb * 2 ** 20);
    }
    if (this.n + batch.n > this.capacity) throw new RangeError(`more training images than announced (${this.capacity})`);
    for (let i = 0; i < batch.n; i++) {
      const ignored = ignoredCells(batch, i, gridH, gridW);
      const kept = ignored && ignored.includes(0) ? Int32Array.from(Array.from(ignored).flatMap((v, cell) => (v ? [] : [cell]))) : null;
      if (kept) this.keptCells.set(this.n + i, kept);
      for (const cell of kept ?? Array.from({ length: cells }, (_, k) => k)) {
        const r = (i * cells + cell) * D;
        for (let j = 0; j < D; j++) {
          const v = features[r + j]!;
          this.sum[j]! += v;
          this.sumSq[j]! += v * v;
        }
      }
      this.rows += kept ? kept.length : cells;
    }
    if (this.features) this.features.set(features, this.n * cells * D);
    else this.images!.append(batch.data.subarray(0, batch.n * this.images!.recordFloats));
    this.n += batch.n;
  }

  /** Patch features of the given images, [rows, D]: the kept ones only (training), or every cell (scoring). */
  async gather(indices: readonly number[], keptOnly = true): Promise<Float32Array> {
    const D = this.c.targetDim;
    const per = this.cells * D;
    let all: Float32Array;
    if (this.features) {
      all = new Float32Array(indices.length * per);
      indices.forEach((i, k) => all.set(this.features!.subarray(i * per, (i + 1) * per), k * per));
    } else {
      all = (await this.embedder.embed({ data: this.images!.gather(indices), n: indices.length, height: this.c.height, width: this.c.width })).features;
    }
    if (!keptOnly || !indices.some((i) => this.keptCells.has(i))) return all;
    const out = new Float32Array(indices.reduce((a, i) => a + (this.keptCells.get(i)?.length ?? this.cells), 0) * D);
    let row = 0;
    indices.forEach((i, k) => {
      const kept = this.keptCells.get(i);
      if (!kept) {
        out.set(all.subarray(k * per, (k + 1) * per), row * D);
        row += this.cells;
        return;
      }
      for (const cell of kept) out.set(all.subarray((k * this.cells + cell) * D, (k * this.cells + cell + 1) * D), row++ * D);
    });
    return out;
  }
}

export async function fitSimpleNet(train: AsyncIterable<ImageBatch>, trainCount: number, config: SimpleNetConfig, events: FitEvents = {}): Promise<SimpleNetModel> {
  const c = { ...SIMPLENET_DEFAULTS, ...config };
  const embedder = await openEmbedder(c);
  const set = new TrainingSet(embedder, c, trainCount);
  try {
    return await fitOnSet(c, embedder, set, train, trainCount, events);
  } finally {
    set.close();
  }
}

/** fitSimpleNet after its set-up: features (or images) into `set`, the adaptor's and discriminator's training. */
async function fitOnSet(c: SimpleNetConfig, embedder: PatchEmbedder, set: TrainingSet, train: AsyncIterable<ImageBatch>, trainCount: number, events: FitEvents): Promise<SimpleNetModel> {
  const featureStart = performance.now();
  for await (const batch of train) {
    await set.add(batch);
    events.onProgress?.({ stage: 'features', done: set.n, total: trainCount });
  }
  if (set.n === 0) throw new RangeError('SimpleNet needs at least one training image');
  const featureSeconds = (performance.now() - featureStart) / 1000;

  const n = set.n;
  const batchSize = Math.max(1, Math.min(c.batchSize, n));
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = c.epochs * stepsPerEpoch;
  const trainer = await Trainer.create(trainingModel(c, initialWeights(c)), { seed: c.seed, stepsPerCall: c.stepsPerCall });
  if (c.checkpoint && existsSync(c.checkpoint)) trainer.loadCheckpoint(c.checkpoint);

  const orders = new Map<number, number[]>();
  const order = (epoch: number) => orders.get(epoch) ?? orders.set(epoch, stepRandom(c.seed ^ 0x5eed, epoch).sample(n, n)).get(epoch)!;
  const D = c.targetDim;
  const featureSpread = set.spread;
  const noiseStd = noiseStdFor(c, featureSpread);
  const noise = new NoiseSource();
  /** Patch rows fed to the trainer, per epoch (the record's patchesPerEpoch). */
  const fedRows = new Map<number, number>();
  const source = async (step: number, rng: Random) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    const j = step % stepsPerEpoch;
    const images = order(epoch).slice(j * batchSize, (j + 1) * batchSize);
    const features = await set.gather(images);
    const rows = features.length / D;
    fedRows.set(epoch, (fedRows.get(epoch) ?? 0) + rows);
    return { features: f32(features, [rows, D]), noise: f32(await noise.draw(features.length, noiseStd, rng), [rows, D]) };
  };

  const epochLosses: number[] = [];
  const epochSeconds: number[] = [];
  const epochPTrue: number[] = [];
  const epochPFake: number[] = [];
  let epochLoss = 0;
  let pTrue = 0;
  let pFake = 0;
  let epochStart = performance.now();
  try {
    await trainer.run(source, {
      until: totalSteps,
      ...(c.checkpoint ? { checkpoint: { path: c.checkpoint, everySteps: stepsPerEpoch } } : {}),
      onProgress: (p) => {
        epochLoss += p.loss;
        pTrue += p.metrics['p_true'] ?? Number.NaN;
        pFake += p.metrics['p_fake'] ?? Number.NaN;
        const epoch = Math.ceil(p.step / stepsPerEpoch);
        if (p.step % stepsPerEpoch === 0 || p.step === totalSteps) {
          const steps = p.step - (epoch - 1) * stepsPerEpoch;
          epochLosses.push(epochLoss / steps);
          epochPTrue.push(pTrue / steps);
          epochPFake.push(pFake / steps);
          epochSeconds.push((performance.now() - epochStart) / 1000);
          epochLoss = pTrue = pFake = 0;
          epochStart = performance.now();
        }
        events.onProgress?.({ stage: 'train', done: p.step, total: totalSteps, loss: p.loss, etaSeconds: p.etaSeconds });
      },
    });
  } finally {
    await trainer.release();
    await noise.close();
  }
  const record: TrainingRecord = {
    images: n, epochs: c.epochs, steps: trainer.step, stepsPerEpoch, patchesPerImage: set.cells, patchesPerEpoch: fedRows.size > 0 ? Math.max(...fedRows.values()) : set.rows, epochLosses, epochSeconds, epochPTrue, epochPFake, featureSpread, noiseStd,
    featureSeconds, cachedFeatures: set.cached, imagesOnDisk: set.spilled, provider: trainer.provider,
  };
  const model = await SimpleNetModel.create(c, trainer.weights(), record, embedder);
  const scored: Prediction[] = [];
  for (const i of trainingSample(n)) scored.push(...(await model.scoreFeatures(await set.gather([i], false), 1, set.gridH, set.gridW)));
  model.trainingScores = summarizeTrainingScores(scored);
  return model;
}

/** Weight shapes (PyTorch layouts), as initialWeights makes them. */
function weightDims(c: SimpleNetConfig): Record<string, readonly number[]> {
  const D = c.targetDim;
  const H = c.hidden;
  return {
    [P.adaptorW]: [D, D], [P.adaptorB]: [D], [P.fc1W]: [H, D], [P.fc1B]: [H], [P.bnW]: [H], [P.bnB]: [H], [P.tailW]: [1, H], [P.runMean]: [H], [P.runVar]: [H],
  };
}

/** Stored: the weights (BatchNorm running statistics included) and meta.training, the training record. */
export async function deserializeSimpleNet(stored: StoredModel<SimpleNetConfig>): Promise<SimpleNetModel> {
  const weights = new Map<string, NamedTensor>();
  for (const [name, dims] of Object.entries(weightDims(stored.config))) weights.set(name, { dims, data: requireTensor(stored, name, dims) });
  const training = stored.meta['training'];
  if (training !== undefined && training !== null && (typeof training !== 'object' || Array.isArray(training))) {
    throw new ModelFormatError('meta', `${stored.source}: meta field 'training' must be an object`);
  }
  const model = await SimpleNetModel.create(stored.config, weights, (training as TrainingRecord | null | undefined) ?? undefined);
  model.trainingScores = stored.trainingScores;
  return model;
}

export class SimpleNetModel implements FittedModel {
  readonly method = 'simplenet';
  /** Set once, at fit or load. */
  trainingScores: TrainingScores | undefined;

  private constructor(
    readonly config: SimpleNetConfig,
    readonly weights: ReadonlyMap<string, NamedTensor>,
    readonly training: TrainingRecord | undefined,
    private readonly embedder: PatchEmbedder,
    private readonly scorer: Session,
  ) {}

  static async create(config: SimpleNetConfig, weights: ReadonlyMap<string, NamedTensor>, training?: TrainingRecord, embedder?: PatchEmbedder): Promise<SimpleNetModel> {
    const scorer = await openSession(await buildScoringGraph(config, weights));
    return new SimpleNetModel(config, weights, training, embedder ?? (await openEmbedder(config)), scorer);
  }

  get input(): InputSpec {
    return simplenetInput(this.config);
  }

  get backbone(): BackboneRef {
    return this.embedder.backboneRef;
  }

  describe(): Record<string, unknown> {
    return { ...this.config, training: this.training, backboneSha256: this.embedder.sha256, trainingScores: this.trainingScores };
  }

  serialize(): Uint8Array {
    return encodeModelFile({
      method: this.method,
      config: this.config,
      backbone: this.backbone,
      trainingScores: this.trainingScores,
      extra: { training: this.training ?? null },
      tensors: this.weights,
    });
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    return this.scoreFeatures(features, batch.n, gridH, gridW);
  }

  /** Predictions from patch features [n·gridH·gridW, D] of n images. */
  async scoreFeatures(features: Float32Array, n: number, gridH: number, gridW: number): Promise<Prediction[]> {
    const cells = gridH * gridW;
    const out = await this.scorer.run({ features: f32(features, [n, cells, this.config.targetDim]) });
    const scores = out['scores']!.data as Float32Array;
    const predictions: Prediction[] = [];
    for (let i = 0; i < n; i++) {
      const grid = scores.subarray(i * cells, (i + 1) * cells);
      let score = -Infinity;
      for (const s of grid) if (s > score) score = s;
      const values = Float32Array.from(grid);
      const map = anomalyMapFromPatches(values, gridW, gridH, this.config, this.embedder.gridStride, this.embedder.gridOffset);
      predictions.push({ score, map, grid: { values, width: gridW, height: gridH } });
    }
    return predictions;
  }
}
