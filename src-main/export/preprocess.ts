/**
 * The pre-processing of an exported model, as the station does it (datasets/loader.ts): decode to RGB
 * in [0, 1], resize with a Pillow filter computed in floating point, clipped to [0, 1] after the
 * horizontal and after the vertical pass (vision/resample.ts), planar CHW. Resizing is linear per
 * pass, so the graph takes the two passes as matrices (rows [H, h], cols [w, W]) that the runners
 * compute with Pillow's coefficient rule (preprocess.json says which filter); letterboxing repeats the
 * last row and column of those matrices, which is exactly the station's edge replication.
 */
import { GraphBuilder, int, ints, ONNX_DATA_TYPE } from '../engine/onnx/graph.ts';
import type { InputSpec } from '../methods/method.ts';
import { tileCount, type TiledModel, type TileGrid } from '../methods/tiling.ts';
import { EXPORT_OPSET } from './compose.ts';

/** preprocess.json: everything a runner needs to turn an image file into the backbone input. */
export interface PreprocessDescription {
  readonly graph: 'preprocess.onnx';
  readonly input: { readonly height: number; readonly width: number };
  readonly resize: InputSpec['resize'];
  readonly filter: InputSpec['filter'];
  readonly channelOrder: 'RGB';
  readonly decode: string;
  readonly resample: string;
  readonly normalisation: string;
  readonly backbones: ReadonlyArray<{ readonly role: string; readonly file: string; readonly input: string; readonly taps: readonly string[]; readonly normalisation: string }>;
  /** A tiled model's tiles (the graph's output is their batch), null otherwise. */
  readonly tiling: TilingDescription | null;
}

/** How a tiled model cuts its canvas (preprocess.json and manifest.json). */
export interface TilingDescription {
  readonly canvas: { readonly height: number; readonly width: number };
  readonly tileSize: number;
  /** The least overlap asked for; the tiles are spread evenly, so neighbours may share more. */
  readonly tileOverlap: number;
  readonly tiles: number;
  /** Left edges of the tile columns and top edges of the tile rows, px; tiles run row by row. */
  readonly left: readonly number[];
  readonly top: readonly number[];
  readonly rule: string;
}

export function describeTiling(model: TiledModel): TilingDescription {
  const { grid, config } = model;
  return {
    canvas: { height: config.height, width: config.width }, tileSize: grid.size, tileOverlap: config.tileOverlap, tiles: tileCount(grid), left: grid.xs, top: grid.ys,
    rule: 'preprocess.onnx outputs the tiles as one batch [tiles, 3, tileSize, tileSize]; head.onnx scores each tile with the inner model, blends the tile maps '
      + 'with linear ramps across each overlap into the canvas map and takes the score as its maximum over the picture, whose [height, width] the runner feeds as the int64 input \'content\'',
  };
}

/**
 * Inputs image [h, w, 3] float32, rows [H, h] and cols [w, W] float64; output `input` [1, 3, H, W]
 * float32, or with a tile grid the canvas's k tiles as one batch [k, 3, size, size]. The passes run in
 * float64 like the station's, so the backbone input agrees to the last bit (int8 heads would turn a
 * last-bit difference into a whole quantisation step here and there).
 */
export function buildPreprocessGraph(spec: InputSpec, grid?: TileGrid): Uint8Array {
  const g = new GraphBuilder('argus_preprocess');
  const image = g.input('image', 'float32', ['h', 'w', 3]);
  const rows = g.input('rows', 'float64', [spec.height, 'h']);
  const cols = g.input('cols', 'float64', ['w', spec.width]);
  const f64 = (v: number) => g.initializer(g.fresh('c'), 'float64', [], Float64Array.of(v));
  const clip = (x: string) => g.op('Clip', [x, f64(0), f64(1)]);
  const planes = g.op('Cast', [g.op('Transpose', [image], { perm: ints([2, 0, 1]) })], { to: int(ONNX_DATA_TYPE.float64) });
  const horizontal = clip(g.op('MatMul', [planes, cols]));
  const vertical = clip(g.op('MatMul', [rows, horizontal]));
  const canvas = g.op('Unsqueeze', [g.op('Cast', [vertical], { to: int(ONNX_DATA_TYPE.float32) }), g.constI64([0])], {}, grid ? undefined : 'input');
  if (!grid) {
    g.output('input', 'float32', [1, 3, spec.height, spec.width]);
    return g.toModel(EXPORT_OPSET);
  }
  // the tiles as cutTiles orders them: row by row
  const tiles = grid.ys.flatMap((top) => grid.xs.map((left) => g.op('Slice', [canvas, g.constI64([top, left]), g.constI64([top + grid.size, left + grid.size]), g.constI64([2, 3])])));
  g.op('Concat', tiles, { axis: int(0) }, 'input');
  g.output('input', 'float32', [tileCount(grid), 3, grid.size, grid.size]);
  return g.toModel(EXPORT_OPSET);
}

export const DECODE_RULE =
  'PNG, JPEG, TIFF or WebP, pixels in stored order (no EXIF rotation, ICC profiles ignored); 8-bit samples / 255, 16-bit / 65535; ' +
  'grey is repeated into R, G and B, alpha is dropped (not composited); BMP is read by the station but not by the runners';

export const RESAMPLE_RULE =
  "Pillow's resample coefficients in floating point: for output index d of an axis of input length n and output length m, " +
  'scale = n/m, fs = max(scale, 1), support = filter support * fs, centre = (d + 0.5) * scale, ' +
  'x from trunc(centre - support + 0.5) (at least 0) to trunc(centre + support + 0.5) (at most n), weight filter((x - centre + 0.5) / fs) normalised to sum 1 ' +
  '(supports: bilinear 1, bicubic 2 with a = -0.5, lanczos 3); nearest reads x = floor((d + 0.5) * n / m); an axis whose length does not change is the identity. ' +
  "'letterbox' and 'tile' (a tiled model's canvas is letterboxed) resize to round(n * min(W/w, H/h)) (at least 1, at most the side) and repeat the last row and column of the matrices to fill the input. " +
  'The graph computes clip(rows · clip(image · cols)) per channel in float64 (rows and cols are float64 inputs).';
