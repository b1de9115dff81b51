/**
 * Graph plumbing shared by the F2PAD objective graphs: the frozen backbone imported in front of our own
 * nodes, a stop-gradient "argmin one-hot", and the extra gradient rules those need.
 */
import { GraphBuilder, int, ints } from '../engine/onnx/graph.ts';
import { importModel } from '../engine/onnx/importer.ts';
import { GRADIENT_RULES, type GradRule } from '../engine/autodiff/index.ts';
import { backbonePath } from '../features/backbones.ts';

/** Opset of the project's backbones (all exported at 13); every refinement graph is saved with it. */
export const REFINE_OPSET = 13;

/**
 * Rules for the non-differentiable selection ops our graphs use (Equal / Cast of a one-hot, ReduceMin
 * feeding only an Equal): their outputs are piecewise constant, so they pass no gradient. Local to the
 * refinement graphs; the shared rule table is not touched.
 */
export const REFINE_RULES: Readonly<Record<string, GradRule>> = {
  ...GRADIENT_RULES,
  Equal: () => [null, null],
  Cast: () => [null],
  ReduceMin: () => [null],
  // Gather along axis 0 with distinct indices (the positions a data term counts): scatter back into zeros
  Gather: (g) => {
    const axis = g.node.attrs['axis'];
    if (axis && 'int' in axis && axis.int !== 0) throw new Error('refinement Gather rule: only axis 0');
    const [x, indices] = g.node.inputs;
    const zero = { tensor: { dtype: g.dtype, dims: [1], data: g.dtype === 'float64' ? Float64Array.of(0) : Float32Array.of(0) } } as const;
    const zeros = g.b.op('ConstantOfShape', [g.b.op('Shape', [x!])], { value: zero });
    return [g.needs[0] ? g.b.op('ScatterND', [zeros, g.b.op('Unsqueeze', [indices!, g.b.constI64([1])]), g.dy[0]!]) : null, null];
  },
};

/**
 * Copies the backbone's nodes and weights into `g`, after the nodes already there, keeping only what
 * the requested taps need. The backbone's image input must already be produced in `g` under `imageName`.
 */
export function appendBackbone(g: GraphBuilder, backboneId: string, taps: readonly string[], imageName: string): Record<string, string> {
  const { graph: bb, opset } = importModel(backbonePath(backboneId));
  if (opset > REFINE_OPSET) throw new RangeError(`backbone '${backboneId}' uses opset ${opset}; refinement graphs are built at ${REFINE_OPSET}`);
  const inputName = bb.inputs[0]!.name;
  const producer = new Map<string, (typeof bb.nodes)[number]>();
  for (const n of bb.nodes) for (const o of n.outputs) producer.set(o, n);
  const needed = new Set<(typeof bb.nodes)[number]>();
  const stack = [...taps];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const p = producer.get(t);
    if (!p || needed.has(p)) continue;
    needed.add(p);
    stack.push(...p.inputs);
  }
  const usedInputs = new Set<string>();
  for (const n of bb.nodes) if (needed.has(n)) for (const i of n.inputs) usedInputs.add(i);
  const prefix = 'bb_';
  const rename = (name: string) => (name === inputName ? imageName : name === '' ? '' : prefix + name);
  for (const init of bb.initializers) if (usedInputs.has(init.name)) g.initializer(rename(init.name), init.dtype, init.dims, init.data);
  for (const n of bb.nodes) {
    if (!needed.has(n)) continue;
    g.node(n.opType, n.inputs.map(rename), n.attrs as Record<string, never>, n.outputs.map(rename), n.domain);
  }
  return Object.fromEntries(taps.map((t) => [t, rename(t)]));
}

/** min over `axis` of x, as Σ x·onehot(argmin) so that the gradient flows to the minimising entry only. */
export function minAlong(g: GraphBuilder, x: string, axis: number): string {
  const m = g.op('ReduceMin', [x], { axes: ints([axis]), keepdims: int(1) });
  const hot = g.op('Cast', [g.op('Equal', [x, m])], { to: int(1) });
  // ties (exact equality of two candidates) would double-count; divide by the number of minima
  const count = g.op('ReduceSum', [hot, g.constI64([axis])], { keepdims: int(0) });
  const sum = g.op('ReduceSum', [g.op('Mul', [x, hot]), g.constI64([axis])], { keepdims: int(0) });
  return g.op('Div', [sum, count]);
}

/** A float32 scalar constant. */
export function k(g: GraphBuilder, v: number): string {
  return g.initializer(g.fresh('k'), 'float32', [], Float32Array.of(v));
}

export const sumAll = (g: GraphBuilder, x: string): string => g.op('ReduceSum', [x], { keepdims: int(0) });
export const sq = (g: GraphBuilder, x: string): string => g.op('Mul', [x, x]);

/**
 * Drops initialisers no node or output reads (backward() emits a few shape constants it ends up not
 * using; ONNX Runtime would warn about each).
 */
export function dropUnusedInitializers(g: GraphBuilder): GraphBuilder {
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const i of n.inputs) used.add(i);
  for (let i = g.initializers.length - 1; i >= 0; i--) if (!used.has(g.initializers[i]!.name)) g.initializers.splice(i, 1);
  return g;
}
