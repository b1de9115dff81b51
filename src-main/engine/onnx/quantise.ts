/**
 * Int8 matrix products for inference graphs: weights quantised once, symmetric per output column;
 * activations quantised per call by ONNX's DynamicQuantizeLinear (uint8, per tensor, min/max range).
 * ONNX Runtime fuses the pattern into one integer GEMM (VNNI on x86), about 2-3× the float32 rate on
 * this project's CPUs (README, "PFM and PEFM").
 */
import { f32, type Session } from '../session.ts';
import { type GraphBuilder, int } from './graph.ts';
import { concatenated } from '../../util/arrays.ts';

/**
 * Arithmetic of a model's scoring graph: 'float32', or 'int8' matrix products (below). Scores differ
 * from float32 by a fraction of a percent (README, "PFM and PEFM": metrics within ±0.1 point).
 */
export type Precision = 'float32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['float32', 'int8'];

export interface Int8Weights {
  /** [in, out], row-major, symmetric (zero point 0). */
  readonly values: Int8Array;
  /** Per output column: w ≈ values · scale. */
  readonly scale: Float32Array;
}

/** Symmetric per-column int8 quantisation of a [inC, outC] (MatMul layout) weight. */
export function quantiseColumns(weight: Float32Array, inC: number, outC: number): Int8Weights {
  if (weight.length !== inC * outC) throw new RangeError(`weight has ${weight.length} values, expected ${inC}×${outC}`);
  const scale = new Float32Array(outC);
  for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) scale[o] = Math.max(scale[o]!, Math.abs(weight[i * outC + o]!));
  for (let o = 0; o < outC; o++) scale[o] = scale[o]! > 0 ? scale[o]! / 127 : 1;
  const values = new Int8Array(inC * outC);
  for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) values[i * outC + o] = Math.round(weight[i * outC + o]! / scale[o]!);
  return { values, scale };
}

/**
 * x [rows, inC] (float) · W [inC, outC] + bias, with x quantised dynamically and W to int8: the
 * float result of the integer product, rescaled per column.
 */
export function int8MatMul(g: GraphBuilder, x: string, weight: Float32Array, bias: Float32Array | undefined, inC: number, outC: number): string {
  const q = quantiseColumns(weight, inC, outC);
  const [xq, xScale, xZero] = g.node('DynamicQuantizeLinear', [x], {}, 3) as [string, string, string];
  const product = g.op('MatMulInteger', [xq, g.initializer(g.fresh('wq'), 'int8', [inC, outC], q.values), xZero]);
  // Cast → Mul(by x scale · w scale) → Add(bias) is the pattern ONNX Runtime fuses, with the
  // quantisation, into one DynamicQuantizeMatMul
  const scale = g.op('Mul', [xScale, g.initializer(g.fresh('wscale'), 'float32', [outC], q.scale)]);
  const y = g.op('Mul', [g.op('Cast', [product], { to: int(1) }), scale]);
  return bias ? g.op('Add', [y, g.initializer(g.fresh('b'), 'float32', [outC], bias)]) : y;
}

/** One image's rows of a graph input: `rowsPerImage` rows of `channels` values per image, images in order. */
export interface ImageRows {
  readonly name: string;
  readonly data: Float32Array;
  readonly rowsPerImage: number;
  readonly channels: number;
}

/**
 * Runs `session` on n images' rows: in one call for float32, one call per image for int8, because a
 * dynamic quantisation range spans the whole tensor and would make an image's score depend on the
 * others in its batch. Returns each output's values, images concatenated in order.
 */
export async function runRows(session: Session, inputs: readonly ImageRows[], n: number, precision: Precision): Promise<Record<string, Float32Array>> {
  const feed = (from: number, count: number) =>
    Object.fromEntries(inputs.map((x) => {
      const size = x.rowsPerImage * x.channels;
      return [x.name, f32(x.data.subarray(from * size, (from + count) * size), [count * x.rowsPerImage, x.channels])];
    }));
  if (precision === 'float32' || n <= 1) {
    const out = await session.run(feed(0, n));
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
  }
  const parts: Record<string, Float32Array>[] = [];
  for (let i = 0; i < n; i++) parts.push(Object.fromEntries(Object.entries(await session.run(feed(i, 1))).map(([k, t]) => [k, t.data as Float32Array])));
  return Object.fromEntries(Object.keys(parts[0]!).map((k) => [k, concatenated(parts.map((p) => p[k]!), (n) => new Float32Array(n))]));
}
