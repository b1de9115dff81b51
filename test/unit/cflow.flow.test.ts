import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { f32, openSession, setSessionLogger } from '../../src-main/engine/session.ts';
import type { NamedTensor } from '../../src-main/engine/training/index.ts';
import { positionEncoding, positionEncodingRows } from '../../src-main/features/position-encoding.ts';
import { CFLOW_DEFAULTS } from '../../src-main/methods/cflow/defaults.ts';
import {
  buildScoringGraph, emitFlow, emitFlowLogLikelihood, flowShape, type FlowShape, GLOBAL_SCALE_INIT, initialParams, initialRotations, paramName, rotationName,
} from '../../src-main/methods/cflow/flow.ts';
import { holdoutIndices } from '../../src-main/methods/training-scores.ts';
import { haarRotation } from '../../src-main/methods/cflow/rotation.ts';
import { learningRate } from '../../src-main/methods/cflow/schedule.ts';
import { Random } from '../../src-main/util/random.ts';
import { upsampleBilinearAlignCorners } from '../../src-main/vision/interpolate.ts';

beforeAll(() => setSessionLogger(() => {}));

const ALPHA = 1.9;

/** Parameters with γ ≠ 1 and β ≠ 0, so every term of the block matters. */
async function randomFlow(s: FlowShape, seed: number): Promise<{ params: Map<string, NamedTensor>; rotations: Map<string, NamedTensor> }> {
  const rng = new Random(seed);
  const params = initialParams(s, rng);
  for (let k = 0; k < s.blocks; k++) {
    params.set(paramName(k, 'global_scale'), { dims: [s.channels], data: Float32Array.from({ length: s.channels }, () => GLOBAL_SCALE_INIT + rng.uniform(-8, 2)) });
    params.set(paramName(k, 'global_offset'), { dims: [s.channels], data: Float32Array.from({ length: s.channels }, () => rng.uniform(-0.5, 0.5)) });
    // a larger second layer, so that the clamp's tanh is away from its linear part
    const w2 = params.get(paramName(k, 'fc2.weight'))!;
    params.set(paramName(k, 'fc2.weight'), { dims: w2.dims, data: Float32Array.from(w2.data, (v) => 20 * v) });
  }
  return { params, rotations: await initialRotations(s, rng) };
}

/** Plain float64 FrEIA AllInOneBlock chain (METHODS.md §7.3): z and Σ log|det J| of one fibre. */
function referenceFlow(s: FlowShape, w: { params: Map<string, NamedTensor>; rotations: Map<string, NamedTensor> }, x: readonly number[], c: readonly number[]): { z: number[]; logdet: number } {
  let h = [...x];
  let logdet = 0;
  for (let k = 0; k < s.blocks; k++) {
    const p = (part: Parameters<typeof paramName>[1]) => w.params.get(paramName(k, part))!.data;
    const x1 = h.slice(0, s.c1);
    const x2 = h.slice(s.c1);
    const input = [...x1, ...c];
    const hidden = Array.from({ length: s.hidden }, (_, o) => Math.max(0, p('fc1.bias')[o]! + input.reduce((a, v, i) => a + v * p('fc1.weight')[o * input.length + i]!, 0)));
    const a = Array.from({ length: 2 * s.c2 }, (_, o) => 0.1 * (p('fc2.bias')[o]! + hidden.reduce((acc, v, i) => acc + v * p('fc2.weight')[o * s.hidden + i]!, 0)));
    const sc = a.slice(0, s.c2).map((v) => ALPHA * Math.tanh(v));
    const u = [...x1, ...x2.map((v, i) => v * Math.exp(sc[i]!) + a[s.c2 + i]!)];
    const gamma = Array.from(p('global_scale'), (g) => 0.1 * 2 * Math.log(1 + Math.exp(0.5 * g)));
    const v = u.map((ui, i) => gamma[i]! * ui + p('global_offset')[i]!);
    const W = w.rotations.get(rotationName(k))!.data;
    h = Array.from({ length: s.channels }, (_, r) => v.reduce((acc, vi, j) => acc + W[r * s.channels + j]! * vi, 0));
    logdet += sc.reduce((acc, t) => acc + t, 0) + gamma.reduce((acc, g) => acc + Math.log(g), 0);
  }
  return { z: h, logdet };
}

const logLikelihood = (C: number, z: readonly number[], logdet: number) => ((-C / 2) * Math.log(2 * Math.PI) - 0.5 * z.reduce((a, v) => a + v * v, 0) + logdet) / C;

async function runFlowGraph(s: FlowShape, w: { params: Map<string, NamedTensor>; rotations: Map<string, NamedTensor> }, x: Float32Array, c: Float32Array, n: number) {
  const b = new GraphBuilder('flow_test');
  b.input('x', 'float32', [n, s.channels]);
  b.input('c', 'float32', [n, s.condition]);
  const value = (name: string) => {
    const t = w.params.get(name) ?? w.rotations.get(name)!;
    return b.initializer(b.fresh(name), 'float32', t.dims, t.data);
  };
  const { z, logdet } = emitFlow(b, s, ALPHA, 'x', 'c', value);
  const ll = emitFlowLogLikelihood(b, s, ALPHA, 'x', 'c', value);
  for (const [t, d] of [[z, [n, s.channels]], [logdet, [n]], [ll, [n]]] as const) b.output(t, 'float32', [...d]);
  const session = await openSession(b.toModel(17), 'cpu');
  const out = await session.run({ x: f32(x, [n, s.channels]), c: f32(c, [n, s.condition]) });
  await session.release();
  return { z: out[z]!.data as Float32Array, logdet: out[logdet]!.data as Float32Array, ll: out[ll]!.data as Float32Array };
}

function determinant(m: Float64Array, n: number): number {
  const a = Float64Array.from(m);
  let det = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    if (pivot !== col) {
      for (let j = 0; j < n; j++) [a[col * n + j], a[pivot * n + j]] = [a[pivot * n + j]!, a[col * n + j]!];
      det = -det;
    }
    const d = a[col * n + col]!;
    det *= d;
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col]! / d;
      for (let j = col; j < n; j++) a[r * n + j]! -= f * a[col * n + j]!;
    }
  }
  return det;
}

describe('CFLOW-AD flow graph', () => {
  it('one AllInOneBlock: forward output and log-det equal a plain float64 reference (odd C, so C1 ≠ C2)', async () => {
    const s = flowShape(7, 4, 1);
    const w = await randomFlow(s, 3);
    const n = 5;
    const rng = new Random(11);
    const x = Float32Array.from({ length: n * s.channels }, () => rng.normal());
    const c = Float32Array.from({ length: n * s.condition }, () => rng.uniform(-1, 1));
    const got = await runFlowGraph(s, w, x, c, n);
    for (let i = 0; i < n; i++) {
      const ref = referenceFlow(s, w, Array.from(x.subarray(i * 7, i * 7 + 7)), Array.from(c.subarray(i * 4, i * 4 + 4)));
      for (let j = 0; j < 7; j++) expect(got.z[i * 7 + j]!).toBeCloseTo(ref.z[j]!, 4);
      expect(got.logdet[i]!).toBeCloseTo(ref.logdet, 4);
      expect(got.ll[i]!).toBeCloseTo(logLikelihood(7, ref.z, ref.logdet), 5);
    }
  });

  it("a three-block flow's log-det equals the log |det| of its numerical Jacobian", async () => {
    const s = flowShape(4, 4, 3);
    const w = await randomFlow(s, 5);
    const x = [0.3, -1.2, 0.8, 0.1];
    const c = [0.5, -0.2, 0.9, -0.7];
    const h = 1e-6;
    const J = new Float64Array(16);
    for (let j = 0; j < 4; j++) {
      const plus = referenceFlow(s, w, x.map((v, i) => (i === j ? v + h : v)), c).z;
      const minus = referenceFlow(s, w, x.map((v, i) => (i === j ? v - h : v)), c).z;
      for (let i = 0; i < 4; i++) J[i * 4 + j] = (plus[i]! - minus[i]!) / (2 * h);
    }
    const numeric = Math.log(Math.abs(determinant(J, 4)));
    const got = await runFlowGraph(s, w, Float32Array.from(x), Float32Array.from(c), 1);
    expect(got.logdet[0]!).toBeCloseTo(numeric, 4);
    expect(referenceFlow(s, w, x, c).logdet).toBeCloseTo(numeric, 6);
  });

  it('the folded scoring graph gives the training graph’s log-likelihoods', async () => {
    const s = flowShape(6, 8, 2);
    const w = await randomFlow(s, 9);
    const cells = 3 * 4;
    const n = 2;
    const cond = positionEncodingRows(8, 3, 4);
    const rng = new Random(2);
    const x = Float32Array.from({ length: n * cells * 6 }, () => rng.normal());
    const c = new Float32Array(n * cells * 8);
    for (let r = 0; r < n * cells; r++) c.set(cond.subarray((r % cells) * 8, (r % cells + 1) * 8), r * 8);
    const expected = (await runFlowGraph(s, w, x, c, n * cells)).ll;
    const graph = await buildScoringGraph([{ input: 'tap', output: 'll', shape: s, params: w.params, rotations: w.rotations, condition: cond, cells }], ALPHA);
    const session = await openSession(graph, 'cpu');
    const got = (await session.run({ tap: f32(x, [n * cells, 6]) }))['ll']!.data as Float32Array;
    await session.release();
    for (let i = 0; i < expected.length; i++) expect(got[i]!).toBeCloseTo(expected[i]!, 4);

    // int8 products: the same log-likelihoods to within a few hundredths (per dimension), not identical
    const int8 = await openSession(await buildScoringGraph([{ input: 'tap', output: 'll', shape: s, params: w.params, rotations: w.rotations, condition: cond, cells }], ALPHA, 'int8'), 'cpu');
    const approx = (await int8.run({ tap: f32(x, [n * cells, 6]) }))['ll']!.data as Float32Array;
    await int8.release();
    const worst = Math.max(...approx.map((v, i) => Math.abs(v - expected[i]!)));
    expect(worst).toBeLessThan(0.05);
    expect(worst).toBeGreaterThan(0);
  });
});

describe('Haar rotations (FrEIA permute_soft=True)', () => {
  for (const dim of [2, 7, 150]) {
    it(`${dim}×${dim}: orthogonal with determinant +1, and the same draw from the same seed`, async () => {
      const Q = await haarRotation(dim, new Random(dim));
      let worst = 0;
      for (let i = 0; i < dim; i++) {
        for (let j = 0; j < dim; j++) {
          let dot = 0;
          for (let k = 0; k < dim; k++) dot += Q[i * dim + k]! * Q[j * dim + k]!;
          worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
        }
      }
      expect(worst).toBeLessThan(1e-5);
      expect(determinant(Float64Array.from(Q), dim)).toBeCloseTo(1, 3);
      expect(await haarRotation(dim, new Random(dim))).toEqual(Q);
    });
  }

  it('differs from block to block and is not a permutation', async () => {
    const r = await initialRotations(flowShape(6, 4, 2), new Random(1));
    const [a, b] = [r.get(rotationName(0))!.data, r.get(rotationName(1))!.data];
    expect(a).not.toEqual(b);
    expect(Array.from(a).filter((v) => Math.abs(v) > 1e-6).length).toBeGreaterThan(6);
  });
});

describe('position encoding PE(D, H, W) of METHODS.md §1.7', () => {
  it('matches the formula channel by channel, D×H×W and as rows', () => {
    const [D, H, W] = [8, 3, 5];
    const pe = positionEncoding(D, H, W);
    const rows = positionEncodingRows(D, H, W);
    const omega = (k: number) => Math.exp((-2 * k * Math.log(10000)) / (D / 2));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let k = 0; k < D / 4; k++) {
          const want = [[2 * k, Math.sin(x * omega(k))], [2 * k + 1, Math.cos(x * omega(k))], [D / 2 + 2 * k, Math.sin(y * omega(k))], [D / 2 + 2 * k + 1, Math.cos(y * omega(k))]];
          for (const [ch, v] of want) {
            expect(pe[ch! * H * W + y * W + x]!).toBeCloseTo(v!, 6);
            expect(rows[(y * W + x) * D + ch!]!).toBeCloseTo(v!, 6);
          }
        }
      }
    }
    expect(pe[0]).toBe(0); // sin(0)
    expect(pe[H * W]).toBe(1); // cos(0)
    expect(() => positionEncoding(6, 2, 2)).toThrow(/divisible by 4/);
  });
});

describe('CFLOW-AD map and schedule pieces', () => {
  it('bilinear upsampling with align_corners=True matches PyTorch F.interpolate', () => {
    const grid = Float32Array.of(1, 2, 4, 0, -1, 3);
    // torch.nn.functional.interpolate(g.view(1,1,2,3), size=(4,5), mode='bilinear', align_corners=True)
    const torch = [1, 1.5, 2, 3, 4, 0.6666666, 0.8333333, 1, 2.3333333, 3.6666665, 0.3333333, 0.1666666, 0, 1.6666666, 3.3333333, 0, -0.5, -1, 1, 3];
    const up = upsampleBilinearAlignCorners(grid, 3, 2, 5, 4);
    torch.forEach((v, i) => expect(up[i]!).toBeCloseTo(v, 5));
    expect(Array.from(upsampleBilinearAlignCorners(grid, 3, 2, 2, 1))).toEqual([1, 4]);
  });

  it('learning rate: linear warm-up from lr/10 over two meta-epochs, then the cosine per meta-epoch', () => {
    const c = { lr: 2e-4, epochs: 25, subEpochs: 8, warmupEpochs: 2 };
    const etaMin = 2e-7;
    const cos = (e: number) => etaMin + ((2e-4 - etaMin) * (1 + Math.cos((Math.PI * e) / 25))) / 2;
    expect(learningRate(c, 0, 10)).toBeCloseTo(2e-5, 12);
    expect(learningRate(c, 80, 10)).toBeCloseTo(2e-5 + 0.5 * (cos(2) - 2e-5), 12);
    expect(learningRate(c, 160, 10)).toBeCloseTo(cos(2), 12);
    expect(learningRate(c, 24 * 80 + 79, 10)).toBeCloseTo(cos(24), 12);
  });

  it('holds out about 10 % of the training images, at least three, evenly spaced and deterministic', () => {
    expect(holdoutIndices(54, CFLOW_DEFAULTS)).toEqual([5, 16, 27, 37, 48]);
    expect(holdoutIndices(120, CFLOW_DEFAULTS)).toHaveLength(12);
    expect(holdoutIndices(6, CFLOW_DEFAULTS)).toEqual([1, 3, 5]);
    expect(holdoutIndices(4, CFLOW_DEFAULTS)).toEqual([1, 3]);
    expect(holdoutIndices(1, CFLOW_DEFAULTS)).toEqual([]);
  });
});
