/**
 * `resize: 'auto'`: the input setting proposed from a product's images (their size and aspect ratio),
 * with one line saying what was chosen and why. The rule follows `npm run bench -- hard-set` (README,
 * "Native resolution"):
 * - long parts (aspect at least 2:1) are tiled with their short side at its native size, at least the
 *   method's size and at most 2.5x it, so nothing is squashed or cropped (DeepPCB strips 97.9 image
 *   AUROC tiled against 73.2 stretched) and a long part keeps the resolution a square image of its
 *   short side would (two DeepPCB boards side by side, 1280x640: 91.99 / 94.07 / 83.62 image /
 *   pixel AUROC / AUPRO at native resolution against 50.77 / 86.11 / 53.98 shrunk to 256 px);
 * - large images (short side at least 2.5x the method's size) are tiled near native resolution, the
 *   canvas's short side at 2.5x, so small defects keep their pixels (DeepPCB 640 px: 97.0 against 61.8);
 * - everything else is stretched to the method's size as the papers do (magnetic tile, aspect about
 *   1.4 and small: stretched 86.1, tiled 79.0).
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

/** Long side over short side below which stretching squashes too little to mention (at most 15 %). */
export const STRETCH_ASPECT_LIMIT = 1.15;
/** Long side over short side from which parts are tiled rather than squashed. */
export const TILE_ASPECT_LIMIT = 2;
/** Short side over the method's size from which images are tiled near native resolution (and its cap). */
export const FINE_DETAIL_SCALE = 2.5;
/** The longest canvas side a tiled model takes (longer parts are squashed to it). */
export const MAX_CANVAS_SIDE = 2048;
/**
 * What `auto` cannot see from sizes: long parts held in a fixture lie in the same place in every
 * picture, and normalising per position ranked them better in the hard-set bench (crack triples,
 * image AUROC 80.5 -> 87.3); parts that are not aligned lose a little by it.
 */
const ALIGNED_HINT = 'if every part lies in the same place in its picture, normalising per position may rank them better';
/**
 * Nor can it see hairline defects, which rank better from the part shrunk to the method's size while
 * native tiles outline them better (crack triples: 87.50 / 97.20 / 92.35 with both scales, against
 * 83.65 / 97.20 / 92.35 native only); small defects need native resolution for the score too (two
 * DeepPCB boards side by side: 91.99 native against 50.77 at a 256 px short side).
 */
const scoreSideHint = (size: number) => `for hairline defects, an image score at a ${size} px short side may rank them better`;
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
export function proposeInput(sizes: readonly ImageSize[], size: number, scoreSideChosen = false): InputProposal {
  const overlap = Math.round((size * TILING_DEFAULTS.tileOverlap) / TILING_DEFAULTS.tileSize);
  const square: InputSetting = { resize: 'stretch', height: size, width: size, tileSize: size, tileOverlap: overlap };
  if (sizes.length === 0) return { setting: square, reason: `no images to measure: stretched to ${size}x${size}, the method's own size` };
  const landscape = sizes.filter((s) => s.width > s.height).length > sizes.length / 2;
  const aspect = median(sizes.map((s) => Math.max(s.width, s.height) / Math.min(s.width, s.height)));
  const typical = `${Math.round(median(sizes.map((s) => s.width)))}x${Math.round(median(sizes.map((s) => s.height)))}`;
  const varied = new Set(sizes.map((s) => `${s.width}x${s.height}`)).size > 1 ? `, sizes vary (median ${typical})` : ` (${typical})`;
  const short = median(sizes.map((s) => Math.min(s.width, s.height)));
  const detailSide = roundToSide(size * FINE_DETAIL_SCALE);
  const tiled = (height: number, width: number, why: string, where: string): InputProposal => {
    const tiles = tileCount(tileGrid(height, width, size, overlap));
    return {
      setting: { resize: 'tile', height, width, tileSize: size, tileOverlap: overlap },
      reason: `${why}: ${tiles} tiles of ${size} px over a ${height}x${width} canvas (${where}, ${overlap} px overlap blended); about ${tiles}x the work of one ${size} px image`,
    };
  };
  const oriented = (shortSide: number): [number, number] => {
    const long = Math.min(MAX_CANVAS_SIDE, Math.max(shortSide, Math.ceil((shortSide * aspect) / SIDE_MULTIPLE) * SIDE_MULTIPLE));
    return landscape ? [shortSide, long] : [long, shortSide];
  };
  if (aspect >= TILE_ASPECT_LIMIT) {
    // native resolution between the method's size and the fine-detail cap: a long part is never shrunk
    // below what a square image of its short side would keep
    const side = Math.min(detailSide, Math.max(size, roundToSide(short)));
    const where = side === size
      ? `aspect kept, short side at the method's ${size} px, so nothing is squashed or cropped`
      : `aspect kept, short side at ${side} px (${short > detailSide ? `capped at ${FINE_DETAIL_SCALE}x the method's size` : `native ${Math.round(short)} px`}), so nothing is squashed or cropped and fine defects keep their pixels`;
    const proposal = tiled(...oriented(side), `images ${aspect.toFixed(2)}:1${varied}`, where);
    const hints = [ALIGNED_HINT, ...(side > size && !scoreSideChosen ? [scoreSideHint(size)] : [])];
    return { ...proposal, reason: `${proposal.reason}; ${hints.join('; ')}` };
  }
  if (short >= detailSide) {
    const [height, width] = oriented(detailSide);
    return tiled(height, width, `large images${varied}, short side ${Math.round(short)} px`, `short side at ${detailSide} px, so small defects keep ${Math.round((detailSide / size) * 10) / 10}x the pixels of a ${size} px stretch`);
  }
  const squash = Math.round((aspect - 1) * 100);
  return {
    setting: square,
    reason:
      aspect < STRETCH_ASPECT_LIMIT
        ? `images nearly square (aspect ${aspect.toFixed(2)}:1${varied}): stretched to ${size}x${size} as the papers, squashing them by ${squash} % at most`
        : `images ${aspect.toFixed(2)}:1${varied}, not long enough to tile: stretched to ${size}x${size} as the papers (squashed by ${squash} %; tiling such parts scored lower in the hard-set bench)`,
  };
}

/** A canvas side: a multiple of the backbones' size multiple, nearest to `px`. */
function roundToSide(px: number): number {
  return Math.max(SIDE_MULTIPLE, Math.round(px / SIDE_MULTIPLE) * SIDE_MULTIPLE);
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
  const scoreSide = config['scoreSide'];
  const { setting, reason } = proposeInput(sizes, defaults['height'] as number, typeof scoreSide === 'number' && scoreSide > 0);
  if (typeof scoreSide === 'number' && scoreSide > 0) {
    // an image score at a smaller scale needs tiles at a larger one
    if (setting.resize !== 'tile') throw new RangeError(`resize 'auto' chose to stretch these images (${reason}); an image score at a ${scoreSide} px short side goes with tiles: choose resize tile`);
    if (Math.min(setting.height, setting.width) <= scoreSide) {
      return { config: { ...config, ...setting, scoreSide: 0 }, reason: `${reason}; the image score from the map itself, whose short side is not above ${scoreSide} px` };
    }
    return { config: { ...config, ...setting }, reason: `${reason}; the image score from the part shrunk to a ${scoreSide} px short side` };
  }
  return { config: { ...config, ...setting }, reason };
}
