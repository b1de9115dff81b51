import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { int8MatMul, quantiseColumns } from '../../src-main/engine/onnx/quantise.ts';
import { f32, openSession, setSessionLogger } from '../../src-main/engine/session.ts';
import { Random } from '../../src-main/util/random.ts';

beforeAll(() => setSessionLogger(() => {}));

describe('int8 matrix products', () => {
  it('quantises each weight column symmetrically: its largest magnitude becomes ±127 and every value is within half a step', () => {
    const [inC, outC] = [5, 3];
    const rng = new Random(1);
    const w = Float32Array.from({ length: inC * outC }, () => rng.uniform(-2, 2));
    for (let i = 0; i < inC; i++) w[i * outC + 2] = 0; // an all-zero column must not divide by zero
    const q = quantiseColumns(w, inC, outC);
    for (let o = 0; o < outC; o++) {
      let peak = 0;
      for (let i = 0; i < inC; i++) {
        const v = w[i * outC + o]!;
        peak = Math.max(peak, Math.abs(q.values[i * outC + o]!));
        expect(Math.abs(q.values[i * outC + o]! * q.scale[o]! - v)).toBeLessThanOrEqual(q.scale[o]! / 2 + 1e-7);
      }
      expect(peak).toBe(o === 2 ? 0 : 127);
    }
    expect(() => quantiseColumns(w, inC, outC + 1)).toThrow(RangeError);
  });

  it('x·W + b from int8 weights and dynamically quantised uint8 inputs is within the rounding bound of the float product', async () => {
    const [rows, inC, outC] = [37, 64, 24];
    const rng = new Random(2);
    const x = Float32Array.from({ length: rows * inC }, () => rng.uniform(-0.4, 1));
    const w = Float32Array.from({ length: inC * outC }, () => rng.uniform(-0.5, 0.5));
    const bias = Float32Array.from({ length: outC }, () => rng.uniform(-1, 1));
    const g = new GraphBuilder('q');
    const input = g.input('x', 'float32', ['rows', inC]);
    g.op('Identity', [int8MatMul(g, input, w, bias, inC, outC)], {}, 'y');
    g.output('y', 'float32', ['rows', outC]);
    const session = await openSession(g.toModel(17), 'cpu');
    const y = (await session.run({ x: f32(x, [rows, inC]) }))['y']!.data as Float32Array;
    await session.release();

    // DynamicQuantizeLinear: range [min(x, 0), max(x, 0)] in 255 steps; each input off by ≤ half a step
    const xStep = (Math.max(0, ...x) - Math.min(0, ...x)) / 255;
    const { scale } = quantiseColumns(w, inC, outC);
    let worstShare = 0;
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outC; o++) {
        let exact = bias[o]!;
        let bound = 1e-5;
        for (let i = 0; i < inC; i++) {
          const [xi, wi] = [x[r * inC + i]!, w[i * outC + o]!];
          exact += xi * wi;
          bound += (Math.abs(wi) * xStep) / 2 + (Math.abs(xi) * scale[o]!) / 2 + (xStep * scale[o]!) / 4;
        }
        const err = Math.abs(y[r * outC + o]! - exact);
        expect(err).toBeLessThanOrEqual(bound);
        worstShare = Math.max(worstShare, err / bound);
      }
    }
    // rounding errors mostly cancel: far inside the worst case, yet not exact (the int8 path really ran)
    expect(worstShare).toBeLessThan(0.5);
    expect(worstShare).toBeGreaterThan(0);
  });
});
