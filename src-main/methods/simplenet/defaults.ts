import type { InputSpec } from '../method.ts';
import { PATCH_FEATURE_DEFAULTS, type PatchFeatureConfig } from '../../features/patch-embedding.ts';

/**
 * SimpleNet settings (METHODS.md §4): the official `run.sh` configuration mapped onto this project's
 * backbone, except
 *  - the epoch count (official: 40 meta-epochs × 4 GAN epochs = 160 passes, with model selection on the
 *    test set; here a fixed 16 passes, ~3-9 min at 256 px on a 2-core CPU, and the last epoch is kept);
 *  - the noise σ: the official 0.015 suits WideResNet50 features but is 3-6 % of the spread of this
 *    backbone's, and the discriminator never separates true from noised features (loss stays 1.0);
 *    σ is 0.5 × the spread measured at fit time instead (noiseRelative; 0 restores noiseStd 0.015).
 */
export interface SimpleNetConfig extends PatchFeatureConfig {
  /** Discriminator hidden width ("dsc_hidden"). */
  readonly hidden: number;
  /**
   * Standard deviation of the Gaussian noise that makes anomalous features ("noise_std"; official
   * 0.015, chosen for WideResNet50 features). Used as is when `noiseRelative` is 0.
   */
  readonly noiseStd: number;
  /**
   * When > 0, σ = noiseRelative × the training features' spread (the RMS over dimensions of each
   * dimension's standard deviation, measured at fit time), so the noise keeps the same proportion to
   * the features whatever the backbone. 0 = the absolute `noiseStd` (the official behaviour).
   */
  readonly noiseRelative: number;
  /** Truncated-L1 margin: true features are pushed above +margin, fake ones below −margin ("dsc_margin"). */
  readonly margin: number;
  /** Passes over the training set (official: 160). */
  readonly epochs: number;
  /** Training mini-batch size in images. */
  readonly batchSize: number;
  /** Discriminator: Adam. */
  readonly dscLr: number;
  readonly dscWeightDecay: number;
  /** Feature adaptor: AdamW. */
  readonly adaptorLr: number;
  readonly adaptorWeightDecay: number;
  /** BatchNorm1d running-statistics momentum and epsilon (PyTorch defaults). */
  readonly bnMomentum: number;
  readonly bnEps: number;
  readonly leakySlope: number;
  readonly blurSigma: number;
  readonly seed: number;
  /** Training steps per ONNX Runtime call (ONNX Loop over stacked mini-batches when > 1). */
  readonly stepsPerCall: number;
  /** Keep all training patch features in memory when they fit in this many MB; else re-embed each step. */
  readonly featureCacheMb: number;
  /** Checkpoint file written after every epoch and resumed from when present ('' = none). */
  readonly checkpoint: string;
}

/** The official configuration trains 160 passes; the default (16) trains in a few minutes on a small CPU. */
export const SIMPLENET_OFFICIAL_EPOCHS = 160;

export const SIMPLENET_DEFAULTS: SimpleNetConfig = {
  ...PATCH_FEATURE_DEFAULTS,
  pretrainDim: 1536,
  targetDim: 1536,
  hidden: 1024,
  noiseStd: 0.015,
  noiseRelative: 0.5,
  margin: 0.5,
  epochs: 16,
  batchSize: 8,
  dscLr: 2e-4,
  dscWeightDecay: 1e-5,
  adaptorLr: 1e-4,
  adaptorWeightDecay: 0.01,
  bnMomentum: 0.1,
  bnEps: 1e-5,
  leakySlope: 0.2,
  blurSigma: 4,
  // the numbers measured so far were trained without the offset alignment
  alignOffsets: false,
  seed: 0,
  stepsPerCall: 1,
  featureCacheMb: 1024,
  checkpoint: '',
};

/** SimpleNet reads images resized with PIL-style bilinear filtering (torchvision's default). */
export function simplenetInput(c: SimpleNetConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'bilinear', resize: c.resize };
}
