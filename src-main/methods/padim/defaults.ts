import type { InputSpec, ResizeMode } from '../method.ts';

/** PaDiM settings; defaults follow the reference code (ResNet18 variant: d = 100) on this project's backbone. */
export interface PadimConfig {
  readonly backbone: string;
  /** Taps aligned to the first tap's grid by nearest replication (analogue of layer1..layer3). */
  readonly taps: readonly string[];
  readonly height: number;
  readonly width: number;
  readonly resize: ResizeMode;
  /** Number of randomly kept channels of the concatenated taps. */
  readonly channels: number;
  /** Ridge added to every covariance before inversion. */
  readonly epsilon: number;
  readonly blurSigma: number;
  readonly alignOffsets: boolean;
  readonly seed: number;
}

export const PADIM_DEFAULTS: PadimConfig = {
  backbone: 'mobilenet_v2_features',
  taps: ['feat_s4', 'feat_s8_exp', 'feat_s16_exp'],
  height: 256,
  width: 256,
  resize: 'stretch',
  channels: 100,
  epsilon: 0.01,
  blurSigma: 4,
  alignOffsets: false,
  seed: 1024,
};

/** PaDiM reads images resized with Lanczos filtering (PIL ANTIALIAS, as the reference code). */
export function padimInput(c: PadimConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'lanczos', resize: c.resize };
}
