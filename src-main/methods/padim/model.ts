/**
 * PaDiM (METHODS.md §6): one Gaussian per feature-grid position over a random channel subset of
 * the taps; a test position scores its Mahalanobis distance; the image scores its smoothed map's max.
 *
 * Memory: moments are streamed (Σy in float64 [P, d] and Σyyᵀ [P, d, d]), so fitting never holds all
 * training embeddings; the model keeps the mean and the covariance's whitening factor in float32:
 * P·d² · 4 bytes = 64·64·100²·4 ≈ 164 MB at the default 256 px input and d = 100, and, so that normal
 * images can be added without a retrain (extended), each position's count, sample mean and scatter
 * (upper triangle, float32: P·d(d+1)/2 · 4 bytes ≈ 83 MB more).
 */
import { Backbone } from '../../features/extractor.ts';
import { alignmentFeeds } from '../../features/tap-alignment.ts';
import { f32, type ort, pooledSession, type Session } from '../../engine/session.ts';
import { Random } from '../../util/random.ts';
import { anomalyMapFromPatches } from '../anomaly-map.ts';
import { ignoredCells } from '../ignored-cells.ts';
import type { BackboneRef, FitEvents, FittedModel, ImageBatch, InputSpec, Prediction, StoredModel, TrainingScores } from '../method.ts';
import { encodeModelFile, ModelFormatError, requireCount, requireTensor } from '../model-file.ts';
import { summarizeTrainingScores, trainingSample } from '../training-scores.ts';
import { momentsFrom, packedSize, sufficientStatistics, type GaussianStats, type Moments, type SufficientStats } from './covariance.ts';
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

/**
 * Streams embeddings into per-position moments (covariance.ts Moments). A position whose grid-cell
 * centre lies in an image's ignore region takes nothing from that image: its features are replaced by
 * the shift (y = 0 adds nothing to Σy or Σyyᵀ) and its count is not raised.
 */
class MomentsAccumulator {
  private pending: Float32Array[] = [];
  private pendingImages = 0;

  constructor(readonly moments: Moments, readonly grid: { readonly h: number; readonly w: number }, private readonly session: Session) {}

  static async open(moments: Moments, grid: { h: number; w: number }): Promise<MomentsAccumulator> {
    return new MomentsAccumulator(moments, grid, await pooledSession('graph:padim_moments', buildMomentsGraph));
  }

  /** Embeddings [n, d, P] of `batch` (its ignore masks decide what each position keeps). */
  async add(data: Float32Array, batch: ImageBatch): Promise<void> {
    const { shift, counts, d } = this.moments;
    const P = counts.length;
    const kept = batch.ignore ? data.slice() : data;
    for (let i = 0; i < batch.n; i++) {
      const ignored = ignoredCells(batch, i, this.grid.h, this.grid.w);
      for (let p = 0; p < P; p++) {
        if (ignored?.[p]) {
          for (let k = 0; k < d; k++) kept[(i * d + k) * P + p] = shift[p * d + k]!;
        } else counts[p]!++;
      }
    }
    this.pending.push(kept);
    this.pendingImages += batch.n;
    if (this.pendingImages >= MOMENTS_GROUP) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingImages === 0) return;
    const { sum, cross, shift, d } = this.moments;
    const P = this.moments.counts.length;
    const x = new Float32Array(this.pendingImages * d * P);
    let offset = 0;
    for (const part of this.pending) {
      x.set(part, offset);
      offset += part.length;
    }
    const out = await this.session.run({ x: f32(x, [this.pendingImages, d, P]), shift: f32(shift, [P, d]) });
    const s = out['sum']!.data as Float32Array;
    const cr = out['cross']!.data as Float32Array;
    for (let i = 0; i < s.length; i++) sum[i]! += s[i]!;
    for (let i = 0; i < cr.length; i++) cross[i]! += cr[i]!;
    this.pending = [];
    this.pendingImages = 0;
  }
}

/** Fresh moments whose shift is the first image's features, transposed to [P, d]. */
function firstMoments(first: Float32Array, d: number, P: number): Moments {
  const shift = new Float32Array(P * d);
  for (let c = 0; c < d; c++) for (let p = 0; p < P; p++) shift[p * d + c] = first[c * P + p]!;
  return { shift, sum: sharedFloat64(P * d), cross: sharedFloat64(P * d * d), counts: new Float64Array(P), d };
}

export async function fitPadim(train: AsyncIterable<ImageBatch>, trainCount: number, config: PadimConfig, events: FitEvents = {}): Promise<PadimModel> {
  const embedder = await PadimEmbedder.open(config);
  const d = config.channels;
  let acc: MomentsAccumulator | undefined;
  let n = 0;
  // embeddings of a few training images, scored once the model exists (FittedModel.trainingScores)
  const sample = new Set(trainingSample(trainCount));
  const sampled: Float32Array[] = [];
  for await (const batch of train) {
    const { tensor, gridH, gridW } = await embedder.embed(batch);
    const data = tensor.data as Float32Array;
    acc ??= await MomentsAccumulator.open(firstMoments(data, d, gridH * gridW), { h: gridH, w: gridW });
    const per = data.length / batch.n;
    for (let i = 0; i < batch.n; i++) if (sample.has(n + i)) sampled.push(data.slice(i * per, (i + 1) * per));
    await acc.add(data, batch);
    n += batch.n;
    events.onProgress?.({ stage: 'features', done: n, total: trainCount });
  }
  if (!acc || n < 2) throw new RangeError(`PaDiM needs at least 2 training images, received ${n}`);
  await acc.flush();
  events.onProgress?.({ stage: 'covariance', done: 0, total: 1 });
  const { stats } = await gaussiansFromMomentsParallel(acc.moments, config.epsilon);
  events.onProgress?.({ stage: 'covariance', done: 1, total: 1 });
  const grid = acc.grid;
  const model = new PadimModel(config, embedder, stats, grid, sufficientStatistics(acc.moments));
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
  const model = new PadimModel(stored.config, embedder, { mean, whitening }, grid, storedSufficientStats(stored, P, d));
  model.trainingScores = stored.trainingScores;
  return model;
}

/** The sufficient statistics, when the model was fitted with them (models stored before have none). */
function storedSufficientStats(stored: StoredModel<PadimConfig>, P: number, d: number): SufficientStats | null {
  if (!stored.tensors.has('count')) return null;
  const counts = requireTensor(stored, 'count', [P]);
  if (!counts.every((c) => Number.isInteger(c) && c >= 0)) throw new ModelFormatError('tensor', `${stored.source}: tensor 'count' must hold whole numbers of samples`);
  return { counts, mean: requireTensor(stored, 'sample_mean', [P, d]), scatter: requireTensor(stored, 'scatter', [P, packedSize(d)]) };
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
    /** What adding normal images without a retrain needs; null for a model stored before PaDiM kept it. */
    readonly sufficient: SufficientStats | null,
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
      ...(this.sufficient ? { sufficientStatistics: true } : {}),
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
        ...(this.sufficient
          ? ([
            ['count', { dims: [P], data: this.sufficient.counts }],
            ['sample_mean', { dims: [P, d], data: this.sufficient.mean }],
            ['scatter', { dims: [P, packedSize(d)], data: this.sufficient.scatter }],
          ] as const)
          : []),
      ]),
    });
  }

  /**
   * Add-to-normal without a retrain: the Gaussians of the model's training images and `normal`
   * together, exactly as a fit on all of them would give (up to float32 rounding of the stored
   * statistics): the stored counts, means and scatters are the moments the new images' features are
   * streamed into. Takes the new images' feature extraction and the per-position Cholesky.
   */
  async extended(normal: AsyncIterable<ImageBatch>, events: FitEvents = {}): Promise<PadimModel> {
    if (!this.sufficient) throw new RangeError('this PaDiM model was stored before PaDiM kept the statistics that adding images needs: train a new version');
    const acc = await MomentsAccumulator.open(momentsFrom(this.sufficient, this.config.channels, sharedFloat64), this.grid);
    let images = 0;
    for await (const batch of normal) {
      const { tensor, gridH, gridW } = await this.embedder.embed(batch);
      if (gridH !== this.grid.h || gridW !== this.grid.w) throw new RangeError(`PaDiM model was fitted on a ${this.grid.h}x${this.grid.w} feature grid; these images give ${gridH}x${gridW}`);
      await acc.add(tensor.data as Float32Array, batch);
      images += batch.n;
      events.onProgress?.({ stage: 'features', done: images, total: images });
    }
    if (images === 0) throw new RangeError('no images to add to the model');
    await acc.flush();
    events.onProgress?.({ stage: 'covariance', done: 0, total: 1 });
    const { stats } = await gaussiansFromMomentsParallel(acc.moments, this.config.epsilon);
    events.onProgress?.({ stage: 'covariance', done: 1, total: 1 });
    const model = new PadimModel(this.config, this.embedder, stats, this.grid, sufficientStatistics(acc.moments));
    model.trainingScores = this.trainingScores;
    return model;
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
