/**
 * The one interface every anomaly-detection method implements (fit on normal images, then predict).
 */
import type { NamedTensor } from '../engine/training/tensor-file.ts';
import type { ContentBox, ResampleFilter } from '../vision/index.ts';

/** A batch of preprocessed images: planar RGB in [0, 1], [n, 3, height, width]. */
export interface ImageBatch {
  readonly data: Float32Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
  /** [n, height, width]: 1 where a pixel lies in an ignore region; absent when none of the images has one. */
  readonly ignore?: Uint8Array;
  /** Per image, the part of the input that holds the picture (top-left; all of it unless letterboxed). */
  readonly content?: readonly ContentBox[];
  /** The same images at the input's second canvas, when it has one (InputSpec.second). */
  readonly second?: ImageBatch;
}

export interface Prediction {
  /** Image-level anomaly score; higher is more anomalous. */
  readonly score: number;
  /** Pixel anomaly map at the model's input resolution (height × width), row-major. */
  readonly map: Float32Array;
  /**
   * The patch scores on the feature grid, for methods whose image score is the worst patch's
   * (PatchCore, SimpleNet): ignore regions then leave out whole patches (anomaly-map.ts ignoringRegions).
   */
  readonly grid?: { readonly values: Float32Array; readonly width: number; readonly height: number };
  /**
   * The score already leaves out ignore regions and is not the map's own maximum (a two-scale model's:
   * methods/score-scale.ts), so it stands as it is where ignore regions are applied to the map.
   */
  readonly scoreOverKept?: boolean;
}

export interface FitProgress {
  /** One of the method's fitStages names (any further detail goes into the job message, not here). */
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** Training loss of the latest step, for methods that train. */
  readonly loss?: number;
  /** The method's own estimate of the seconds left in this stage. */
  readonly etaSeconds?: number;
}

export interface FitEvents {
  onProgress?(p: FitProgress): void;
}

/**
 * 'stretch' resizes to the input size (the papers' choice); 'letterbox' keeps the aspect ratio and pads;
 * 'tile' letterboxes into a larger canvas scored tile by tile (methods/tiling.ts).
 */
export type ResizeMode = 'stretch' | 'letterbox' | 'tile';

/** How images must be prepared for a method: its input size, resampling filter and resize mode. */
export interface InputSpec {
  readonly height: number;
  readonly width: number;
  readonly filter: ResampleFilter;
  readonly resize: ResizeMode;
  /**
   * A second canvas the model reads the same picture at (a two-scale model's score canvas), made from
   * the original image as the first is (resize mode and filter the same): the batch's `second`.
   */
  readonly second?: { readonly height: number; readonly width: number };
}

/** The backbone a model was fitted on: its id in models/manifest.json and the sha256 of its ONNX file. */
export interface BackboneRef {
  readonly id: string;
  readonly sha256: string;
}

/**
 * Scores of a few training images (evenly spaced, at most TRAINING_SCORE_IMAGES), recorded at fit time
 * so that a stored model carries a scale for its own scores: a default decision threshold and a
 * heatmap colour range. In-sample: the images helped fit the model, so held-out normal images
 * typically score somewhat higher (PatchCore most of all: part of each image's patches sit in the bank).
 */
export interface TrainingScores {
  /** Training images scored. */
  readonly images: number;
  readonly imageMean: number;
  readonly imageMax: number;
  /** Percentiles and maximum over every pixel of those images' anomaly maps. */
  readonly pixelMedian: number;
  readonly pixelP99: number;
  readonly pixelMax: number;
}

export interface FittedModel {
  readonly method: string;
  readonly input: InputSpec;
  readonly backbone: BackboneRef;
  /** Present on every model fitted by this version; absent only when a stored model lacks it. */
  readonly trainingScores?: TrainingScores;
  predict(batch: ImageBatch): Promise<Prediction[]>;
  /** Configuration and sizes worth recording with results. */
  describe(): Record<string, unknown>;
  /**
   * The whole model as one self-describing byte string (an Argus tensor file with meta.kind
   * 'argus-model'); methods/persistence.ts decodeModel turns it back into an equal model.
   */
  serialize(): Uint8Array;
  /**
   * Add-to-normal without a retrain, for methods whose model can take more normal images exactly or
   * cheaply (PatchCore: the bank grows; PaDiM: the Gaussians are updated): the model with `normal`
   * added, as a new model. Absent where only a new training can add images.
   */
  extended?(normal: AsyncIterable<ImageBatch>, events?: FitEvents): Promise<FittedModel>;
  /**
   * Present where this model's maps are pointwise upper bounds of another model's (PatchCore's
   * approximate search: every distance it returns is a true one, so never below the nearest): that
   * exact model. A tiled model re-scores the tiles under its stitched map's maximum with it, so its
   * image score is the exact one (tiling.ts).
   */
  readonly exactTwin?: FittedModel;
  /**
   * Where the model records which training image each of its parts came from (PatchCore's bank rows,
   * by the order the fit read them): the same model with fit ordinal i renamed `ordinals[i]`, of
   * `images` in all. A fit that did not keep every image it read (per-position normalisation holds
   * some out) numbers them as the training record does, every image read.
   */
  withImageOrdinals?(ordinals: readonly number[], images: number): FittedModel;
}

/** A decoded model file, checked by methods/persistence.ts up to the method-specific part. */
export interface StoredModel<Config> {
  /** The stored configuration merged over the method's defaults. */
  readonly config: Config;
  /** The whole meta object (method-specific fields included). */
  readonly meta: Readonly<Record<string, unknown>>;
  readonly tensors: ReadonlyMap<string, NamedTensor>;
  readonly backbone: BackboneRef;
  readonly trainingScores?: TrainingScores;
  /** Where the bytes came from, for error messages. */
  readonly source: string;
}

export interface Method<Config> {
  /**
   * The stages fit() reports, in order, with the share of the fit's time each takes (about; they add
   * up to 1): job progress turns per-stage counts into one fraction that never goes back.
   */
  readonly fitStages: ReadonlyArray<{ readonly stage: string; readonly share: number }>;
  readonly name: string;
  readonly defaults: Config;
  /** Input requirements for a configuration (decides the data loader's resize). */
  input(config: Config): InputSpec;
  /**
   * Throws a RangeError naming the problem when a configuration (merged over the defaults) cannot be
   * fitted, so that a request is refused before it is queued rather than failing minutes later.
   */
  validate?(config: Config): void;
  /** Fits on batches of normal images; the iterable is consumed once. */
  fit(train: AsyncIterable<ImageBatch>, trainCount: number, config: Config, events?: FitEvents): Promise<FittedModel>;
  /**
   * Rebuilds a model from its stored form (see FittedModel.serialize). Checks the method-specific
   * meta fields and every tensor's presence and shape; throws ModelFormatError (methods/model-file.ts).
   */
  deserialize(stored: StoredModel<Config>): Promise<FittedModel>;
}
