/**
 * The input options `argus eval` and `argus train` share: --size, --resize, --tile-size, --tile-overlap,
 * --position-norm (for aligned parts) and --score-side (long parts' image score at a smaller scale).
 */
export const RESIZE_MODES = ['stretch', 'letterbox', 'tile', 'auto'] as const;

export const INPUT_OPTIONS = {
  size: { type: 'string' },
  resize: { type: 'string' },
  'tile-size': { type: 'string' },
  'tile-overlap': { type: 'string' },
  'position-norm': { type: 'boolean' },
  'score-side': { type: 'string' },
} as const;

export const INPUT_USAGE = `  --resize <mode>       stretch (as the papers) | letterbox (keep the aspect ratio, pad) |
                        tile (letterbox into an HxW canvas scored in overlapping tiles, maps blended) |
                        auto (chosen from the images' size and aspect ratio; says what and why)
  --size <px|HxW>       input size (the canvas with tile), e.g. 256 or 256x640
  --tile-size <px>      tile side with --resize tile (default 256: the method's own input)
  --tile-overlap <px>   least overlap of neighbouring tiles (default 32; blended in the map)
  --position-norm       aligned parts: hold out a tenth of the normal images (24 to 48, at most half) and score each
                        pixel against its own normal mean and spread (needs 16 normal images)
  --score-side <px>     with tiles: the map at the canvas's resolution, the image score from the part shrunk to
                        this short side (e.g. 256 for hairline defects on long parts; both scales fitted)`;

/** '256' or '256x384' (height x width). */
function parseSize(v: string): { height: number; width: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new RangeError(`--size expects <px> or <height>x<width>, received '${v}'`);
  const height = Number(m[1]);
  return { height, width: m[2] ? Number(m[2]) : height };
}

function wholePixels(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} expects a whole number of pixels, received '${v}'`);
  return n;
}

/** The configuration keys these options set (none when absent). */
export function inputConfig(values: {
  size?: string | undefined; resize?: string | undefined; 'tile-size'?: string | undefined; 'tile-overlap'?: string | undefined; 'position-norm'?: boolean | undefined;
  'score-side'?: string | undefined;
}): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (values['position-norm']) config['positionNorm'] = true;
  if (values.size !== undefined) Object.assign(config, parseSize(values.size));
  if (values.resize !== undefined) {
    if (!(RESIZE_MODES as readonly string[]).includes(values.resize)) throw new RangeError(`--resize expects ${RESIZE_MODES.join(', ')}; received '${values.resize}'`);
    config['resize'] = values.resize;
  }
  if (values['tile-size'] !== undefined) config['tileSize'] = wholePixels('tile-size', values['tile-size']);
  if (values['tile-overlap'] !== undefined) config['tileOverlap'] = wholePixels('tile-overlap', values['tile-overlap']);
  const tiling = config['tileSize'] !== undefined || config['tileOverlap'] !== undefined;
  if (tiling && config['resize'] !== 'tile') throw new RangeError('--tile-size and --tile-overlap go with --resize tile');
  if (values['score-side'] !== undefined) {
    config['scoreSide'] = wholePixels('score-side', values['score-side']);
    if (config['resize'] === 'stretch' || config['resize'] === 'letterbox') throw new RangeError('--score-side goes with --resize tile or auto (the map from tiles at the canvas resolution)');
  }
  return config;
}
