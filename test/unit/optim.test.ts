import { beforeAll, describe, expect, it } from 'vitest';
import { backward } from '../../src-main/engine/autodiff/backward.ts';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { adam, adamw, adan, applyOptimizer, buildUpdateGraph, sgd } from '../../src-main/engine/optim/index.ts';
import { openSession, ort, setSessionLogger } from '../../src-main/engine/session.ts';

beforeAll(() => setSessionLogger(() => {}));

type Vec = Float64Array<ArrayBufferLike>;
type State = Record<string, Vec>;
type Reference = (p: Vec, g: Vec, s: State, h: Record<string, number>, t: number) => void;

const map = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

/** Plain TypeScript versions of the same updates (in place), one element at a time. */
const REFERENCES: Record<string, Reference> = {
  sgd: (p, g, s, h, t) => {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + h['weight_decay']! * p[i]!;
      s['momentum_buffer']![i] = t === 1 ? gi : h['momentum']! * s['momentum_buffer']![i]! + (1 - h['dampening']!) * gi;
      p[i]! -= h['lr']! * s['momentum_buffer']![i]!;
    }
  },
  sgd_nesterov: (p, g, s, h, t) => {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + h['weight_decay']! * p[i]!;
      const buf = (s['momentum_buffer']![i] = t === 1 ? gi : h['momentum']! * s['momentum_buffer']![i]! + (1 - h['dampening']!) * gi);
      p[i]! -= h['lr']! * (gi + h['momentum']! * buf);
    }
  },
  adam: (p, g, s, h, t) => adamReference(p, g, s, h, t, false),
  adamw: (p, g, s, h, t) => adamReference(p, g, s, h, t, true),
  adan: (p, g, s, h, t) => adanReference(p, g, s, h, t, false),
  adan_no_prox: (p, g, s, h, t) => adanReference(p, g, s, h, t, true),
};

function adamReference(p: Vec, g: Vec, s: State, h: Record<string, number>, t: number, decoupled: boolean): void {
  const [m, v] = [s['exp_avg']!, s['exp_avg_sq']!];
  for (let i = 0; i < p.length; i++) {
    if (decoupled) p[i]! *= 1 - h['lr']! * h['weight_decay']!;
    const gi = decoupled ? g[i]! : g[i]! + h['weight_decay']! * p[i]!;
    m[i] = h['beta1']! * m[i]! + (1 - h['beta1']!) * gi;
    v[i] = h['beta2']! * v[i]! + (1 - h['beta2']!) * gi * gi;
    const mHat = m[i]! / (1 - h['beta1']! ** t);
    const vHat = v[i]! / (1 - h['beta2']! ** t);
    p[i]! -= (h['lr']! * mHat) / (Math.sqrt(vHat) + h['eps']!);
  }
}

function adanReference(p: Vec, g: Vec, s: State, h: Record<string, number>, t: number, noProx: boolean): void {
  const [b1, b2, b3, lr, wd] = [h['beta1']!, h['beta2']!, h['beta3']!, h['lr']!, h['weight_decay']!];
  for (let i = 0; i < p.length; i++) {
    const d = t === 1 ? 0 : g[i]! - s['prev_grad']![i]!;
    s['exp_avg']![i] = b1 * s['exp_avg']![i]! + (1 - b1) * g[i]!;
    s['exp_avg_diff']![i] = b2 * s['exp_avg_diff']![i]! + (1 - b2) * d;
    s['exp_avg_sq']![i] = b3 * s['exp_avg_sq']![i]! + (1 - b3) * (g[i]! + b2 * d) ** 2;
    const denom = Math.sqrt(s['exp_avg_sq']![i]!) / Math.sqrt(1 - b3 ** t) + h['eps']!;
    if (noProx) p[i]! *= 1 - lr * wd;
    p[i]! -= ((lr / (1 - b1 ** t)) * s['exp_avg']![i]!) / denom + ((lr * b2) / (1 - b2 ** t)) * (s['exp_avg_diff']![i]! / denom);
    if (!noProx) p[i]! /= 1 + lr * wd;
    s['prev_grad']![i] = g[i]!;
  }
}

const HYPER: Record<string, Record<string, number>> = {
  sgd: { lr: 0.05, momentum: 0.8, dampening: 0.1, weight_decay: 0.01 },
  sgd_nesterov: { lr: 0.05, momentum: 0.8, dampening: 0, weight_decay: 0.01 },
  adam: { lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.01 },
  adamw: { lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 },
  adan: { lr: 0.05, beta1: 0.98, beta2: 0.92, beta3: 0.99, eps: 1e-8, weight_decay: 0.02 },
  adan_no_prox: { lr: 0.05, beta1: 0.98, beta2: 0.92, beta3: 0.99, eps: 1e-8, weight_decay: 0.02 },
};

// A small ill-conditioned quadratic: f(p) = 0.5 * sum(a * (p - c)^2), gradient a * (p - c).
const N = 6;
const A = map(N, (i) => 0.5 + i);
const C = map(N, (i) => Math.sin(i + 1));
const gradient = (p: Vec) => map(N, (i) => A[i]! * (p[i]! - C[i]!));

describe('optimiser update graphs against plain TypeScript references', () => {
  for (const opt of [sgd(), sgd({ nesterov: true }), adam(), adamw(), adan(), adan({ noProx: true })]) {
    it(`${opt.name} matches step by step for 25 steps on a quadratic`, async () => {
      const { graph } = buildUpdateGraph(opt, [{ name: 'p', dims: [N] }], 'float64');
      const session = await openSession(graph.toModel(), 'cpu');
      const hyper = HYPER[opt.name]!;
      const tensor = (v: Vec, dims = [N]) => new ort.Tensor('float64', v, dims);
      let p: Vec = map(N, () => 0);
      let state: State = Object.fromEntries(opt.stateKeys.map((k) => [k, map(N, () => 0)]));
      const ref = { p: map(N, () => 0), state: Object.fromEntries(opt.stateKeys.map((k) => [k, map(N, () => 0)])) as State };
      for (let t = 1; t <= 25; t++) {
        const g = gradient(p);
        const feeds: Record<string, ort.Tensor> = { p: tensor(p), 'p.grad': tensor(g), step: new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), []) };
        for (const k of opt.stateKeys) feeds[`p.${k}`] = tensor(state[k]!);
        for (const [k, v] of Object.entries(hyper)) feeds[k] = tensor(Float64Array.of(v), []);
        const out = await session.run(feeds);
        p = out['p.new']!.data as Float64Array;
        state = Object.fromEntries(opt.stateKeys.map((k) => [k, out[`p.${k}.new`]!.data as Float64Array]));
        REFERENCES[opt.name]!(ref.p, gradient(ref.p), ref.state, hyper, t);
        for (let i = 0; i < N; i++) expect(p[i]).toBeCloseTo(ref.p[i]!, 10);
        for (const k of opt.stateKeys) for (let i = 0; i < N; i++) expect(state[k]![i]).toBeCloseTo(ref.state[k]![i]!, 10);
      }
      const loss = (q: Vec) => q.reduce((s, v, i) => s + 0.5 * A[i]! * (v - C[i]!) ** 2, 0);
      expect(loss(p)).toBeLessThan(loss(map(N, () => 0)));
      await session.release();
    });
  }
});

describe('applyOptimizer() with backward() in one training-step graph', () => {
  it('minimises a least-squares problem with Adam when the step graph is run repeatedly', async () => {
    const b = new GraphBuilder('train_step');
    const w = b.input('w', 'float32', [3, 1]);
    const x = b.constF32([1, 2, 0, 1, 1, 1, -1, 0, 2, 0.5, -1, 3], [4, 3]);
    const target = b.constF32([1, 2, -1, 0.5], [4, 1]);
    const residual = b.op('Sub', [b.op('MatMul', [x, w]), target]);
    const loss = b.op('ReduceMean', [b.op('Mul', [residual, residual])], { keepdims: { int: 0 } }, 'loss');
    const grad = backward(b, loss, [w]).get(w)!;
    const opt = adam();
    const state = { exp_avg: b.input('m', 'float32', [3, 1]), exp_avg_sq: b.input('v', 'float32', [3, 1]) };
    const hyper = Object.fromEntries(Object.entries(opt.defaults).map(([k]) => [k, b.input(k, 'float32', [])]));
    const [next] = applyOptimizer(b, opt, [{ param: w, grad, state }], hyper, b.input('step', 'int64', []));
    b.output(loss, 'float32');
    for (const [name, value] of [['w_next', next!.param], ['m_next', next!.state['exp_avg']!], ['v_next', next!.state['exp_avg_sq']!]] as const) {
      b.op('Identity', [value], {}, name);
      b.output(name, 'float32');
    }
    const session = await openSession(b.toModel(), 'cpu');
    const f = (v: ArrayLike<number>, dims: number[]) => new ort.Tensor('float32', Float32Array.from(v), dims);
    type F32 = Float32Array<ArrayBufferLike>;
    let [wv, m, v]: [F32, F32, F32] = [new Float32Array(3), new Float32Array(3), new Float32Array(3)];
    const losses: number[] = [];
    for (let t = 1; t <= 300; t++) {
      const out = await session.run({
        w: f(wv, [3, 1]), m: f(m, [3, 1]), v: f(v, [3, 1]), step: new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), []),
        lr: f([0.05], []), beta1: f([0.9], []), beta2: f([0.999], []), eps: f([1e-8], []), weight_decay: f([0], []),
      });
      losses.push(Number(out['loss']!.data[0]));
      [wv, m, v] = [out['w_next']!.data as Float32Array, out['m_next']!.data as Float32Array, out['v_next']!.data as Float32Array];
    }
    // The least-squares optimum is w = [1.21687, 0.10241, 0.07831] with mean squared residual 25/166.
    expect(losses.at(-1)!).toBeCloseTo(25 / 166, 4);
    expect(Array.from(wv)).toEqual([expect.closeTo(1.21687, 3), expect.closeTo(0.10241, 3), expect.closeTo(0.07831, 3)]);
    await session.release();
  });
});
