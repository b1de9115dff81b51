import { PRECISIONS, type Precision } from '../../engine/onnx/quantise.ts';
import type { InputSpec, ResizeMode } from '../method.ts';

/**
 * CFLOW-AD settings (METHODS.md §7): the official configuration mapped onto this project's backbone
 * (§1.8: MobileNetV2's feat_s8_exp / feat_s16_exp / feat_s32_exp for WRN50's layer2/3/4; the /32 tap is
 * only in mobilenet_v2_full), except
 *  - the schedule: official 25 meta-epochs × 8 sub-epochs (hours on a 2-core CPU, with the best
 *    meta-epoch picked on the test set); here SCHEDULE_NOTE below;
 *  - the normalisation: the official code subtracts the maximum log-likelihood over the test set and
 *    inverts with the test set's maximum; here both constants are fixed at fit time on held-out normal
 *    training images (`holdout`), so an image scores the same alone or in any batch;
 *  - no ±5° rotation augmentation (features are extracted once and kept in memory).
 */
export interface CflowConfig {
  readonly backbone: string;
  /** Backbone taps, one flow each. */
  readonly taps: readonly string[];
  readonly height: number;
  readonly width: number;
  readonly resize: ResizeMode;
  /** AllInOneBlocks per flow (K). */
  readonly blocks: number;
  /** Position-encoding channels of the condition (P). */
  readonly condition: number;
  /** Soft clamp α of s = α·tanh(a_s). */
  readonly clamp: number;
  /** Meta-epochs (the unit of the cosine schedule; official 25). */
  readonly epochs: number;
  /** Passes over the training fibres per meta-epoch (official 8). */
  readonly subEpochs: number;
  /** Meta-epochs of linear warm-up from lr/10 (official 2). */
  readonly warmupEpochs: number;
  readonly lr: number;
  /** Fibres per optimiser step (official N = 256). */
  readonly fibersPerStep: number;
  /** Share of the training images held out (not fitted on) to fix the normalisation constants. */
  readonly holdout: number;
  /** At least this many held-out images (when there are more training images than that). */
  readonly holdoutMin: number;
  readonly seed: number;
  /**
   * Scoring arithmetic: the flows' matrix products in 'int8' or 'float32' (README, "CFLOW-AD"); models
   * saved before this setting existed load as 'float32'.
   */
  readonly precision: Precision;
  /** Training steps per ONNX Runtime call (ONNX Loop over stacked fibre batches when > 1). */
  readonly stepsPerCall: number;
  /** Keep the training fibres in memory when they fit in this many MB; else in a temporary file (bounded memory). */
  readonly featureCacheMb: number;
  /** Checkpoint file written after every sub-epoch and resumed from when present ('' = none). */
  readonly checkpoint: string;
}

export const CFLOW_OFFICIAL_SCHEDULE = { epochs: 25, subEpochs: 8 } as const;

export const CFLOW_DEFAULTS: CflowConfig = {
  backbone: 'mobilenet_v2_full',
  taps: ['feat_s8_exp', 'feat_s16_exp', 'feat_s32_exp'],
  height: 256,
  width: 256,
  resize: 'stretch',
  blocks: 8,
  condition: 128,
  clamp: 1.9,
  // SCHEDULE_NOTE: chosen from the measured curves (README, CFLOW-AD): see the report there
  epochs: 4,
  subEpochs: 2,
  warmupEpochs: 2,
  lr: 2e-4,
  fibersPerStep: 256,
  holdout: 0.1,
  holdoutMin: 3,
  seed: 0,
  precision: 'int8',
  stepsPerCall: 1,
  featureCacheMb: 2048,
  checkpoint: '',
};

/** CFLOW reads images resized to exactly the input size with Lanczos (PIL ANTIALIAS). */
export function cflowInput(c: CflowConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'lanczos', resize: c.resize };
}

/** Throws RangeError for settings a flow cannot be built or trained with. */
export function checkCflowConfig(c: CflowConfig): void {
  if (c.taps.length === 0) throw new RangeError('CFLOW-AD needs at least one backbone tap');
  const positiveIntegers = { blocks: c.blocks, epochs: c.epochs, subEpochs: c.subEpochs, fibersPerStep: c.fibersPerStep, stepsPerCall: c.stepsPerCall };
  for (const [name, value] of Object.entries(positiveIntegers)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer; received ${value}`);
  }
  if (!Number.isInteger(c.condition) || c.condition < 4 || c.condition % 4 !== 0) throw new RangeError(`condition must be a positive multiple of 4; received ${c.condition}`);
  if (!Number.isInteger(c.warmupEpochs) || c.warmupEpochs < 0) throw new RangeError(`warmupEpochs must be a non-negative integer; received ${c.warmupEpochs}`);
  if (!PRECISIONS.includes(c.precision)) throw new RangeError(`precision must be ${PRECISIONS.join(' or ')}; received '${c.precision}'`);
  if (!(c.clamp > 0)) throw new RangeError(`clamp must be positive; received ${c.clamp}`);
  if (!(c.lr > 0)) throw new RangeError(`lr must be positive; received ${c.lr}`);
  if (!(c.holdout >= 0 && c.holdout < 1)) throw new RangeError(`holdout must be a share in [0, 1); received ${c.holdout}`);
  if (!Number.isInteger(c.holdoutMin) || c.holdoutMin < 0) throw new RangeError(`holdoutMin must be a non-negative integer; received ${c.holdoutMin}`);
}
