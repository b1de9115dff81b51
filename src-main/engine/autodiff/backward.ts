/**
 * Reverse-mode differentiation of a GraphBuilder graph, micrograd style: prune to the nodes between the
 * requested tensors and the scalar loss, seed d(loss)/d(loss) = 1, walk the nodes in reverse topological
 * order asking the rule table for each node's input gradients, and sum contributions to tensors used
 * more than once. Gradient nodes are appended to the same builder.
 */
import type { GraphBuilder, NodeSpec } from '../onnx/graph.ts';
import { type FloatType, type GradContext, GradientError, type GradRule, scalar, shapeOf, sumAll } from './emit.ts';
import { lowerComposites } from './composites.ts';
import { inferRanks } from './ranks.ts';
import { GRADIENT_RULES } from './rules.ts';

export interface BackwardOptions {
  /** Float type of the loss and gradients; defaults to the declared type of the first `wrt` tensor, else float32. */
  readonly dtype?: FloatType;
  /** Default-domain opset the model will be saved with (13 or later; 16+ for overlapping MaxPool). */
  readonly opset?: number;
  /** Rule table; defaults to GRADIENT_RULES. */
  readonly rules?: Readonly<Record<string, GradRule>>;
}

/**
 * The nodes on some path from a `wrt` tensor to `loss`, in topological order, and the set of tensors
 * that depend on a `wrt` tensor.
 */
export function prune(b: GraphBuilder, loss: string, wrt: readonly string[]): { nodes: NodeSpec[]; active: Set<string> } {
  const producer = new Map<string, NodeSpec>();
  for (const n of b.nodes) for (const o of n.outputs) producer.set(o, n);
  const order: NodeSpec[] = [];
  const visited = new Set<NodeSpec>();
  const stack: [NodeSpec, boolean][] = producer.has(loss) ? [[producer.get(loss)!, false]] : [];
  while (stack.length > 0) {
    const [n, expanded] = stack.pop()!;
    if (expanded) { order.push(n); continue; }
    if (visited.has(n)) continue;
    visited.add(n);
    stack.push([n, true]);
    for (const i of n.inputs) {
      const p = producer.get(i);
      if (p && !visited.has(p)) stack.push([p, false]);
    }
  }
  const active = new Set(wrt);
  const nodes = order.filter((n) => {
    if (!n.inputs.some((i) => active.has(i))) return false;
    for (const o of n.outputs) active.add(o);
    return true;
  });
  return { nodes, active };
}

/**
 * The declared float type of the first of `names` that is a graph input or initialiser, else of the
 * first float graph input (float32 if none). Pass `dtype` explicitly for anything less obvious.
 */
function declaredFloatType(b: GraphBuilder, names: readonly string[]): FloatType {
  const declared = new Map([...b.inputs, ...b.initializers].map((v) => [v.name, v.dtype]));
  for (const n of [...names, ...b.inputs.map((i) => i.name)]) {
    const d = declared.get(n);
    if (d === 'float32' || d === 'float64') return d;
  }
  return 'float32';
}

/**
 * Appends the gradient of `loss` with respect to each `wrt` tensor; returns wrt name -> gradient name.
 * Composite ops (composites.ts) in `b` are lowered to primitives afterwards, so `b` is ready to serialise.
 */
export function backward(b: GraphBuilder, loss: string, wrt: readonly string[], options: BackwardOptions = {}): Map<string, string> {
  const rules = options.rules ?? GRADIENT_RULES;
  const opset = options.opset ?? 17;
  const ranks = inferRanks(b);
  const { nodes, active } = prune(b, loss, wrt);
  const dtype = options.dtype ?? declaredFloatType(b, [...wrt, ...nodes.flatMap((n) => n.inputs)]);

  const parts = new Map<string, string[]>();
  const add = (name: string, grad: string) => (parts.get(name) ?? parts.set(name, []).get(name)!).push(grad);
  const total = (name: string): string | null => {
    const p = parts.get(name);
    if (!p || p.length === 0) return null;
    const sum = sumAll(b, p);
    parts.set(name, [sum]);
    return sum;
  };
  if (active.has(loss)) add(loss, b.op('Expand', [scalar({ b, dtype }, 1), shapeOf(b, loss)]));

  for (const node of [...nodes].reverse()) {
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) continue;
    const rule = rules[node.opType];
    if (!rule) throw new GradientError(`no gradient rule for op '${node.opType}' (node output '${node.outputs[0]}')`);
    const ctx: GradContext = { b, node, dy, needs: node.inputs.map((i) => i !== '' && active.has(i)), dtype, opset, rank: (x) => ranks.get(x) };
    const grads = rule(ctx);
    if (grads.slice(node.inputs.length).some((g) => g !== null)) throw new GradientError(`rule for '${node.opType}' returned ${grads.length} gradients for ${node.inputs.length} inputs`);
    grads.forEach((grad, i) => {
      if (grad && ctx.needs[i]) add(node.inputs[i]!, grad);
    });
  }
  const grads = new Map(wrt.map((w) => [w, total(w) ?? b.op('Expand', [scalar({ b, dtype }, 0), shapeOf(b, w)])]));
  lowerComposites(b);
  return grads;
}
