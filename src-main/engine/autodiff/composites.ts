/**
 * Composite ops: a node that autodiff differentiates as one unit with a hand-derived gradient, and that
 * is lowered to primitive ONNX ops before the graph is serialised (lowerComposites; backward() does it
 * for every graph it differentiates). Differentiating the primitives one by one would give a correct but
 * much longer gradient: each op's rule sums broadcasts back at run time and passes over the whole
 * activation tensor, where the fused formula needs a few passes and column sums.
 *
 * The node outputs every forward intermediate its gradient reads, so the rule refers to them by name.
 * Lowerings emit float32 (the training graphs' type).
 */
import { float, type GraphBuilder, int, type NodeSpec } from '../onnx/graph.ts';
import { columnSums, type GradContext, GradientError, floatAttr, maskWhere, onesRow, scalar } from './emit.ts';

export const COMPOSITE_DOMAIN = 'argus.composite';

export interface BatchNormReluOutputs {
  /** relu(γ · (h − μ) / sqrt(σ² + eps) + β), [rows, C]. */
  readonly y: string;
  /** Batch mean μ, [1, C]. */
  readonly mean: string;
  /** Batch (population) variance σ², [1, C]. */
  readonly variance: string;
}

/**
 * BatchNorm with batch statistics over the rows of h [rows, C] (BatchNorm2d in training mode on a 1×1
 * feature map laid out as rows), then ReLU; γ and β are [C].
 * Outputs: y, μ, σ², and for the gradient c = h − μ [rows, C] and inv = 1/sqrt(σ² + eps) [1, C].
 */
export function batchNormRelu(b: GraphBuilder, h: string, gamma: string, beta: string, eps: number): BatchNormReluOutputs {
  const [y, mean, variance] = b.node('BatchNormRelu', [h, gamma, beta], { epsilon: float(eps) }, 5, COMPOSITE_DOMAIN);
  return { y: y!, mean: mean!, variance: variance! };
}

type Lowering = (b: GraphBuilder, node: NodeSpec) => void;

/**
 * Forward: μ and σ² as column sums (a [1, rows] × [rows, C] product, several times faster in ONNX
 * Runtime than a ReduceSum over axis 0), σ² of the centred values (two passes, as PyTorch's).
 */
const lowerBatchNormRelu: Lowering = (b, node) => {
  const [h, gamma, beta] = node.inputs as [string, string, string];
  const [y, mean, variance, centred, inv] = node.outputs as [string, string, string, string, string];
  const g = { b, dtype: 'float32' as const };
  const ones = onesRow(b, h, g.dtype);
  const rows = b.op('ReduceSum', [ones], { keepdims: int(0) });
  b.op('Div', [columnSums(b, h, ones), rows], {}, mean);
  b.op('Sub', [h, mean], {}, centred);
  b.op('Div', [columnSums(b, b.op('Mul', [centred, centred]), ones), rows], {}, variance);
  b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, scalar(g, floatAttr(node, 'epsilon', 1e-5))])])], {}, inv);
  b.op('Relu', [b.op('Add', [b.op('Mul', [centred, b.op('Mul', [gamma, inv])]), beta])], {}, y);
};

/**
 * With k = γ·inv, gm = dy ⊙ [y > 0] and column sums Σ over the rows (N of them):
 *   dh = k·gm − c·(k·inv²·Σ(gm·c)/N) − k·Σgm/N,   dγ = inv·Σ(gm·c),   dβ = Σgm.
 */
export function batchNormReluGrad(g: GradContext): (string | null)[] {
  const { b, node } = g;
  if (g.dy.slice(1).some((d) => d)) throw new GradientError('BatchNormRelu: gradients through the batch statistics or intermediates are not supported');
  const dy = g.dy[0];
  if (!dy) throw new GradientError('BatchNormRelu: no upstream gradient for output 0');
  const [h, gamma] = node.inputs as [string, string, string];
  const [y, , , centred, inv] = node.outputs as [string, string, string, string, string];
  const gm = maskWhere(g, b.op('Greater', [y, scalar(g, 0)]), dy);
  const ones = onesRow(b, h, g.dtype);
  const sumGm = columnSums(b, gm, ones);
  const sumGmC = columnSums(b, b.op('Mul', [gm, centred]), ones);
  const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
  return [
    g.needs[0] ? (() => {
      const rows = b.op('ReduceSum', [ones], { keepdims: int(0) });
      const k = b.op('Mul', [gamma, inv]);
      const kOverN = b.op('Div', [k, rows]);
      const a = b.op('Neg', [b.op('Mul', [kOverN, b.op('Mul', [b.op('Mul', [inv, inv]), sumGmC])])]);
      const shift = b.op('Neg', [b.op('Mul', [kOverN, sumGm])]);
      return b.op('Sum', [b.op('Mul', [gm, k]), b.op('Mul', [centred, a]), shift]);
    })() : null,
    g.needs[1] ? flat(b.op('Mul', [sumGmC, inv])) : null,
    g.needs[2] ? flat(sumGm) : null,
  ];
}

const LOWERINGS: Readonly<Record<string, Lowering>> = { BatchNormRelu: lowerBatchNormRelu };

/** Replaces every composite node of `b` by its primitive ops, in place (node order kept). */
export function lowerComposites(b: GraphBuilder): void {
  const nodes = b.nodes.splice(0, b.nodes.length);
  for (const n of nodes) {
    if (n.domain !== COMPOSITE_DOMAIN) {
      b.nodes.push(n);
      continue;
    }
    const lower = LOWERINGS[n.opType];
    if (!lower) throw new GradientError(`no lowering for composite op '${n.opType}'`);
    lower(b, n);
  }
}
