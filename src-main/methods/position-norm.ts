/**
 * Per-position normalisation, for aligned parts (each part at the same place in the picture: a
 * fixture, a conveyor stop, a camera on a rail). Some places of a normal part score high in every
 * image (joins, rims, edges of a long part), so the image score, the map's maximum, is often one of
 * them and a hairline defect elsewhere does not lift it. With `positionNorm`, a few training images are
 * held out of the fit (a tenth, at least 24 but at most half, at most 48, evenly spaced); the fitted model's maps of
 * those images give every pixel of the input its normal mean and spread, and the model's maps become
 * z-scores, (map − mean) / spread, whose maximum over the picture is the image score. The spread is
 * pooled over a small neighbourhood and floored (SpreadEstimate), so that neither a noisy estimate nor
 * a pixel that never varies turns noise into alarms.
 *
 * `withPositionNorm` decorates a method (tiled or not: methods/tiling.ts): with `positionNorm` true
 * it does the above, otherwise it is the method itself. A saved model keeps the mean and the
 * floored spread as two tensors and loads back normalised.
 */
import { decodeTensorFile, encodeTensorFile, type NamedTensor } from '../engine/training/tensor-file.ts';
import { gaussianFilter, type ContentBox } from '../vision/index.ts';
import { joinImages, pickImages } from './image-batch.ts';
import type { FitEvents, FittedModel, ImageBatch, Method, Prediction, StoredModel, TrainingScores } from './method.ts';
import { ModelFormatError, requireCount, requireTensor } from './model-file.ts';
import { pictureArgmax, TiledModel } from './tiling.ts';
import { holdoutIndices, summarizeTrainingScores } from './training-scores.ts';
import { mapToFloat32 } from '../util/arrays.ts';

export interface PositionNormSettings {
  /** Normalise each pixel of the map by held-out normal images (aligned parts only). */
  readonly positionNorm: boolean;
}

export const POSITION_NORM_DEFAULTS: PositionNormSettings = { positionNorm: false };

/**
 * A tenth of the training images, at least 24 (but at most half) and at most 48. Fewer held-out maps
 * give too noisy a spread: on the long crack parts (README, "Aligned parts") 12 held out gained
 * nothing (79.37 → 79.78 image AUROC), 25 gained 7.4 points and 50 gained 7.9.
 */
const HOLDOUT = { holdout: 0.1, holdoutMin: 24 } as const;
const HOLDOUT_MAX = 48;
/** Held-out images a spread is measured on, at the least. */
const MIN_HELD_OUT = 8;
/** With fewer training images, fewer than MIN_HELD_OUT would be held out (half of them). */
export const POSITION_NORM_MIN_IMAGES = 16;

/** The held-out images of a fit on `n` training images, in arrival order. */
export const positionNormHoldout = (n: number): number[] => holdoutIndices(n, HOLDOUT, HOLDOUT_MAX);

/** Held-out images scored per call of the inner model. */
const SCORING_BATCH = 8;

const MEAN_TENSOR = 'positionMean';
const SCALE_TENSOR = 'positionScale';

/** Each pixel's normal mean and floored spread, over the held-out images' maps. */
export interface PositionStatistics {
  readonly mean: Float32Array;
  readonly scale: Float32Array;
  /** Held-out images they were measured on. */
  readonly images: number;
}

/** How the spread is estimated from the held-out maps (positionStatistics). */
export interface SpreadEstimate {
  /** Map width (the maps are width × height, row-major). */
  readonly width: number;
  /**
   * Gaussian σ, px, over which each pixel's variance is pooled with its neighbours': a few dozen
   * held-out maps give a noisy variance per pixel, and an underestimated one turns a normal value
   * into an alarm.
   */
  readonly sigma: number;
  /** The spread's floor: this quantile of the pooled spreads over the measured pixels. */
  readonly floorQuantile: number;
}

/**
 * Spreads pooled over 1/16 of the model's input side (16 px at 256 px; the tile's side for a tiled
 * model), floored at their lower quartile. On the long hairline-crack parts (README, "Aligned parts")
 * these beat the per-pixel spread floored at its median by 2.8 points of image AUROC (88.19 against
 * 85.44 on one fit); wider pooling tends to a single spread for the whole map (82.26).
 */
export const SPREAD_SIGMA_SHARE = 1 / 16;
export const SPREAD_FLOOR_QUANTILE = 0.25;

/**
 * Statistics over the held-out `maps`; `excluded[i]` flags the pixels of map i that say nothing
 * about the part (under its ignore mask, or outside its picture in a letterboxed canvas). A pixel no
 * map measures takes the overall mean and the floor.
 */
export function positionStatistics(maps: readonly Float32Array[], excluded: ReadonlyArray<Uint8Array | undefined>, estimate: SpreadEstimate): PositionStatistics {
  const size = maps[0]!.length;
  const { width } = estimate;
  const height = size / width;
  const count = new Uint32Array(size);
  const sum = new Float64Array(size);
  maps.forEach((map, i) => {
    for (let p = 0; p < size; p++) if (excluded[i]?.[p] !== 1) (count[p]!++, (sum[p]! += map[p]!));
  });
  const seen = count.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  const overall = sum.reduce((a, s, p) => a + (count[p]! > 0 ? s / count[p]! : 0), 0) / Math.max(1, seen);
  const mean = mapToFloat32(sum, (s, p) => (count[p]! > 0 ? s / count[p]! : overall));
  const squares = new Float64Array(size);
  maps.forEach((map, i) => {
    for (let p = 0; p < size; p++) if (excluded[i]?.[p] !== 1) squares[p]! += (map[p]! - mean[p]!) ** 2;
  });
  // pooled variance: a normalised convolution over the pixels that have one
  const measured = mapToFloat32(count, (c) => (c > 1 ? 1 : 0));
  const variance = mapToFloat32(squares, (s, p) => (count[p]! > 1 ? s / count[p]! : 0));
  const [pooled, weight] = estimate.sigma > 0
    ? [gaussianFilter(variance, width, height, estimate.sigma), gaussianFilter(measured, width, height, estimate.sigma)]
    : [variance, measured];
  const spread = mapToFloat32(pooled, (v, p) => (measured[p] === 1 && weight[p]! > 0 ? Math.sqrt(v / weight[p]!) : NaN));
  const sorted = spread.filter((s) => !Number.isNaN(s)).sort();
  const quantile = sorted.length > 0 ? sorted[Math.floor(estimate.floorQuantile * (sorted.length - 1))]! : 0;
  // a map that never varies (a constant model) still divides by something positive
  const floor = Math.max(quantile, 1e-6 * Math.max(1e-6, Math.abs(overall)));
  const scale = mapToFloat32(spread, (s) => (Number.isNaN(s) ? floor : Math.max(s, floor)));
  return { mean, scale, images: maps.length };
}

/** A map as z-scores: each pixel's excess over its normal mean, in units of its floored spread. */
export function zScores(map: Float32Array, { mean, scale }: PositionStatistics): Float32Array {
  return mapToFloat32(map, (v, p) => (v - mean[p]!) / scale[p]!);
}

/**
 * The model whose maps `model` gives: a normalised model's detector underneath, any other model
 * itself (a two-scale model is unwrapped first, by score-scale.ts mapModelOf).
 */
export function detectorOf(model: FittedModel): FittedModel {
  return model instanceof PositionNormModel ? model.inner : model;
}

export class PositionNormModel implements FittedModel {
  readonly method: string;
  readonly input: FittedModel['input'];
  readonly backbone: FittedModel['backbone'];

  constructor(
    readonly inner: FittedModel,
    readonly statistics: PositionStatistics,
    /** The held-out images' normalised scores and maps (out of the fit, in the normalisation). */
    readonly trainingScores: TrainingScores | undefined,
  ) {
    this.method = inner.method;
    this.input = inner.input;
    this.backbone = inner.backbone;
    const pixels = inner.input.height * inner.input.width;
    if (statistics.mean.length !== pixels || statistics.scale.length !== pixels) {
      throw new RangeError(`per-position statistics hold ${statistics.mean.length} values; the ${inner.input.height}x${inner.input.width} model maps ${pixels}`);
    }
  }

  /** A map of the detector's as this model scores it. */
  readonly normalise = (map: Float32Array): Float32Array => zScores(map, this.statistics);

  async predict(batch: ImageBatch): Promise<Prediction[]> {
    // a tiled model takes its score (and certifies an approximate search's) on the normalised map
    if (this.inner instanceof TiledModel) return this.inner.predict(batch, this.normalise);
    return (await this.inner.predict(batch)).map((p, i) => {
      const map = this.normalise(p.map);
      return { score: map[pictureArgmax(map, batch.width, batch.content?.[i])]!, map };
    });
  }

  /** Add-to-normal where the inner model has it: the new images go to the inner model; the statistics stay. */
  async extended(normal: AsyncIterable<ImageBatch>, events: FitEvents = {}): Promise<PositionNormModel> {
    if (!this.inner.extended) throw new RangeError(`adding normal images without a retrain is not possible for ${this.method} models`);
    return new PositionNormModel(await this.inner.extended(normal, events), this.statistics, this.trainingScores);
  }

  describe(): Record<string, unknown> {
    return { ...this.inner.describe(), positionNorm: true, positionNormImages: this.statistics.images, trainingScores: this.trainingScores };
  }

  /** The inner model's file with positionNorm in its configuration and the statistics as two more tensors. */
  serialize(): Uint8Array {
    const file = decodeTensorFile(this.inner.serialize(), 'the inner model');
    const dims = [this.input.height, this.input.width];
    const tensors = new Map<string, NamedTensor>(file.tensors);
    tensors.set(MEAN_TENSOR, { dims, data: this.statistics.mean });
    tensors.set(SCALE_TENSOR, { dims, data: this.statistics.scale });
    const config = { ...(file.meta['config'] as Record<string, unknown>), positionNorm: true };
    return encodeTensorFile({ meta: { ...file.meta, config, positionNormImages: this.statistics.images, trainingScores: this.trainingScores }, tensors });
  }
}

/** What `withholding` saw: the held-out images, and the arrival ordinals of those fitted and of all. */
interface Withheld {
  readonly kept: ImageBatch[];
  readonly fitted: number[];
  read: number;
}

/** The batches of `train` less the images at `held` (arrival order), which are kept. */
async function* withholding(train: AsyncIterable<ImageBatch>, held: ReadonlySet<number>, out: Withheld): AsyncGenerator<ImageBatch> {
  for await (const batch of train) {
    const fitted: number[] = [];
    for (let i = 0; i < batch.n; i++, out.read++) {
      if (held.has(out.read)) out.kept.push(pickImages(batch, [i]));
      else (fitted.push(i), out.fitted.push(out.read));
    }
    if (fitted.length === batch.n) yield batch;
    else if (fitted.length > 0) yield pickImages(batch, fitted);
  }
}

/** 1 where a pixel of a height × width input is ignored or outside the picture (top-left `content`). */
function excludedPixels(height: number, width: number, ignore: Uint8Array | undefined, content: ContentBox | undefined): Uint8Array {
  const out = ignore ? ignore.slice() : new Uint8Array(height * width);
  if (!content) return out;
  for (let y = 0; y < height; y++) {
    if (y >= content.height) out.fill(1, y * width, (y + 1) * width);
    else out.fill(1, y * width + content.width, (y + 1) * width);
  }
  return out;
}

/** The fitted model's maps of the held-out images, their statistics, and the model normalised by them. */
async function normalised(inner: FittedModel, held: readonly ImageBatch[], events: FitEvents): Promise<PositionNormModel> {
  const { height, width } = inner.input;
  const maps: Float32Array[] = [];
  const excluded: Uint8Array[] = [];
  const contents: Array<ContentBox | undefined> = [];
  for (let from = 0; from < held.length; from += SCORING_BATCH) {
    const batch = joinImages(held.slice(from, from + SCORING_BATCH));
    const plane = height * width;
    (await inner.predict(batch)).forEach((p, i) => {
      const ignore = batch.ignore?.subarray(i * plane, (i + 1) * plane);
      const content = batch.content?.[i];
      maps.push(p.map);
      contents.push(content);
      excluded.push(excludedPixels(height, width, ignore, content));
    });
    events.onProgress?.({ stage: 'normalise', done: maps.length, total: held.length });
  }
  const side = inner instanceof TiledModel ? inner.grid.size : Math.min(height, width);
  const statistics = positionStatistics(maps, excluded, { width, sigma: side * SPREAD_SIGMA_SHARE, floorQuantile: SPREAD_FLOOR_QUANTILE });
  const scored = maps.map((raw, i): Prediction => {
    const map = zScores(raw, statistics);
    return { score: map[pictureArgmax(map, width, contents[i], excluded[i])]!, map };
  });
  return new PositionNormModel(inner, statistics, summarizeTrainingScores(scored));
}

/** `method` with per-position normalisation (positionNorm true); unchanged otherwise. */
export function withPositionNorm<C extends object>(method: Method<C>): Method<C & PositionNormSettings> {
  const plain = (config: C & PositionNormSettings): C => {
    const { positionNorm: _, ...rest } = config;
    return rest as unknown as C;
  };
  return {
    ...method,
    defaults: { ...method.defaults, ...POSITION_NORM_DEFAULTS },
    // the held-out images are scored after the fit: a small last stage
    fitStages: [...method.fitStages.map((s) => ({ ...s, share: s.share * 0.95 })), { stage: 'normalise', share: 0.05 }],
    input: (config) => method.input(plain(config)),
    validate(config) {
      if (typeof config.positionNorm !== 'boolean') throw new RangeError(`positionNorm must be true or false; received ${JSON.stringify(config.positionNorm)}`);
      method.validate?.(plain(config));
    },
    async fit(train, trainCount, config, events: FitEvents = {}) {
      if (!config.positionNorm) return method.fit(train, trainCount, plain(config), events);
      if (trainCount < POSITION_NORM_MIN_IMAGES) {
        throw new RangeError(`per-position normalisation needs at least ${POSITION_NORM_MIN_IMAGES} normal training images (${MIN_HELD_OUT} or more are held out to measure each position's normal spread); there are ${trainCount}`);
      }
      const held = positionNormHoldout(trainCount);
      const seen: Withheld = { kept: [], fitted: [], read: 0 };
      const fitted = await method.fit(withholding(train, new Set(held), seen), trainCount - held.length, plain(config), events);
      const { kept } = seen;
      if (kept.length < MIN_HELD_OUT) throw new RangeError(`only ${kept.length} of the ${held.length} held-out training images could be read: too few to normalise by`);
      // a bank row names its image as the training record does: among every image read, held out or not
      const inner = fitted.withImageOrdinals?.(seen.fitted, seen.read) ?? fitted;
      return normalised(inner, kept, events);
    },
    async deserialize(stored: StoredModel<C & PositionNormSettings>) {
      if (!stored.config.positionNorm) return method.deserialize({ ...stored, config: plain(stored.config) });
      const { height, width } = method.input(plain(stored.config));
      const statistics = {
        mean: requireTensor(stored, MEAN_TENSOR, [height, width]),
        scale: requireTensor(stored, SCALE_TENSOR, [height, width]),
        images: requireCount(stored, 'positionNormImages'),
      };
      if (!statistics.mean.every(Number.isFinite) || !statistics.scale.every((v) => Number.isFinite(v) && v > 0)) {
        throw new ModelFormatError('tensor', `${stored.source}: the per-position mean must be finite and the spread finite and positive`);
      }
      const tensors = new Map(stored.tensors);
      tensors.delete(MEAN_TENSOR);
      tensors.delete(SCALE_TENSOR);
      const inner = await method.deserialize({ ...stored, config: plain(stored.config), tensors });
      return new PositionNormModel(inner, statistics, stored.trainingScores);
    },
  };
}
