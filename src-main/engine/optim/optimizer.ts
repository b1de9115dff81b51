/**
 * Optimisers as ONNX update graphs. An optimiser emits, for one parameter, the new parameter and new
 * state from (parameter, gradient, state, hyper-parameters, step). Hyper-parameters and the step count
 * are graph inputs, so schedules change them between calls without rebuilding anything.
 */
import { type Dim, GraphBuilder, int } from '../onnx/graph.ts';

export type FloatType = 'float32' | 'float64';

export interface Slot {
  readonly param: string;
  readonly grad: string;
  /** State tensor name per state key of the optimiser (same shape as the parameter). */
  readonly state: Readonly<Record<string, string>>;
}

/** Scalar tensors the update reads: every hyper-parameter, plus `step` (1-based, as a float) and `first` (bool, step == 1). */
export type Hyper = Readonly<Record<string, string>> & { readonly step: string; readonly first: string };

export interface Updated {
  readonly param: string;
  readonly state: Readonly<Record<string, string>>;
}

export interface Optimizer {
  readonly name: string;
  /** Per-parameter state keys; each starts as zeros. */
  readonly stateKeys: readonly string[];
  /** Hyper-parameter names and their defaults. */
  readonly defaults: Readonly<Record<string, number>>;
  update(u: UpdateEmitter, slot: Slot, h: Hyper): Updated;
}

/** Arithmetic on named tensors, so update rules read like their formulas. */
export class UpdateEmitter {
  constructor(readonly b: GraphBuilder, readonly dtype: FloatType) {}
  const(v: number): string {
    return this.b.initializer(this.b.fresh('k'), this.dtype, [], this.dtype === 'float64' ? Float64Array.of(v) : Float32Array.of(v));
  }
  add = (a: string, c: string) => this.b.op('Add', [a, c]);
  sub = (a: string, c: string) => this.b.op('Sub', [a, c]);
  mul = (a: string, c: string) => this.b.op('Mul', [a, c]);
  div = (a: string, c: string) => this.b.op('Div', [a, c]);
  sqrt = (a: string) => this.b.op('Sqrt', [a]);
  pow = (a: string, c: string) => this.b.op('Pow', [a, c]);
  where = (cond: string, a: string, c: string) => this.b.op('Where', [cond, a, c]);
  /** 1 - x */
  oneMinus = (x: string) => this.sub(this.const(1), x);
  /** beta * s + (1 - beta) * x, the exponential moving average. */
  ema = (beta: string, s: string, x: string) => this.add(this.mul(beta, s), this.mul(this.oneMinus(beta), x));
}

export interface ParamSpec {
  readonly name: string;
  readonly dims: readonly Dim[];
}

/** Emits the updates of several parameters into an existing graph (e.g. a training step). */
export function applyOptimizer(b: GraphBuilder, opt: Optimizer, slots: readonly Slot[], hyper: Readonly<Record<string, string>>, stepInt64: string, dtype: FloatType = 'float32'): Updated[] {
  const u = new UpdateEmitter(b, dtype);
  const h: Hyper = {
    ...hyper,
    step: b.op('Cast', [stepInt64], { to: int(dtype === 'float64' ? 11 : 1) }),
    first: b.op('Equal', [stepInt64, b.constI64([1], [])]),
  };
  return slots.map((s) => opt.update(u, s, h));
}

export interface UpdateGraph {
  readonly graph: GraphBuilder;
  /** Input names: per parameter `<p>`, `<p>.grad`, `<p>.<state>`; then each hyper-parameter and `step` (int64 scalar). */
  readonly inputs: readonly string[];
  /** Output names: per parameter `<p>.new` and `<p>.<state>.new`. */
  readonly outputs: readonly string[];
}

/** A standalone update graph: parameters, gradients, state and hyper-parameters in; new parameters and state out. */
export function buildUpdateGraph(opt: Optimizer, params: readonly ParamSpec[], dtype: FloatType = 'float32'): UpdateGraph {
  const b = new GraphBuilder(`${opt.name}_update`);
  const slots = params.map((p) => ({
    param: b.input(p.name, dtype, p.dims),
    grad: b.input(`${p.name}.grad`, dtype, p.dims),
    state: Object.fromEntries(opt.stateKeys.map((k) => [k, b.input(`${p.name}.${k}`, dtype, p.dims)])),
  }));
  const hyper = Object.fromEntries(Object.keys(opt.defaults).map((k) => [k, b.input(k, dtype, [])]));
  const step = b.input('step', 'int64', []);
  const updated = applyOptimizer(b, opt, slots, hyper, step, dtype);
  updated.forEach((u, i) => {
    const p = params[i]!;
    b.op('Identity', [u.param], {}, `${p.name}.new`);
    b.output(`${p.name}.new`, dtype, p.dims);
    for (const k of opt.stateKeys) {
      b.op('Identity', [u.state[k]!], {}, `${p.name}.${k}.new`);
      b.output(`${p.name}.${k}.new`, dtype, p.dims);
    }
  });
  return { graph: b, inputs: b.inputs.map((i) => i.name), outputs: b.outputs.map((o) => o.name) };
}
