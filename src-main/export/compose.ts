/**
 * Building blocks of an export's graphs: the station's own scoring graphs copied into one graph with
 * their parameters as initialisers, and the station's map resampling (upsampling, Gaussian blur) as
 * two matrix products read off the very functions the station calls.
 */
import { GraphBuilder } from '../engine/onnx/graph.ts';
import { importModel, type ImportedModel } from '../engine/onnx/importer.ts';
import type { ort } from '../engine/session.ts';

/** The default-domain opset of exported graphs (the station's graphs use 13 to 17). */
export const EXPORT_OPSET = 17;

export interface InlineOptions {
  /** Copy only the nodes and initialisers these outputs need; only they are returned. */
  readonly outputs?: readonly string[];
  /**
   * Name the subgraph's initialisers under this prefix instead of `prefix` and add each one once, so
   * that every inlining with the same `shared` reads the same parameters (a per-tile head stored once).
   */
  readonly shared?: string;
}

/**
 * Copies the graph `model` (serialised, or imported once for several copies) into `g`: each of its inputs reads the value named in `feeds`,
 * its own values are renamed under `prefix`. Returns its outputs' new names by original name.
 */
export function inlineGraph(g: GraphBuilder, model: Uint8Array | ImportedModel, feeds: Readonly<Record<string, string>>, prefix: string, options: InlineOptions = {}): Record<string, string> {
  const { graph: sub, opset, otherOpsets } = model instanceof Uint8Array ? importModel(model) : model;
  if (opset > EXPORT_OPSET) throw new RangeError(`graph '${sub.name}' needs opset ${opset}; exports are written at opset ${EXPORT_OPSET}`);
  if (otherOpsets.length > 0) throw new RangeError(`graph '${sub.name}' uses operator domains (${otherOpsets.map((o) => o.domain).join(', ')}) an export does not write`);
  const outputs = options.outputs ?? sub.outputs.map((o) => o.name);
  for (const o of outputs) if (!sub.outputs.some((x) => x.name === o)) throw new RangeError(`graph '${sub.name}' has no output '${o}'`);
  const needed = new Set(outputs);
  const nodes = [...sub.nodes].reverse().filter((n) => {
    if (!n.outputs.some((o) => needed.has(o))) return false;
    for (const i of n.inputs) needed.add(i);
    return true;
  }).reverse();
  const renamed = new Map<string, string>();
  for (const input of sub.inputs) {
    const fed = feeds[input.name];
    if (fed === undefined) throw new RangeError(`graph '${sub.name}' input '${input.name}' has no value to read`);
    renamed.set(input.name, fed);
  }
  const name = (n: string): string => {
    if (n === '') return n; // an omitted optional input
    let r = renamed.get(n);
    if (r === undefined) {
      r = `${prefix}/${n}`;
      renamed.set(n, r);
    }
    return r;
  };
  const present = options.shared === undefined ? undefined : new Set(g.initializers.map((t) => t.name));
  for (const t of sub.initializers) {
    if (!needed.has(t.name)) continue;
    if (present === undefined) {
      g.initializer(name(t.name), t.dtype, t.dims, t.data);
      continue;
    }
    const shared = `${options.shared}/${t.name}`;
    renamed.set(t.name, shared);
    if (!present.has(shared)) g.initializer(shared, t.dtype, t.dims, t.data);
  }
  for (const n of nodes) {
    if (Object.values(n.attrs).some((a) => 'graph' in a)) throw new RangeError(`graph '${sub.name}': node ${n.opType} has a subgraph, which inlining does not rename`);
    g.node(n.opType, n.inputs.map(name), n.attrs, n.outputs.map(name), n.domain);
  }
  return Object.fromEntries(outputs.map((o) => [o, name(o)]));
}

/** An ONNX Runtime float32 tensor as an initialiser of `g`. */
export function constantOf(g: GraphBuilder, prefix: string, t: ort.Tensor): string {
  return g.initializer(g.fresh(prefix), 'float32', t.dims, t.data as Float32Array);
}

/** A function from a grid of patch values (gridW × gridH, row-major) to a map at the model's input size. */
export type MapFunction = (grid: Float32Array, gridW: number, gridH: number) => Float32Array;

/**
 * The map functions of the station (bilinear upsampling, optionally with cell offsets, then a
 * separable Gaussian blur) are separable linear maps: map = A_y · grid · A_xᵀ. The columns of A_y and
 * A_x are the function's answers to unit grids one cell wide or high, so the matrices are the
 * station's own arithmetic, not a re-implementation of it.
 */
export function separableOperator(fn: MapFunction, gridH: number, gridW: number, height: number, width: number): { rows: Float32Array; colsT: Float32Array } {
  const rows = new Float32Array(height * gridH);
  for (let r = 0; r < gridH; r++) {
    const unit = new Float32Array(gridH);
    unit[r] = 1;
    const out = fn(unit, 1, gridH);
    for (let y = 0; y < height; y++) rows[y * gridH + r] = out[y * width]!;
  }
  const colsT = new Float32Array(gridW * width);
  for (let c = 0; c < gridW; c++) {
    const unit = new Float32Array(gridW);
    unit[c] = 1;
    colsT.set(fn(unit, gridW, 1).subarray(0, width), c * width);
  }
  return { rows, colsT };
}

/** `grid` [1, gridH, gridW] → [1, height, width] through the separable form of `fn`. */
export function mapFromGrid(g: GraphBuilder, grid: string, fn: MapFunction, gridH: number, gridW: number, height: number, width: number): string {
  const { rows, colsT } = separableOperator(fn, gridH, gridW, height, width);
  const right = g.op('MatMul', [grid, g.initializer(g.fresh('map_cols'), 'float32', [gridW, width], colsT)]);
  return g.op('MatMul', [g.initializer(g.fresh('map_rows'), 'float32', [height, gridH], rows), right]);
}

/** The largest value of a tensor, as a [1] tensor. */
export function maxOf(g: GraphBuilder, x: string): string {
  return g.op('Reshape', [g.op('ReduceMax', [g.op('Reshape', [x, g.constI64([-1])])], { keepdims: { int: 0 } }), g.constI64([1])]);
}

/** NCHW [1, C, h, w] → rows [h·w, C] (row-major grid order, the station's fibre layout). */
export function toRows(g: GraphBuilder, x: string, channels: number): string {
  return g.op('Reshape', [g.op('Transpose', [x], { perm: { ints: [0, 2, 3, 1] } }), g.constI64([-1, channels])]);
}
