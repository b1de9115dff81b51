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
  /**
   * Which channels: explicit indices into the taps' concatenation, or 'seeded' to draw `channels`
   * of them with `seed`. The default is the reference implementation's draw, so results compare.
   */
  readonly channelIndices: readonly number[] | 'seeded';
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
  channelIndices: referenceChannels(),
  epsilon: 0.01,
  blurSigma: 4,
  alignOffsets: true,
  seed: 1024,
};

/** PaDiM reads images resized with Lanczos filtering (PIL ANTIALIAS, as the reference code). */
export function padimInput(c: PadimConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'lanczos', resize: c.resize };
}

/**
 * The reference PaDiM code's channel draw for 24 + 192 + 576 = 792 channels, d = 100:
 * Python `random.seed(1024); random.sample(range(0, 792), 100)` (computed once with CPython 3.11;
 * Python's Mersenne Twister is not re-implemented here).
 */
function referenceChannels(): readonly number[] {
  return [
    19, 495, 398, 330, 532, 102, 455, 525, 374, 739, 733, 377, 397, 98, 728, 762, 143, 789, 104, 419, 158, 446, 485, 456, 752,
    537, 355, 631, 622, 90, 36, 85, 651, 84, 773, 370, 705, 342, 3, 379, 308, 186, 138, 163, 774, 292, 164, 93, 234, 596, 123,
    470, 698, 575, 24, 714, 420, 22, 21, 252, 771, 341, 352, 472, 625, 178, 562, 708, 436, 62, 68, 392, 100, 610, 747, 191,
    219, 35, 716, 632, 673, 338, 751, 735, 475, 528, 758, 636, 371, 97, 262, 39, 71, 611, 750, 128, 542, 497, 331, 434,
  ];
}
