/**
 * What a gradient rule sees, and the small graph-building helpers the rules share. Everything that
 * depends on a tensor's shape is computed at run time from `Shape` ops, so one gradient graph serves
 * every batch size and image size the forward graph accepts.
 */
import { type GraphBuilder, int, type NodeSpec } from '../onnx/graph.ts';

export type FloatType = 'float32' | 'float64';

export interface GradContext {
  readonly b: GraphBuilder;
  readonly node: NodeSpec;
  /** Upstream gradient per node output; null where no gradient flows back through that output. */
  readonly dy: readonly (string | null)[];
  /** Which inputs need a gradient (they depend on a tensor we differentiate with respect to). */
  readonly needs: readonly boolean[];
  readonly dtype: FloatType;
  /** Default-domain opset of the model the gradient nodes go into (13 or later). */
  readonly opset: number;
  /** The statically known rank of a forward tensor, if any. */
  rank(name: string): number | undefined;
}

/** One entry per node input: its gradient's name, or null (not differentiable or not needed). */
export type GradRule = (g: GradContext) => readonly (string | null)[];

export class GradientError extends Error {
  readonly code = 'GRADIENT';
}

/** A scalar constant of the gradient dtype. */
export function scalar(g: Pick<GradContext, 'b' | 'dtype'>, v: number): string {
  const data = g.dtype === 'float64' ? Float64Array.of(v) : Float32Array.of(v);
  return g.b.initializer(g.b.fresh('k'), g.dtype, [], data);
}

export const shapeOf = (b: GraphBuilder, x: string): string => b.op('Shape', [x]);

/** Shape(x)[start:end] as an int64 vector (Shape's own start/end attributes need opset 15). */
export function dimsOf(b: GraphBuilder, x: string, start: number, end = 1 << 30): string {
  return b.op('Slice', [shapeOf(b, x), b.constI64([start]), b.constI64([end])]);
}

/** Number of elements as a scalar of the gradient dtype. */
export function sizeAsFloat(g: Pick<GradContext, 'b' | 'dtype'>, x: string): string {
  return g.b.op('Cast', [g.b.op('Size', [x])], { to: int(g.dtype === 'float64' ? 11 : 1) });
}

export function castTo(g: Pick<GradContext, 'b' | 'dtype'>, x: string): string {
  return g.b.op('Cast', [x], { to: int(g.dtype === 'float64' ? 11 : 1) });
}

/** ReduceSum (axes as an input since opset 13). */
export function reduceSum(b: GraphBuilder, x: string, axes: string, keepdims: boolean, noopWhenEmpty = false): string {
  return b.op('ReduceSum', [x, axes], { keepdims: int(keepdims ? 1 : 0), noop_with_empty_axes: int(noopWhenEmpty ? 1 : 0) });
}

/**
 * Sums a broadcast gradient back to the shape of `like` (numpy broadcasting): the axes to sum are
 * found at run time by comparing Shape(grad) with Shape(like) left-padded with ones.
 */
export function reduceTo(b: GraphBuilder, grad: string, like: string): string {
  const sg = shapeOf(b, grad);
  const sl = shapeOf(b, like);
  const missing = b.op('Sub', [shapeOf(b, sg), shapeOf(b, sl)]);
  const padded = b.op('Concat', [b.op('Expand', [b.constI64([1]), missing]), sl], { axis: int(0) });
  const differs = b.op('Not', [b.op('Equal', [padded, sg])]);
  const axes = b.op('Reshape', [b.op('NonZero', [differs]), b.constI64([-1])]);
  return b.op('Reshape', [reduceSum(b, grad, axes, true, true), sl]);
}

/**
 * A [1, rows] row of ones for the [rows, C] tensor x, so that MatMul(ones, x) sums x's columns:
 * ONNX Runtime's ReduceSum over axis 0 of such a tensor is several times slower than this product.
 */
export function onesRow(b: GraphBuilder, x: string, dtype: FloatType = 'float32'): string {
  const one = { tensor: { dtype, dims: [1], data: dtype === 'float64' ? Float64Array.of(1) : Float32Array.of(1) } } as const;
  return b.op('ConstantOfShape', [b.op('Concat', [b.constI64([1]), dimsOf(b, x, 0, 1)], { axis: int(0) })], { value: one });
}

/** Column sums [1, C] of a [rows, C] tensor, with `ones` from onesRow. */
export function columnSums(b: GraphBuilder, x: string, ones: string): string {
  return b.op('MatMul', [ones, x]);
}

/** Sum of several contributions to one gradient. */
export function sumAll(b: GraphBuilder, parts: readonly string[]): string {
  return parts.length === 1 ? parts[0]! : b.op('Sum', [...parts]);
}

/**
 * Keeps `dy` where `cond` holds, zero elsewhere, as dy ⊙ float(cond): ONNX Runtime's Where takes about
 * six times as long as the Cast and Mul together on a large tensor (Sign, as a 0/1 mask, about four times).
 */
export function maskWhere(g: Pick<GradContext, 'b' | 'dtype'>, cond: string, dy: string): string {
  return g.b.op('Mul', [dy, castTo(g, cond)]);
}

/** Runs `f` only for inputs whose gradient is wanted. */
export function when(needed: boolean | undefined, f: () => string): string | null {
  return needed ? f() : null;
}

/** An int attribute with a default. */
export function intAttr(node: NodeSpec, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && 'int' in a ? a.int : fallback;
}

export function floatAttr(node: NodeSpec, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && 'float' in a ? a.float : fallback;
}

export function intsAttr(node: NodeSpec, name: string): readonly number[] | undefined {
  const a = node.attrs[name];
  return a && 'ints' in a ? a.ints : undefined;
}

export function strAttr(node: NodeSpec, name: string, fallback: string): string {
  const a = node.attrs[name];
  return a && 'string' in a ? a.string : fallback;
}

/** The node's i-th input, or undefined when absent or given as the empty name. */
export function optionalInput(node: NodeSpec, i: number): string | undefined {
  const name = node.inputs[i];
  return name ? name : undefined;
}
