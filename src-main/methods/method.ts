/**
 * The one interface every anomaly-detection method implements (fit on normal images, then predict).
 */
import type { ResampleFilter } from '../vision/index.ts';

/** A batch of preprocessed images: planar RGB in [0, 1], [n, 3, height, width]. */
export interface ImageBatch {
  readonly data: Float32Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
}

export interface Prediction {
  /** Image-level anomaly score; higher is more anomalous. */
  readonly score: number;
  /** Pixel anomaly map at the model's input resolution (height × width), row-major. */
  readonly map: Float32Array;
}

export interface FitProgress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

export interface FitEvents {
  onProgress?(p: FitProgress): void;
}

/** 'stretch' resizes to the input size (the papers' choice); 'letterbox' keeps the aspect ratio and pads. */
export type ResizeMode = 'stretch' | 'letterbox';

/** How images must be prepared for a method: its input size, resampling filter and resize mode. */
export interface InputSpec {
  readonly height: number;
  readonly width: number;
  readonly filter: ResampleFilter;
  readonly resize: ResizeMode;
}

export interface FittedModel {
  readonly method: string;
  readonly input: InputSpec;
  predict(batch: ImageBatch): Promise<Prediction[]>;
  /** Configuration and sizes worth recording with results. */
  describe(): Record<string, unknown>;
}

export interface Method<Config> {
  readonly name: string;
  readonly defaults: Config;
  /** Input requirements for a configuration (decides the data loader's resize). */
  input(config: Config): InputSpec;
  /** Fits on batches of normal images; the iterable is consumed once. */
  fit(train: AsyncIterable<ImageBatch>, trainCount: number, config: Config, events?: FitEvents): Promise<FittedModel>;
}
