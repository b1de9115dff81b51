/**
 * SimpleNet (METHODS.md §4): locally aware patch features from the frozen backbone, a one-layer feature
 * adaptor, Gaussian-noise anomalous features and a small discriminator trained with a truncated L1 loss
 * on engine/training; a patch scores −D(adaptor(q)), the image its worst patch.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { f32, openSession, type Session } from '../../engine/session.ts';
import { type NamedTensor, readTensorFile, stepRandom, Trainer, writeTensorFile } from '../../engine/training/index.ts';
import { PatchEmbedder } from '../patchcore/model.ts';
import type { FitEvents, FittedModel, ImageBatch, InputSpec, Prediction } from '../method.ts';
import { anomalyMapFromPatches } from '../anomaly-map.ts';
import type { Random } from '../../util/random.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from './defaults.ts';
import { buildScoringGraph, initialWeights, P, trainingModel } from './graphs.ts';

/** The patch embedder SimpleNet shares with PatchCore (same machinery, its own dimensions). */
export function openEmbedder(c: SimpleNetConfig): Promise<PatchEmbedder> {
  return PatchEmbedder.open(c);
}

/** σ·N(0, 1) values, both Box–Muller outputs used. */
export function gaussianNoise(length: number, std: number, rng: Random): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < length) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

export interface TrainingRecord {
  readonly images: number;
  readonly epochs: number;
  readonly steps: number;
  readonly stepsPerEpoch: number;
  /** Mean loss of each epoch trained in this fit. */
  readonly epochLosses: readonly number[];
  /** Wall-clock seconds of each epoch trained in this fit. */
  readonly epochSeconds: readonly number[];
  readonly featureSeconds: number;
  readonly cachedFeatures: boolean;
  readonly provider: string;
}

/** Training inputs kept from the single pass over the training images. */
class TrainingSet {
  private features: Float32Array | undefined;
  private images: Float32Array | undefined;
  n = 0;
  cells = 0;
  gridH = 0;
  gridW = 0;

  constructor(private readonly embedder: PatchEmbedder, private readonly c: SimpleNetConfig, private readonly capacity: number) {}

  get cached(): boolean {
    return this.features !== undefined;
  }

  async add(batch: ImageBatch): Promise<void> {
    const D = this.c.targetDim;
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    const cells = gridH * gridW;
    if (this.n === 0) {
      [this.cells, this.gridH, this.gridW] = [cells, gridH, gridW];
      if (this.capacity * cells * D * 4 <= this.c.featureCacheMb * 2 ** 20) this.features = new Float32Array(this.capacity * cells * D);
      else this.images = new Float32Array(this.capacity * 3 * batch.height * batch.width);
    }
    if (this.n + batch.n > this.capacity) throw new RangeError(`more training images than announced (${this.capacity})`);
    if (this.features) this.features.set(features, this.n * cells * D);
    else this.images!.set(batch.data, this.n * 3 * batch.height * batch.width);
    this.n += batch.n;
  }

  /** Patch features of the given images, [images·cells, D]. */
  async gather(indices: readonly number[]): Promise<Float32Array> {
    const D = this.c.targetDim;
    const per = this.cells * D;
    if (this.features) {
      const out = new Float32Array(indices.length * per);
      indices.forEach((i, k) => out.set(this.features!.subarray(i * per, (i + 1) * per), k * per));
      return out;
    }
    const plane = 3 * this.c.height * this.c.width;
    const data = new Float32Array(indices.length * plane);
    indices.forEach((i, k) => data.set(this.images!.subarray(i * plane, (i + 1) * plane), k * plane));
    return (await this.embedder.embed({ data, n: indices.length, height: this.c.height, width: this.c.width })).features;
  }
}

export async function fitSimpleNet(train: AsyncIterable<ImageBatch>, trainCount: number, config: SimpleNetConfig, events: FitEvents = {}): Promise<SimpleNetModel> {
  const c = { ...SIMPLENET_DEFAULTS, ...config };
  const embedder = await openEmbedder(c);
  const featureStart = performance.now();
  const set = new TrainingSet(embedder, c, trainCount);
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
  const source = async (step: number, rng: Random) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    const j = step % stepsPerEpoch;
    const images = order(epoch).slice(j * batchSize, (j + 1) * batchSize);
    const features = await set.gather(images);
    const rows = features.length / D;
    return { features: f32(features, [rows, D]), noise: f32(gaussianNoise(features.length, c.noiseStd, rng), [rows, D]) };
  };

  const epochLosses: number[] = [];
  const epochSeconds: number[] = [];
  let epochLoss = 0;
  let epochStart = performance.now();
  try {
    await trainer.run(source, {
      until: totalSteps,
      ...(c.checkpoint ? { checkpoint: { path: c.checkpoint, everySteps: stepsPerEpoch } } : {}),
      onProgress: (p) => {
        epochLoss += p.loss;
        const epoch = Math.ceil(p.step / stepsPerEpoch);
        if (p.step % stepsPerEpoch === 0 || p.step === totalSteps) {
          epochLosses.push(epochLoss / (p.step - (epoch - 1) * stepsPerEpoch));
          epochSeconds.push((performance.now() - epochStart) / 1000);
          epochLoss = 0;
          epochStart = performance.now();
        }
        events.onProgress?.({ stage: `train epoch ${epoch}/${c.epochs} loss ${p.loss.toFixed(4)} eta ${Math.round(p.etaSeconds)}s`, done: p.step, total: totalSteps });
      },
    });
  } finally {
    await trainer.release();
  }
  const record: TrainingRecord = {
    images: n, epochs: c.epochs, steps: trainer.step, stepsPerEpoch, epochLosses, epochSeconds, featureSeconds, cachedFeatures: set.cached, provider: trainer.provider,
  };
  const model = await SimpleNetModel.create(c, trainer.weights(), record, embedder);
  if (c.saveModel) model.save(c.saveModel);
  return model;
}

const MODEL_KIND = 'argus-model';

export class SimpleNetModel implements FittedModel {
  readonly method = 'simplenet';

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

  describe(): Record<string, unknown> {
    return { ...this.config, training: this.training, backboneSha256: this.embedder.sha256 };
  }

  /** Patch scores [n, cells] on the feature grid. */
  async patchScores(batch: ImageBatch): Promise<{ scores: Float32Array; gridH: number; gridW: number }> {
    const { features, gridH, gridW } = await this.embedder.embed(batch);
    const out = await this.scorer.run({ features: f32(features, [batch.n, gridH * gridW, this.config.targetDim]) });
    return { scores: out['scores']!.data as Float32Array, gridH, gridW };
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const { scores, gridH, gridW } = await this.patchScores(batch);
    const cells = gridH * gridW;
    const predictions: Prediction[] = [];
    for (let i = 0; i < batch.n; i++) {
      const grid = scores.subarray(i * cells, (i + 1) * cells);
      let score = -Infinity;
      for (const s of grid) if (s > score) score = s;
      const map = anomalyMapFromPatches(Float32Array.from(grid), gridW, gridH, this.config, this.embedder.gridStride, this.embedder.gridOffset);
      predictions.push({ score, map });
    }
    return predictions;
  }

  /**
   * Saves configuration, training record and weights (PyTorch layouts, BatchNorm running statistics
   * included) as an Argus tensor file (engine/training/tensor-file.ts) with meta.kind 'argus-model'.
   */
  save(path: string): void {
    writeTensorFile(path, {
      meta: { kind: MODEL_KIND, method: this.method, config: this.config, training: this.training ?? null, backboneSha256: this.embedder.sha256 },
      tensors: this.weights,
    });
  }

  static async load(path: string): Promise<SimpleNetModel> {
    const file = readTensorFile(path);
    if (file.meta['kind'] !== MODEL_KIND || file.meta['method'] !== 'simplenet') throw new RangeError(`${path} is not a saved SimpleNet model`);
    const config = { ...SIMPLENET_DEFAULTS, ...(file.meta['config'] as Partial<SimpleNetConfig>) };
    for (const name of Object.values(P)) if (!file.tensors.has(name)) throw new RangeError(`${path} lacks weight '${name}'`);
    return SimpleNetModel.create(config, file.tensors, (file.meta['training'] as TrainingRecord | null) ?? undefined);
  }
}
