import { beforeAll, describe, expect, it } from 'vitest';
import { backward, prune } from '../../src-main/engine/autodiff/backward.ts';
import { GradientError } from '../../src-main/engine/autodiff/emit.ts';
import { GraphBuilder, ints } from '../../src-main/engine/onnx/graph.ts';
import { openSession, ort, setSessionLogger } from '../../src-main/engine/session.ts';

beforeAll(() => setSessionLogger(() => {}));

const t64 = (v: number[], dims: number[]) => new ort.Tensor('float64', Float64Array.from(v), dims);
const sumAll = (b: GraphBuilder, x: string) => b.op('ReduceSum', [x], { keepdims: { int: 0 } });

async function gradients(b: GraphBuilder, grads: Map<string, string>, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  for (const g of grads.values()) b.output(g, 'float64');
  const s = await openSession(b.toModel(), 'cpu');
  const out = await s.run(feeds);
  await s.release();
  return Object.fromEntries([...grads].map(([w, g]) => [w, Array.from(out[g]!.data as Float64Array)]));
}

describe('prune()', () => {
  it('keeps only the nodes on a path from a wrt tensor to the loss, in topological order', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', [2]);
    const c = b.input('c', 'float64', [2]);
    const unrelated = b.op('Exp', [c]);
    const deadEnd = b.op('Log', [x]);
    const h = b.op('Tanh', [x]);
    const loss = sumAll(b, b.op('Mul', [h, unrelated]));
    const { nodes } = prune(b, loss, [x]);
    expect(nodes.map((n) => n.opType)).toEqual(['Tanh', 'Mul', 'ReduceSum']);
    expect(nodes.some((n) => n.outputs.includes(deadEnd))).toBe(false);
  });
});

describe('backward()', () => {
  it('sums the contributions of a tensor used by several nodes', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', [3]);
    const loss = sumAll(b, b.op('Add', [b.op('Mul', [x, x]), b.op('Exp', [x])]));
    const g = await gradients(b, backward(b, loss, [x]), { x: t64([0, 1, -2], [3]) });
    expect(g['x']![0]).toBeCloseTo(1, 12);
    expect(g['x']![1]).toBeCloseTo(2 + Math.E, 12);
    expect(g['x']![2]).toBeCloseTo(-4 + Math.exp(-2), 12);
  });

  it('returns zeros for a tensor the loss does not depend on', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', [2]);
    const y = b.input('y', 'float64', [2, 2]);
    const loss = sumAll(b, b.op('Exp', [x]));
    const g = await gradients(b, backward(b, loss, [x, y]), { x: t64([0, 0], [2]), y: t64([1, 2, 3, 4], [2, 2]) });
    expect(g['y']).toEqual([0, 0, 0, 0]);
    expect(g['x']).toEqual([1, 1]);
  });

  it('differentiates with respect to an intermediate tensor', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', [2]);
    const h = b.op('Exp', [x]);
    const loss = sumAll(b, b.op('Mul', [h, h]));
    const g = await gradients(b, backward(b, loss, [h]), { x: t64([0, 1], [2]) });
    expect(g[h]![0]).toBeCloseTo(2, 12);
    expect(g[h]![1]).toBeCloseTo(2 * Math.E, 12);
  });

  it('agrees across equivalent graphs: a - b and a + (-b) give the same gradients', async () => {
    const run = async (build: (b: GraphBuilder, a: string, c: string) => string) => {
      const b = new GraphBuilder();
      const [a, c] = [b.input('a', 'float64', [2, 2]), b.input('c', 'float64', [2])];
      const loss = sumAll(b, b.op('Mul', [build(b, a, c), b.op('Sin', [a])]));
      return gradients(b, backward(b, loss, [a, c]), { a: t64([1, 2, 3, 4], [2, 2]), c: t64([5, 6], [2]) });
    };
    expect(await run((b, a, c) => b.op('Sub', [a, c]))).toEqual(await run((b, a, c) => b.op('Add', [a, b.op('Neg', [c])])));
  }, 10_000);

  it('throws a GradientError naming an op without a rule', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', [2]);
    const loss = sumAll(b, b.op('Erf', [x]));
    expect(() => backward(b, loss, [x])).toThrow(GradientError);
    expect(() => backward(b, loss, [x])).toThrow(/'Erf'/);
  });

  it('refuses overlapping MaxPool windows below opset 16 (no ScatterElements reduction)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 1, 5, 5]);
    const loss = sumAll(b, b.op('MaxPool', [x], { kernel_shape: ints([3, 3]) }));
    expect(() => backward(b, loss, [x], { opset: 13 })).toThrow(GradientError);
  });

  it('asks for declared shapes when a MatMul operand rank is unknown', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32');
    const w = b.input('w', 'float32', [2, 2]);
    const loss = sumAll(b, b.op('MatMul', [x, w]));
    expect(() => backward(b, loss, [w])).toThrow(/ranks/);
  });
});
