/**
 * CFLOW-AD's conditional normalizing flow (METHODS.md §7.3) as ONNX graphs: K FrEIA AllInOneBlocks
 * (affine coupling with soft clamp α·tanh, softplus global affine, fixed Haar rotation), conditioned on
 * the position encoding, ending in the per-dimension log-likelihood ℓ of each fibre.
 *
 *  - emitFlowLogLikelihood: the differentiable forward pass on fibres [n, C] and conditions [n, P], in
 *    the parameters' own form (training; F2PAD differentiates it too);
 *  - flowTrainingModel: that pass + the −logsigmoid(ℓ) loss as a TrainableModel for engine/training;
 *  - buildScoringGraph: the same function for inference with the constants folded (below).
 *
 * One exact simplification in both: the last block's rotation is left out, since ‖W v‖ = ‖v‖ for an
 * orthogonal W and only ‖z‖² enters ℓ.
 */
import { GraphBuilder, int } from '../../engine/onnx/graph.ts';
import { matmul } from '../../engine/linalg.ts';
import { int8MatMul, type Precision } from '../../engine/onnx/quantise.ts';
import { adam } from '../../engine/optim/index.ts';
import type { NamedTensor, ParamDecl, TrainableModel } from '../../engine/training/index.ts';
import { Random } from '../../util/random.ts';
import { haarRotation } from './rotation.ts';
import { mapToFloat32 } from '../../util/arrays.ts';

export interface FlowShape {
  /** Fibre channels C. */
  readonly channels: number;
  /** Condition channels P. */
  readonly condition: number;
  readonly blocks: number;
  /** C1 = C − floor(C/2) channels pass to the subnet, C2 = floor(C/2) are transformed. */
  readonly c1: number;
  readonly c2: number;
  /** Subnet hidden width 2(C1 + P). */
  readonly hidden: number;
}

export function flowShape(channels: number, condition: number, blocks: number): FlowShape {
  const c2 = Math.floor(channels / 2);
  const c1 = channels - c2;
  return { channels, condition, blocks, c1, c2, hidden: 2 * (c1 + condition) };
}

export type BlockPart = 'fc1.weight' | 'fc1.bias' | 'fc2.weight' | 'fc2.bias' | 'global_scale' | 'global_offset';
const PARTS: readonly BlockPart[] = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'global_scale', 'global_offset'];

/** Parameter names as in FrEIA's state dict ("module_list.k.subnet.0.weight" … shortened). */
export const paramName = (k: number, part: BlockPart): string => `b${k}.${part}`;
export const rotationName = (k: number): string => `b${k}.w_perm`;

/** Shapes of every trainable parameter (PyTorch layouts: Linear weights are [out, in]). */
export function paramDims(s: FlowShape): Map<string, readonly number[]> {
  const dims = new Map<string, readonly number[]>();
  for (let k = 0; k < s.blocks; k++) {
    const part: Record<BlockPart, readonly number[]> = {
      'fc1.weight': [s.hidden, s.c1 + s.condition], 'fc1.bias': [s.hidden], 'fc2.weight': [2 * s.c2, s.hidden], 'fc2.bias': [2 * s.c2],
      global_scale: [s.channels], global_offset: [s.channels],
    };
    for (const p of PARTS) dims.set(paramName(k, p), part[p]);
  }
  return dims;
}

/** g such that γ = 0.1·softplus_{β=0.5}(g) = 1: 2·ln(e⁵ − 1). */
export const GLOBAL_SCALE_INIT = 2 * Math.log(Math.exp(5) - 1);

/** PyTorch's default Linear initialisation U(±1/sqrt(fan_in)) for weights and biases; g for γ = 1, offset 0. */
export function initialParams(s: FlowShape, rng: Random): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  const uniform = (n: number, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
  };
  for (let k = 0; k < s.blocks; k++) {
    const in1 = s.c1 + s.condition;
    out.set(paramName(k, 'fc1.weight'), { dims: [s.hidden, in1], data: uniform(s.hidden * in1, in1) });
    out.set(paramName(k, 'fc1.bias'), { dims: [s.hidden], data: uniform(s.hidden, in1) });
    out.set(paramName(k, 'fc2.weight'), { dims: [2 * s.c2, s.hidden], data: uniform(2 * s.c2 * s.hidden, s.hidden) });
    out.set(paramName(k, 'fc2.bias'), { dims: [2 * s.c2], data: uniform(2 * s.c2, s.hidden) });
    out.set(paramName(k, 'global_scale'), { dims: [s.channels], data: new Float32Array(s.channels).fill(GLOBAL_SCALE_INIT) });
    out.set(paramName(k, 'global_offset'), { dims: [s.channels], data: new Float32Array(s.channels) });
  }
  return out;
}

/** The fixed rotation of each block, drawn once at construction (stored with the model). */
export async function initialRotations(s: FlowShape, rng: Random): Promise<Map<string, NamedTensor>> {
  const out = new Map<string, NamedTensor>();
  for (let k = 0; k < s.blocks; k++) out.set(rotationName(k), { dims: [s.channels, s.channels], data: await haarRotation(s.channels, rng) });
  return out;
}

/** −(C/2)·ln 2π, the Gaussian's constant in log p(z). */
const logNormConst = (C: number) => (-C / 2) * Math.log(2 * Math.PI);

/**
 * Emits the flow's output z [n, C] and log|det ∂z/∂x| [n] for fibres `x` [n, C] and conditions `cond`
 * [n, P]. `value(name)` names the graph value of a parameter (paramName) or rotation (rotationName,
 * [C, C] as W in y = W·v); it may create initialisers on demand. With `lastRotation` false the last
 * block's rotation is left out (same ‖z‖ and log-det, see the file comment).
 */
export function emitFlow(b: GraphBuilder, s: FlowShape, clamp: number, x: string, cond: string, value: (name: string) => string, lastRotation = true): { z: string; logdet: string } {
  const k = (v: number) => b.constF32([v], []);
  const splitC = b.constI64([s.c1, s.c2]);
  const splitA = b.constI64([s.c2, s.c2]);
  let h = x;
  const logdets: string[] = [];
  for (let blk = 0; blk < s.blocks; blk++) {
    const p = (part: BlockPart) => value(paramName(blk, part));
    const [x1, x2] = b.node('Split', [h, splitC], { axis: int(1) }, 2) as [string, string];
    const hidden = b.op('Relu', [b.op('Gemm', [b.op('Concat', [x1, cond], { axis: int(1) }), p('fc1.weight'), p('fc1.bias')], { transB: int(1) })]);
    const a = b.op('Gemm', [hidden, p('fc2.weight'), p('fc2.bias')], { transB: int(1) });
    const [as, at] = b.node('Split', [a, splitA], { axis: int(1) }, 2) as [string, string];
    const sClamped = b.op('Mul', [b.op('Tanh', [b.op('Mul', [as, k(0.1)])]), k(clamp)]);
    const x2n = b.op('Add', [b.op('Mul', [x2, b.op('Exp', [sClamped])]), b.op('Mul', [at, k(0.1)])]);
    // γ = 0.1·softplus_{β=0.5}(g) = 0.2·ln(1 + exp(g/2))
    const gamma = b.op('Mul', [b.op('Softplus', [b.op('Mul', [p('global_scale'), k(0.5)])]), k(0.2)]);
    const v = b.op('Add', [b.op('Mul', [b.op('Concat', [x1, x2n], { axis: int(1) }), gamma]), p('global_offset')]);
    h = blk === s.blocks - 1 && !lastRotation ? v : b.op('Gemm', [v, value(rotationName(blk))], { transB: int(1) });
    logdets.push(b.op('ReduceSum', [sClamped, b.constI64([1])], { keepdims: int(0) }), b.op('ReduceSum', [b.op('Log', [gamma])], { keepdims: int(0) }));
  }
  let logdet = logdets[0]!;
  for (const d of logdets.slice(1)) logdet = b.op('Add', [logdet, d]);
  return { z: h, logdet };
}

/** Emits ℓ = (−(C/2)ln 2π − ½‖z‖² + log|det J|)/C, [n] (arguments as emitFlow). */
export function emitFlowLogLikelihood(b: GraphBuilder, s: FlowShape, clamp: number, x: string, cond: string, value: (name: string) => string): string {
  const k = (v: number) => b.constF32([v], []);
  const { z, logdet } = emitFlow(b, s, clamp, x, cond, value, false);
  const sq = b.op('ReduceSum', [b.op('Mul', [z, z]), b.constI64([1])], { keepdims: int(0) });
  const total = b.op('Add', [b.op('Sub', [k(logNormConst(s.channels)), b.op('Mul', [sq, k(0.5)])]), logdet]);
  return b.op('Mul', [total, k(1 / s.channels)]);
}

/** Feeds `fibers` [n, C] and `cond` [n, P]; loss mean(−logsigmoid(ℓ)) = mean(softplus(−ℓ)); one Adam. */
export function flowTrainingModel(name: string, s: FlowShape, clamp: number, lr: number, params: ReadonlyMap<string, NamedTensor>, rotations: ReadonlyMap<string, NamedTensor>): TrainableModel {
  const decls: ParamDecl[] = [...paramDims(s)].map(([n, dims]) => ({ name: n, dims, init: params.get(n)!.data, group: 'flow' }));
  return {
    name,
    params: decls,
    feeds: [{ name: 'fibers', dtype: 'float32', shape: ['n', s.channels] }, { name: 'cond', dtype: 'float32', shape: ['n', s.condition] }],
    groups: [{ name: 'flow', optimizer: adam(), hyper: { lr } }],
    forward(b: GraphBuilder) {
      const made = new Map<string, string>();
      const value = (n: string) => {
        const r = rotations.get(n);
        if (!r) return n;
        if (!made.has(n)) made.set(n, b.initializer(b.fresh(n), 'float32', r.dims, r.data));
        return made.get(n)!;
      };
      const ll = emitFlowLogLikelihood(b, s, clamp, 'fibers', 'cond', value);
      const loss = b.op('ReduceMean', [b.op('Softplus', [b.op('Neg', [ll])])], { keepdims: int(0) });
      return { loss, metrics: { loglik: b.op('ReduceMean', [ll], { keepdims: int(0) }) } };
    },
  };
}

/** One tap's flow for the scoring graph: its input name, its weights and its grid's position encoding rows. */
export interface ScoredFlow {
  readonly input: string;
  readonly output: string;
  readonly shape: FlowShape;
  readonly params: ReadonlyMap<string, NamedTensor>;
  readonly rotations: ReadonlyMap<string, NamedTensor>;
  /** PE rows [cells, P] of the tap's grid (the fibres of an image come in row-major grid order). */
  readonly condition: Float32Array;
  readonly cells: number;
}

/**
 * Scoring graph: for each flow, input [n·cells, C] → output ℓ [n·cells]. Folded (exact in real
 * arithmetic): the condition's part of the first layer, W1c·PE + b1, is a constant per grid cell
 * and block; 0.1 goes into the second layer; γ and β into the rotation (W·(γ⊙u + β) = (W diag γ) u + Wβ).
 * `precision` 'int8' runs the three products of each block (subnet layers, rotation) in int8 (quantise.ts).
 */
export async function buildScoringGraph(flows: readonly ScoredFlow[], clamp: number, precision: Precision = 'float32'): Promise<Uint8Array> {
  const g = new GraphBuilder('cflow_score');
  const k = (v: number) => g.constF32([v], []);
  /** x · Wᵀ + bias for a PyTorch-layout weight W [out, in]. */
  const linear = (x: string, w: Float32Array, out: number, inC: number, bias?: Float32Array): string => {
    if (precision === 'int8') return int8MatMul(g, x, transpose(w, out, inC), bias, inC, out);
    return g.op('Gemm', [x, g.initializer(g.fresh('w'), 'float32', [out, inC], w), ...(bias ? [g.initializer(g.fresh('b'), 'float32', [out], bias)] : [])], { transB: int(1) });
  };
  for (const f of flows) {
    const s = f.shape;
    const get = (n: string) => f.params.get(n)!.data;
    // each tap has its own fibre count
    const rows = `rows_${f.input}`;
    g.input(f.input, 'float32', [rows, s.channels]);
    const splitC = g.constI64([s.c1, s.c2]);
    const splitA = g.constI64([s.c2, s.c2]);
    const gridShape = g.constI64([-1, f.cells, s.hidden]);
    const flatShape = g.constI64([-1, s.hidden]);
    let h = f.input;
    let logdet = 0;
    const sums: string[] = [];
    for (let blk = 0; blk < s.blocks; blk++) {
      const in1 = s.c1 + s.condition;
      const w1 = get(paramName(blk, 'fc1.weight'));
      const w1x = new Float32Array(s.hidden * s.c1);
      const w1cT = new Float32Array(s.condition * s.hidden);
      for (let o = 0; o < s.hidden; o++) {
        w1x.set(w1.subarray(o * in1, o * in1 + s.c1), o * s.c1);
        for (let q = 0; q < s.condition; q++) w1cT[q * s.hidden + o] = w1[o * in1 + s.c1 + q]!;
      }
      const table = (await matmul(f.condition, [f.cells, s.condition], w1cT, [s.condition, s.hidden])).data;
      const b1 = get(paramName(blk, 'fc1.bias'));
      for (let c = 0; c < f.cells; c++) for (let o = 0; o < s.hidden; o++) table[c * s.hidden + o]! += b1[o]!;
      const [x1, x2] = g.node('Split', [h, splitC], { axis: int(1) }, 2) as [string, string];
      const pre = g.op('Reshape', [linear(x1, w1x, s.hidden, s.c1), gridShape]);
      const hidden = g.op('Relu', [g.op('Reshape', [g.op('Add', [pre, g.initializer(g.fresh('cond'), 'float32', [f.cells, s.hidden], table)]), flatShape])]);
      const w2 = mapToFloat32(get(paramName(blk, 'fc2.weight')), (v) => 0.1 * v);
      const b2 = mapToFloat32(get(paramName(blk, 'fc2.bias')), (v) => 0.1 * v);
      const a = linear(hidden, w2, 2 * s.c2, s.hidden, b2);
      const [as, at] = g.node('Split', [a, splitA], { axis: int(1) }, 2) as [string, string];
      const sClamped = g.op('Mul', [g.op('Tanh', [as]), k(clamp)]);
      const u = g.op('Concat', [x1, g.op('Add', [g.op('Mul', [x2, g.op('Exp', [sClamped])]), at])], { axis: int(1) });
      sums.push(sClamped);
      const gs = get(paramName(blk, 'global_scale'));
      const gamma = Float64Array.from(gs, (v) => 0.2 * Math.log1p(Math.exp(0.5 * v)));
      for (const v of gamma) logdet += Math.log(v);
      const beta = get(paramName(blk, 'global_offset'));
      const C = s.channels;
      if (blk === s.blocks - 1) {
        h = g.op('Add', [g.op('Mul', [u, g.constF32(Float32Array.from(gamma))]), g.constF32(beta)]);
      } else {
        const W = f.rotations.get(rotationName(blk))!.data;
        const wg = new Float32Array(C * C);
        const wb = new Float32Array(C);
        for (let i = 0; i < C; i++) {
          let acc = 0;
          for (let j = 0; j < C; j++) {
            wg[i * C + j] = W[i * C + j]! * gamma[j]!;
            acc += W[i * C + j]! * beta[j]!;
          }
          wb[i] = acc;
        }
        h = linear(u, wg, C, C, wb);
      }
    }
    const sumS = g.op('ReduceSum', [sums.length === 1 ? sums[0]! : g.op('Sum', sums), g.constI64([1])], { keepdims: int(0) });
    const sq = g.op('ReduceSum', [g.op('Mul', [h, h]), g.constI64([1])], { keepdims: int(0) });
    const total = g.op('Add', [g.op('Sub', [sumS, g.op('Mul', [sq, k(0.5)])]), k(logNormConst(s.channels) + logdet)]);
    g.op('Mul', [total, k(1 / s.channels)], {}, f.output);
    g.output(f.output, 'float32', [rows]);
  }
  return g.toModel(17);
}

/** [rows, cols] → [cols, rows]. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}
