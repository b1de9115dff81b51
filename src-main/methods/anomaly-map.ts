/**
 * Patch scores on the feature grid -> pixel anomaly map at the model input size:
 * bilinear upsampling (optionally shifted by the backbone's measured cell offset), then the
 * SciPy-style Gaussian blur (METHODS.md §1.3–1.4).
 */
import { blurredUpsample } from '../vision/index.ts';
import type { Prediction } from './method.ts';
import { mapToFloat32 } from '../util/arrays.ts';

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
  return blurredUpsample(grid, gridW, gridH, settings.width, settings.height, Math.max(0, settings.blurSigma), align);
}

/**
 * Ignore regions (labels, serial numbers, fixtures) say nothing about the part. `ignore` flags pixels
 * of the map (its width × height, 1 = ignored; the map may be the picture part of a larger model
 * input, `inputWidth` × `inputHeight`, anchored top-left). The image score is taken over the rest:
 * the worst patch whose centre is kept, for methods that score the worst patch (`grid`), else the
 * largest kept map value (the methods' own rule, restricted). Ignored pixels take the smallest kept
 * value, so no outline, defect area or hot colour lands there. With nothing kept, nothing changes.
 * A score taken over the kept pixels already (`scoreOverKept`) stays.
 */
export function ignoringRegions(
  prediction: Pick<Prediction, 'score' | 'grid' | 'scoreOverKept'>,
  map: Float32Array, width: number, height: number, ignore: Uint8Array,
  inputWidth = width, inputHeight = height,
): { score: number; map: Float32Array } {
  if (ignore.length !== width * height) throw new RangeError(`ignore mask holds ${ignore.length} values, the map ${width}x${height}`);
  let kept = -Infinity;
  let lowest = Infinity;
  for (let p = 0; p < map.length; p++) {
    if (ignore[p] !== 0) continue;
    if (map[p]! > kept) kept = map[p]!;
    if (map[p]! < lowest) lowest = map[p]!;
  }
  if (kept === -Infinity) return { score: prediction.score, map };
  let score = prediction.scoreOverKept ? prediction.score : kept;
  const grid = prediction.grid;
  if (grid && !prediction.scoreOverKept) {
    score = -Infinity;
    for (let r = 0; r < grid.height; r++) {
      const y = Math.floor(((r + 0.5) * inputHeight) / grid.height);
      for (let c = 0; c < grid.width; c++) {
        const x = Math.floor(((c + 0.5) * inputWidth) / grid.width);
        // a patch centred on the padding of a letterboxed input is not under any region of the picture
        const ignored = x < width && y < height && ignore[y * width + x] !== 0;
        if (!ignored && grid.values[r * grid.width + c]! > score) score = grid.values[r * grid.width + c]!;
      }
    }
    if (score === -Infinity) score = kept;
  }
  return { score, map: mapToFloat32(map, (v, p) => (ignore[p] !== 0 ? lowest : v)) };
}
