import type { TrainingScores } from '../methods/method.ts';

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
  readonly batchSize: number;
}

export interface PredictTask {
  readonly task: 'predict';
  /** A serialized model (methods/persistence.ts). */
  readonly model: Uint8Array;
  readonly images: ReadonlyArray<{ readonly id: number; readonly path: string }>;
  readonly batchSize: number;
  /** Batches posted and not yet acknowledged before the worker waits (back-pressure). */
  readonly maxInFlight: number;
}

export type WorkerTask = FitTask | PredictTask;

/** One scored image: the map is cropped to the picture (letterbox removed) at model resolution. */
export interface ScoredImage {
  readonly imageId: number;
  readonly score: number;
  readonly map: Float32Array;
  readonly mapWidth: number;
  readonly mapHeight: number;
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
  }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string; readonly name: string };

export type ToWorker =
  | { readonly type: 'ack' }
  | { readonly type: 'cancel' };
