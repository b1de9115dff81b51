import { PRECISIONS, type Precision } from '../../engine/onnx/quantise.ts';
import type { InputSpec, ResizeMode } from '../method.ts';

/** Which mappings are trained and scored: S→T and T→S (the paper's bidirectional PFM), or one of them. */
export type PfmDirection = 'both' | 's2t' | 't2s';
/** How the per-level maps are fused: their mean (PFM, PEFM fusion_type 0) or their product (PEFM fusion_type 1). */
export type PfmFusion = 'add' | 'multiply';
/**
 * How each squared mapping error is scaled before the channel sum: 'none' (the papers' runs), or
 * 'variance', the official code's statistic_var(c=True): divided by its mean over the training images at
 * that channel and position, so positions and channels the mapping never learns well stop dominating.
 */
export type PfmNormalise = 'none' | 'variance';
/**
 * Inference-mode BatchNorm statistics: 'running' (the momentum averages kept during training, as
 * PyTorch), or 'precise': after the last step, the batch statistics of the final weights averaged over
 * one pass of the training set, which the running averages only approach once the weights stop moving.
 */
export type PfmBnStatistics = 'running' | 'precise';

/**
 * PFM / MB-PFM and PEFM settings (METHODS.md §2, §3) on this project's backbones (§1.8): MobileNetV2
 * (source S) → MobileNetV1 (target T), taps at strides 4, 8 and 16 as the papers' layer1-3.
 *
 * Latent sizes: the papers' d per level is a fixed share of the two channel counts, d/(Cs+Ct) =
 * 200/320 = 400/640 = 0.625 at levels 1-2 and 900/1280 = 0.703 (MB-PFM) or 800/1280 = 0.625 (PEFM) at
 * level 3. The same shares of our channel counts (24+128, 192+256, 576+512) give d = 95, 280, 765
 * (PFM) and 95, 280, 680 (PEFM), so each network has the paper's proportions for its own inputs.
 *
 * Epochs: the papers train 200. On this 2-core CPU a 256-px epoch of all three levels costs about
 * 2.5 s per image (MPDD 54 images: ~2 min), so the default is 10 epochs, chosen from the measured curve
 * of metrics against epochs (README, "PFM and PEFM"): past ~10 epochs the metrics move by under a point
 * while the fit time keeps growing linearly.
 *
 * BatchNorm statistics: 'precise' by default (Argus's choice; the papers' code keeps PyTorch's running
 * averages, `bnStatistics: 'running'`): on MPDD at 10 epochs it gains 1.8 points of AUPRO, and 7 epochs
 * reach the pixel metrics that running averages need 10 for (README, "Against the official method").
 */
export interface PfmConfig {
  /** Source backbone S (the model's recorded backbone). */
  readonly backbone: string;
  /** Target backbone T. */
  readonly targetBackbone: string;
  /** S and T feature taps of levels 1, 2, 3. */
  readonly sourceTaps: readonly string[];
  readonly targetTaps: readonly string[];
  /** Latent size d of levels 1, 2, 3 (see above). */
  readonly latent: readonly number[];
  /** The levels used (1-based subset of 1, 2, 3; MB-PFM uses all three). */
  readonly levels: readonly number[];
  readonly direction: PfmDirection;
  /** PEFM: the 2-D sinusoidal position encoding (§1.7) added to the mapping inputs. */
  readonly positionEncoding: boolean;
  readonly fusion: PfmFusion;
  readonly normalise: PfmNormalise;
  readonly height: number;
  readonly width: number;
  readonly resize: ResizeMode;
  /** Passes over the training set (papers: 200). */
  readonly epochs: number;
  /** Training mini-batch size in images. */
  readonly batchSize: number;
  /** Adam learning rate of levels 1, 2, 3 (each level has its own optimiser). */
  readonly lr: readonly number[];
  /** Adam weight decay (L2 added to the gradient, as torch.optim.Adam). */
  readonly weightDecay: number;
  /** BatchNorm2d running-statistics momentum and epsilon (PyTorch defaults). */
  readonly bnMomentum: number;
  readonly bnEps: number;
  readonly bnStatistics: PfmBnStatistics;
  /**
   * Scoring arithmetic: 'int8' (default) runs the mapping networks' matrix products in int8, 2.2× faster
   * than 'float32' with the same metrics to ±0.1 point (README); models saved before this setting
   * existed load as 'float32', so their scores stay as they were.
   */
  readonly precision: Precision;
  readonly seed: number;
  /** Keep the training features in memory when they fit in this many MB; else re-extract each step. */
  readonly featureCacheMb: number;
  /** Checkpoint file written after every epoch and resumed from when present ('' = none). */
  readonly checkpoint: string;
}

/** The papers train 200 epochs. */
export const PFM_OFFICIAL_EPOCHS = 200;

/** The papers' latent share d/(Cs+Ct) per level. */
export const PFM_LATENT_SHARE = [200 / 320, 400 / 640, 900 / 1280] as const;
export const PEFM_LATENT_SHARE = [200 / 320, 400 / 640, 800 / 1280] as const;

const COMMON = {
  backbone: 'mobilenet_v2_features',
  targetBackbone: 'mobilenet_v1_features',
  sourceTaps: ['feat_s4', 'feat_s8_exp', 'feat_s16_exp'],
  targetTaps: ['feat_s4', 'feat_s8', 'feat_s16'],
  levels: [1, 2, 3],
  direction: 'both',
  fusion: 'add',
  normalise: 'none',
  height: 256,
  width: 256,
  resize: 'stretch',
  epochs: 10,
  weightDecay: 1e-5,
  bnMomentum: 0.1,
  bnEps: 1e-5,
  bnStatistics: 'precise',
  precision: 'int8',
  seed: 888,
  featureCacheMb: 2048,
  checkpoint: '',
} as const;

/** MB-PFM (§2): d = 0.625, 0.625, 0.703 × (Cs + Ct) = 95, 280, 765; lr 3e-3, 3e-4, 3e-4; batch 8. */
export const PFM_DEFAULTS: PfmConfig = {
  ...COMMON,
  latent: [95, 280, 765],
  positionEncoding: false,
  batchSize: 8,
  lr: [3e-3, 3e-4, 3e-4],
};

/**
 * PEFM (§3): d = 0.625 × (Cs + Ct) = 95, 280, 680; lr 3e-4 at every level; batch 16; PE on. Errors
 * scaled by their training mean (normalise 'variance', the official code's statistic_var(c=True), off
 * in the papers' runs): +16.8 / +19.1 image AUROC on MPDD / magnetic_tile at 10 epochs (README).
 */
export const PEFM_DEFAULTS: PfmConfig = {
  ...COMMON,
  latent: [95, 280, 680],
  positionEncoding: true,
  normalise: 'variance',
  batchSize: 16,
  lr: [3e-4, 3e-4, 3e-4],
};

/** PFM and PEFM read images resized with PIL's ANTIALIAS (Lanczos, support-scaled when down-sampling). */
export function pfmInput(c: PfmConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'lanczos', resize: c.resize };
}

/** Throws RangeError for settings the networks cannot be built with. */
export function checkPfmConfig(c: PfmConfig): void {
  if (c.levels.length === 0 || c.levels.some((l) => ![1, 2, 3].includes(l)) || new Set(c.levels).size !== c.levels.length) {
    throw new RangeError(`levels must be distinct values among 1, 2, 3; received [${c.levels.join(', ')}]`);
  }
  if (!['both', 's2t', 't2s'].includes(c.direction)) throw new RangeError(`direction must be both, s2t or t2s; received '${c.direction}'`);
  if (!['add', 'multiply'].includes(c.fusion)) throw new RangeError(`fusion must be add or multiply; received '${c.fusion}'`);
  if (!['running', 'precise'].includes(c.bnStatistics)) throw new RangeError(`bnStatistics must be running or precise; received '${c.bnStatistics}'`);
  if (!PRECISIONS.includes(c.precision)) throw new RangeError(`precision must be ${PRECISIONS.join(' or ')}; received '${c.precision}'`);
  if (!['none', 'variance'].includes(c.normalise)) throw new RangeError(`normalise must be none or variance; received '${c.normalise}'`);
  for (const [name, list] of [['sourceTaps', c.sourceTaps], ['targetTaps', c.targetTaps], ['latent', c.latent], ['lr', c.lr]] as const) {
    if (list.length !== 3) throw new RangeError(`${name} needs one entry per level (3), received ${list.length}`);
  }
  if (c.latent.some((d) => !Number.isInteger(d) || d < 1)) throw new RangeError(`latent sizes must be positive integers; received [${c.latent.join(', ')}]`);
  if (!Number.isInteger(c.epochs) || c.epochs < 0) throw new RangeError(`epochs must be a non-negative integer; received ${c.epochs}`);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) throw new RangeError(`batchSize must be a positive integer; received ${c.batchSize}`);
}
