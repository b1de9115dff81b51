/**
 * PaDiM (METHODS.md §6): one Gaussian per feature-grid position over a random channel subset of
 * the taps; a test position scores its Mahalanobis distance; the image scores its smoothed map's max.
 *
 * Memory: moments are streamed (Σy in float64 [P, d] and Σyyᵀ [P, d, d]), so fitting never holds all
 * training embeddings; the model keeps the mean and the covariance's whitening factor in float32:
 * P·d² · 4 bytes = 64·64·100²·4 ≈ 164 MB at the default 256 px input and d = 100.
 */
import { Backbone } from '../../features/extractor.ts';
import { alignmentFeeds } from '../../features/tap-alignment.ts';
import { f32, type ort, pooledSession, type Session } from '../../engine/session.ts';
import { Random } from '../../util/random.ts';
import { anomalyMapFromPatches } from '../anomaly-map.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { encodeModelFile, ModelFormatError, requireCount, requireTensor } from '../model-file.ts';
import { summarizeTrainingScores, trainingSample } from '../training-scores.ts';
import type { GaussianStats } from './covariance.ts';
import { gaussiansFromMomentsParallel, sharedFloat64 } from './covariance-parallel.ts';
import { padimInput, type PadimConfig } from './defaults.ts';
import { buildMahalanobisGraph, buildMomentsGraph, buildPadimEmbeddingGraph } from './graphs.ts';

class PadimEmbedder {
  private constructor(
    private readonly backbone: Backbone,
    private readonly head: Session,
    readonly config: PadimConfig,
    readonly channels: readonly number[],
  ) {}

  static async open(config: PadimConfig): Promise<PadimEmbedder> {
    const backbone = await Backbone.open(config.backbone);
    const taps = config.taps.map((t) => backbone.tap(t));
    const total = taps.reduce((a, t) => a + t.channels, 0);
    const chosen = chooseChannels(config, total);
    const key = `padim:${config.backbone}:${config.taps.join('+')}:${chosen.join(',')}`;
    const head = await pooledSession(key, () => buildPadimEmbeddingGraph(taps, chosen));
    return new PadimEmbedder(backbone, head, config, chosen);
  }

  get stride(): number {
    return this.backbone.tap(this.config.taps[0]!).stride;
  }

  get offset(): { x: number; y: number } {
    return this.backbone.tap(this.config.taps[0]!).offset;
  }

  get sha256(): string {
    return this.backbone.spec.sha256;
  }

  get backboneRef(): BackboneRef {
    return { id: this.backbone.spec.id, sha256: this.backbone.spec.sha256 };
  }

  async embed(batch: ImageBatch) {
    const taps = await this.backbone.run(batch, this.config.taps);
    const align = alignmentFeeds(this.config.taps.map((t) => this.backbone.tap(t)), batch.height, batch.width, 'nearest', this.config.alignOffsets);
    const e = (await this.head.run({ ...taps, ...align }))['embedding']!;
    const first = taps[this.config.taps[0]!]!;
    return { tensor: e, gridH: first.dims[2]!, gridW: first.dims[3]! };
  }
}

/** The channel subset, ascending (order does not change a Mahalanobis distance). */
function chooseChannels(config: PadimConfig, total: number): number[] {
  if (config.channelIndices === 'seeded') {
    if (config.channels > total) throw new RangeError(`PaDiM channels ${config.channels} exceed the ${total} channels of taps ${config.taps.join('+')}`);
    return new Random(config.seed).sample(total, config.channels).sort((a, b) => a - b);
  }
  const indices = [...new Set(config.channelIndices)].sort((a, b) => a - b);
  if (indices.length !== config.channels || indices.some((i) => !Number.isInteger(i) || i < 0 || i >= total)) {
    throw new RangeError(`PaDiM channelIndices must be ${config.channels} distinct integers in [0, ${total}) for taps ${config.taps.join('+')}; use channelIndices 'seeded' to draw them`);
  }
  return indices;
}

/**
 * Images whose embeddings are gathered before one moments call: the float32 products then cover
 * many images at once and the float64 accumulation in JS (P·d² additions) runs once per group.
 */
const MOMENTS_GROUP = 64;

export async function fitPadim(train: AsyncIterable<ImageBatch>, trainCount: number, config: PadimConfig, events: FitEvents = {}): Promise<PadimModel> {
  const embedder = await PadimEmbedder.open(config);
  const moments = await pooledSession('graph:padim_moments', buildMomentsGraph);
  const d = config.channels;
  let acc: { shift: Float32Array; sum: Float64Array; cross: Float64Array; P: number } | undefined;
  let grid = { h: 0, w: 0 };
  let n = 0;
  let pending: Float32Array[] = [];
  let pendingImages = 0;
  // embeddings of a few training images, scored once the model exists (FittedModel.trainingScores)
  const sample = new Set(trainingSample(trainCount));
  const sampled: Float32Array[] = [];
  const flush = async () => {
    if (!acc || pendingImages === 0) return;
    const x = new Float32Array(pendingImages * d * acc.P);
    let offset = 0;
    for (const part of pending) {
      x.set(part, offset);
      offset += part.length;
    }
    const out = await moments.run({ x: f32(x, [pendingImages, d, acc.P]), shift: f32(acc.shift, [acc.P, d]) });
    const s = out['sum']!.data as Float32Array;
    const cr = out['cross']!.data as Float32Array;
    for (let i = 0; i < s.length; i++) acc.sum[i]! += s[i]!;
    for (let i = 0; i < cr.length; i++) acc.cross[i]! += cr[i]!;
    pending = [];
    pendingImages = 0;
  };
  for await (const batch of train) {
    const { tensor, gridH, gridW } = await embedder.embed(batch);
    const data = tensor.data as Float32Array;
    if (!acc) {
      grid = { h: gridH, w: gridW };
      const P = gridH * gridW;
      // shift = the first image's features, transposed to [P, d]
      const shift = new Float32Array(P * d);
      for (let c = 0; c < d; c++) for (let p = 0; p < P; p++) shift[p * d + c] = data[c * P + p]!;
      acc = { shift, sum: sharedFloat64(P * d), cross: sharedFloat64(P * d * d), P };
    }
    const per = data.length / batch.n;
    for (let i = 0; i < batch.n; i++) if (sample.has(n + i)) sampled.push(data.slice(i * per, (i + 1) * per));
    pending.push(data);
    pendingImages += batch.n;
    n += batch.n;
    if (pendingImages >= MOMENTS_GROUP) await flush();
    events.onProgress?.({ stage: 'features', done: n, total: trainCount });
  }
  await flush();
  if (!acc) throw new RangeError('PaDiM needs training images');
  events.onProgress?.({ stage: 'covariance', done: 0, total: 1 });
  const { stats } = await gaussiansFromMomentsParallel(acc.sum, acc.cross, acc.shift, n, d, config.epsilon);
  events.onProgress?.({ stage: 'covariance', done: 1, total: 1 });
  const model = new PadimModel(config, embedder, stats, grid);
  const scored: Prediction[] = [];
  for (const e of sampled) scored.push(...(await model.scoreEmbedding(f32(e, [1, d, grid.h * grid.w]), 1, grid.h, grid.w)));
  model.trainingScores = summarizeTrainingScores(scored);
  return model;
}

/**
 * Stored: the mean [P, d] and whitening factor [P, d, d]; meta.grid; the configuration with the
 * channels actually used as explicit channelIndices (so a 'seeded' draw never has to be repeated).
 */
export async function deserializePadim(stored: StoredModel<PadimConfig>): Promise<PadimModel> {
  const g = stored.meta['grid'];
  if (typeof g !== 'object' || g === null) throw new ModelFormatError('meta', `${stored.source}: meta field 'grid' must be { h, w }`);
  const grid = { h: requireCount(stored, 'grid.h', (g as Record<string, unknown>)['h']), w: requireCount(stored, 'grid.w', (g as Record<string, unknown>)['w']) };
  const P = grid.h * grid.w;
  const d = stored.config.channels;
  if (!Array.isArray(stored.config.channelIndices)) throw new ModelFormatError('meta', `${stored.source}: config.channelIndices must list the channels used`);
  const mean = requireTensor(stored, 'mean', [P, d]);
  const whitening = requireTensor(stored, 'whitening', [P, d, d]);
  const embedder = await PadimEmbedder.open(stored.config);
  const model = new PadimModel(stored.config, embedder, { mean, whitening }, grid);
  model.trainingScores = stored.trainingScores;
  return model;
}

export class PadimModel implements FittedModel {
  readonly method = 'padim';
  /** Set once, at fit or load. */
  trainingScores: TrainingScores | undefined;

  constructor(
    readonly config: PadimConfig,
    private readonly embedder: PadimEmbedder,
    readonly stats: GaussianStats,
    readonly grid: { readonly h: number; readonly w: number },
  ) {}

  get input(): InputSpec {
    return padimInput(this.config);
  }

  get backbone(): BackboneRef {
    return this.embedder.backboneRef;
  }

  describe(): Record<string, unknown> {
    return {
      ...this.config,
      grid: [this.grid.h, this.grid.w],
      channelIndices: this.embedder.channels,
      backboneSha256: this.embedder.sha256,
      trainingScores: this.trainingScores,
    };
  }

  serialize(): Uint8Array {
    const P = this.grid.h * this.grid.w;
    const d = this.config.channels;
    return encodeModelFile({
      method: this.method,
      config: { ...this.config, channelIndices: this.embedder.channels },
      backbone: this.backbone,
      trainingScores: this.trainingScores,
      extra: { grid: { h: this.grid.h, w: this.grid.w } },
      tensors: new Map([
        ['mean', { dims: [P, d], data: this.stats.mean }],
        ['whitening', { dims: [P, d, d], data: this.stats.whitening }],
      ]),
    });
  }

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const { tensor, gridH, gridW } = await this.embedder.embed(batch);
    return this.scoreEmbedding(tensor, batch.n, gridH, gridW);
  }

  /** Predictions from embeddings [n, d, gridH·gridW]. */
  async scoreEmbedding(tensor: ort.Tensor, n: number, gridH: number, gridW: number): Promise<Prediction[]> {
    if (gridH !== this.grid.h || gridW !== this.grid.w) {
      throw new RangeError(`PaDiM model was fitted on a ${this.grid.h}x${this.grid.w} feature grid; these images give ${gridH}x${gridW}`);
    }
    const P = gridH * gridW;
    const d = this.config.channels;
    const scorer = await pooledSession('graph:padim_mahalanobis', buildMahalanobisGraph);
    const out = await scorer.run({ x: tensor, mean: f32(this.stats.mean, [P, d]), whitening: f32(this.stats.whitening, [P, d, d]) });
    const dist = out['distance']!.data as Float32Array;
    return Array.from({ length: n }, (_, i) => {
      const map = anomalyMapFromPatches(dist.subarray(i * P, (i + 1) * P), gridW, gridH, this.config, this.embedder.stride, this.embedder.offset);
      let score = -Infinity;
      for (let k = 0; k < map.length; k++) if (map[k]! > score) score = map[k]!;
      return { score, map };
    });
  }
}
