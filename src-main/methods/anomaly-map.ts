/**
 * Patch scores on the feature grid -> pixel anomaly map at the model input size:
 * bilinear upsampling (optionally shifted by the backbone's measured cell offset), then the
 * SciPy-style Gaussian blur (METHODS.md §1.3–1.4).
 */
import { gaussianFilter, upsampleBilinear } from '../vision/index.ts';

export interface MapSettings {
  readonly height: number;
  readonly width: number;
  readonly blurSigma: number;
  readonly alignOffsets: boolean;
}

export function anomalyMapFromPatches(
  grid: Float32Array,
  gridW: number,
  gridH: number,
  settings: MapSettings,
  stride: number,
  offset: { readonly x: number; readonly y: number },
): Float32Array {
  const align = settings.alignOffsets ? { stride, offsetX: offset.x, offsetY: offset.y } : undefined;
  const up = upsampleBilinear(grid, gridW, gridH, settings.width, settings.height, align);
  return settings.blurSigma > 0 ? gaussianFilter(up, settings.width, settings.height, settings.blurSigma) : up;
}
