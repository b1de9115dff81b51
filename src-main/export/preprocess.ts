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
}

/**
 * Inputs image [h, w, 3] float32, rows [H, h] and cols [w, W] float64; output `input` [1, 3, H, W]
 * float32. The passes run in float64 like the station's, so the backbone input agrees to the last bit
 * (int8 heads would turn a last-bit difference into a whole quantisation step here and there).
 */
export function buildPreprocessGraph(spec: InputSpec): Uint8Array {
  const g = new GraphBuilder('argus_preprocess');
  const image = g.input('image', 'float32', ['h', 'w', 3]);
  const rows = g.input('rows', 'float64', [spec.height, 'h']);
  const cols = g.input('cols', 'float64', ['w', spec.width]);
  const f64 = (v: number) => g.initializer(g.fresh('c'), 'float64', [], Float64Array.of(v));
  const clip = (x: string) => g.op('Clip', [x, f64(0), f64(1)]);
  const planes = g.op('Cast', [g.op('Transpose', [image], { perm: ints([2, 0, 1]) })], { to: int(ONNX_DATA_TYPE.float64) });
  const horizontal = clip(g.op('MatMul', [planes, cols]));
  const vertical = clip(g.op('MatMul', [rows, horizontal]));
  g.op('Unsqueeze', [g.op('Cast', [vertical], { to: int(ONNX_DATA_TYPE.float32) }), g.constI64([0])], {}, 'input');
  g.output('input', 'float32', [1, 3, spec.height, spec.width]);
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
  "'letterbox' resizes to round(n * min(W/w, H/h)) (at least 1, at most the side) and repeats the last row and column of the matrices to fill the input. " +
  'The graph computes clip(rows · clip(image · cols)) per channel in float64 (rows and cols are float64 inputs).';
