import type { InputSpec } from '../method.ts';
import { PATCH_FEATURE_DEFAULTS, type PatchFeatureConfig } from '../../features/patch-embedding.ts';

/** PatchCore settings; defaults are the official IM224 configuration mapped onto this project's backbone. */
export interface PatchCoreConfig extends PatchFeatureConfig {
  /** Fraction of all training patches kept in the memory bank. */
  readonly coresetRatio: number;
  /** Dimension of the random projection used only to pick the coreset. */
  readonly projectionDim: number;
  readonly coresetStarts: number;
  /** Patch score = mean squared distance to this many nearest memory entries. */
  readonly numNeighbours: number;
  /** Paper eq. 7 image-score re-weighting over this many neighbours; 0 = off (official code). */
  readonly reweightNeighbours: number;
  readonly blurSigma: number;
  readonly seed: number;
  /**
   * Most patch-feature rows held in memory while fitting (262,144 rows of 1024 floats: 1 GiB). A
   * training set with more patches is fitted streamed (model.ts: fitPatchCore), so fitting memory does
   * not grow with the number of training images; one with fewer is fitted exactly as before.
   */
  readonly fitMemoryRows: number;
  /**
   * Nearest-neighbour search at inference: 'exact' (certified pruned search, the official code's
   * results) or 'approximate' (nn-search.ts: searchApproximate; the anomaly map's patch values may be
   * slightly high where a neighbour is missed, the image score stays exact: model.ts scoreFeatures;
   * a tiled model's, the maximum of its stitched map, through tiling.ts certifiedMaximum).
   */
  readonly search: 'exact' | 'approximate';
}

export const PATCHCORE_DEFAULTS: PatchCoreConfig = {
  ...PATCH_FEATURE_DEFAULTS,
  pretrainDim: 1024,
  targetDim: 1024,
  coresetRatio: 0.1,
  projectionDim: 128,
  coresetStarts: 10,
  numNeighbours: 1,
  reweightNeighbours: 0,
  blurSigma: 4,
  seed: 0,
  fitMemoryRows: 262_144,
  search: 'exact',
};

/** PatchCore reads images resized with PIL-style bilinear filtering (torchvision's default). */
export function patchcoreInput(c: PatchCoreConfig): InputSpec {
  return { height: c.height, width: c.width, filter: 'bilinear', resize: c.resize };
}
