/**
 * `resize: 'auto'`: the input setting proposed from a product's images (their size and aspect ratio),
 * with one line saying what was chosen and why. Nearly square images are stretched to the method's
 * size, as the papers do; longer ones are tiled with their short side at the method's size, so nothing
 * is squashed, nothing cropped, and the cost grows with the aspect ratio only.
 */
import { tileCount, tileGrid, TILING_DEFAULTS } from './tiling.ts';

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export interface InputSetting {
  readonly resize: 'stretch' | 'tile';
  readonly height: number;
  readonly width: number;
  readonly tileSize: number;
  readonly tileOverlap: number;
}

export interface InputProposal {
  readonly setting: InputSetting;
  readonly reason: string;
}

/** Long side over short side below which stretching squashes too little to matter (at most 15 %). */
export const STRETCH_ASPECT_LIMIT = 1.15;
/** Canvas sides are multiples of this (the backbones' size multiple). */
const SIDE_MULTIPLE = 32;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The setting for images of these sizes on a method whose own input is `size` px square.
 * Orientation follows the majority; the aspect ratio is the median of the images'.
 */
export function proposeInput(sizes: readonly ImageSize[], size: number): InputProposal {
  const overlap = Math.round((size * TILING_DEFAULTS.tileOverlap) / TILING_DEFAULTS.tileSize);
  const square: InputSetting = { resize: 'stretch', height: size, width: size, tileSize: size, tileOverlap: overlap };
  if (sizes.length === 0) return { setting: square, reason: `no images to measure: stretched to ${size}x${size}, the method's own size` };
  const landscape = sizes.filter((s) => s.width > s.height).length > sizes.length / 2;
  const aspect = median(sizes.map((s) => Math.max(s.width, s.height) / Math.min(s.width, s.height)));
  const typical = `${Math.round(median(sizes.map((s) => s.width)))}x${Math.round(median(sizes.map((s) => s.height)))}`;
  const varied = new Set(sizes.map((s) => `${s.width}x${s.height}`)).size > 1 ? `, sizes vary (median ${typical})` : ` (${typical})`;
  if (aspect < STRETCH_ASPECT_LIMIT) {
    return {
      setting: square,
      reason: `images nearly square (aspect ${aspect.toFixed(2)}:1${varied}): stretched to ${size}x${size} as the papers, squashing them by ${Math.round((aspect - 1) * 100)} % at most`,
    };
  }
  const long = Math.max(size, Math.ceil((size * aspect) / SIDE_MULTIPLE) * SIDE_MULTIPLE);
  const [height, width] = landscape ? [size, long] : [long, size];
  const tiles = tileCount(tileGrid(height, width, size, overlap));
  return {
    setting: { resize: 'tile', height, width, tileSize: size, tileOverlap: overlap },
    reason:
      `images ${aspect.toFixed(2)}:1${varied}: ${tiles} tiles of ${size} px over a ${height}x${width} canvas (aspect kept, short side at the method's ${size} px, ` +
      `${overlap} px overlap blended), so nothing is squashed or cropped; about ${tiles}x the work of one ${size} px image`,
  };
}

/**
 * A configuration with `resize: 'auto'` made concrete for images of these sizes (any other is returned
 * as it is, without a reason). `defaults` are the method's: its own input size is their height.
 */
export function resolveAutoInput<C extends Record<string, unknown>>(config: C, defaults: Readonly<Record<string, unknown>>, sizes: readonly ImageSize[]): { config: C; reason?: string } {
  if (config['resize'] !== 'auto') return { config };
  for (const key of ['height', 'width', 'tileSize', 'tileOverlap']) {
    if (key in config && config[key] !== defaults[key]) {
      throw new RangeError(`resize 'auto' chooses the input size and tiles itself; to set '${key}', choose resize stretch, letterbox or tile`);
    }
  }
  const { setting, reason } = proposeInput(sizes, defaults['height'] as number);
  return { config: { ...config, ...setting }, reason };
}
