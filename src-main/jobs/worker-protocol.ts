import type { ResizeMode, TrainingScores } from '../methods/method.ts';
import type { FlaggedPatch } from '../methods/patchcore/flagged-patch.ts';
import type { ContentBox } from '../vision/index.ts';
import type { ImageDescriptors } from '../services/training-record.ts';

/**
 * Messages between the job runner (main thread) and a compute worker thread. Heavy arrays travel as
 * transferred buffers, never copied through JSON.
 */

export interface FitTask {
  readonly task: 'fit';
  readonly method: string;
  readonly config: Record<string, unknown>;
  /** Absolute paths of the training images (stored copies inside the project). */
  readonly images: readonly string[];
  /** Per training image (same order), the PNG masks of its ignore regions: their patches stay out of the model (PatchCore). */
  readonly ignore?: ReadonlyArray<readonly Uint8Array[]>;
  readonly batchSize: number;
}

export interface PredictTask {
  readonly task: 'predict';
  /** A serialized model (methods/persistence.ts). */
  readonly model: Uint8Array;
  /** `ignore`: the PNG masks of the image's ignore regions (its own, its product's), any size, united. */
  readonly images: ReadonlyArray<{ readonly id: number; readonly path: string; readonly ignore?: readonly Uint8Array[] }>;
  readonly batchSize: number;
  /** Batches posted and not yet acknowledged before the worker waits (back-pressure). */
  readonly maxInFlight: number;
  /** Intra-op threads of the worker's sessions, where workers share the CPUs; all of them when absent. */
  readonly threads?: number;
}

export interface RefineTask {
  readonly task: 'refine';
  /** A serialized model (methods/persistence.ts) of a detector F2PAD refines (patchcore, padim, cflow). */
  readonly model: Uint8Array;
  /** The model's stored pixel prior (refine/prior.ts encodePrior); null: fit it and post 'prior'. */
  readonly prior: Uint8Array | null;
  /** Absolute paths of normal training images (donors for the initial inpainting; the prior's pixels). */
  readonly training: readonly string[];
  readonly items: ReadonlyArray<{ readonly resultId: number; readonly path: string }>;
  /** The detector map threshold the initial mask M0 is cut at. */
  readonly threshold: number;
  /** Refinement settings over refine.ts REFINE_DEFAULTS. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly maxInFlight: number;
}

/** Add-to-normal: a fitted PatchCore model with more normal images in its memory bank (no retrain). */
export interface ExtendTask {
  readonly task: 'extend';
  /** A serialized PatchCore model (methods/persistence.ts). */
  readonly model: Uint8Array;
  /** Absolute paths of the normal images to add. */
  readonly images: readonly string[];
  /** Per image (same order), the PNG masks of its ignore regions: their patches stay out of the bank. */
  readonly ignore?: ReadonlyArray<readonly Uint8Array[]>;
  readonly batchSize: number;
}

/**
 * Why was this image flagged: a PatchCore model's worst patch and its nearest memory entry, or, for
 * the other methods, the training image whose descriptor is nearest to this one's.
 */
export interface ExplainTask {
  readonly task: 'explain';
  readonly model: Uint8Array;
  readonly image: { readonly path: string; readonly ignore?: readonly Uint8Array[] };
  /** The model's training image descriptors (methods other than PatchCore). */
  readonly descriptors: ImageDescriptors | null;
}

export type WorkerTask = FitTask | PredictTask | RefineTask | ExtendTask | ExplainTask;

/** What the explain task found; boxes and crops are the caller's (it knows the images). */
export interface Explained {
  readonly input: { readonly width: number; readonly height: number; readonly resize: ResizeMode };
  /** The image's own size and where its picture lies in the model input. */
  readonly size: { readonly width: number; readonly height: number };
  readonly content: ContentBox;
  /** PatchCore: the flagged patch and its nearest bank patch. */
  readonly patch: FlaggedPatch | null;
  /** Other methods: the nearest training image's ordinal in the descriptors and the descriptor distance. */
  readonly image: { readonly ordinal: number; readonly distance: number } | null;
}

/** One refined image, everything at the image's own size; PNGs encoded in the worker. */
export interface RefinedImage {
  readonly resultId: number;
  readonly width: number;
  readonly height: number;
  /** The refined binary mask as a 1-channel PNG (0 / 255). */
  readonly maskPng: Uint8Array;
  /** ‖A‖ per pixel. */
  readonly magnitude: Float32Array;
  /** The repaired image as an RGB PNG. */
  readonly repairedPng: Uint8Array;
  readonly defectAreaPx: number;
  readonly iterations: number;
  readonly seconds: number;
}

/** One scored image: the map is cropped to the picture (letterbox removed) at model resolution. */
export interface ScoredImage {
  readonly imageId: number;
  readonly score: number;
  readonly map: Float32Array;
  readonly mapWidth: number;
  readonly mapHeight: number;
  /** Where ignore regions lie (1) at the map's size; absent without any (the score and map already leave them out). */
  readonly ignore?: Uint8Array;
  /** The image's own size. */
  readonly width: number;
  readonly height: number;
}

export type FromWorker =
  | {
    readonly type: 'progress'; readonly done: number; readonly total: number; readonly stage: string;
    /** The whole task's fraction done, 0..1, never decreasing. */
    readonly fraction: number;
    readonly loss: number | null; readonly etaSeconds: number | null;
  }
  | { readonly type: 'skipped'; readonly path: string; readonly problem: string; readonly imageId: number | null }
  | { readonly type: 'scored'; readonly items: readonly ScoredImage[] }
  | {
    readonly type: 'fitted'; readonly model: Uint8Array; readonly description: Record<string, unknown>;
    readonly backbone: { readonly id: string; readonly sha256: string }; readonly trainCount: number;
    readonly trainingScores: TrainingScores | null;
    /** Descriptors of the images the task read, in order (methods explained image by image). */
    readonly descriptors: ImageDescriptors | null;
  }
  | { readonly type: 'explained'; readonly explained: Explained }
  | { readonly type: 'prior'; readonly prior: Uint8Array }
  | { readonly type: 'refined'; readonly item: RefinedImage }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string; readonly name: string };

export type ToWorker =
  | { readonly type: 'ack' }
  | { readonly type: 'cancel' };
