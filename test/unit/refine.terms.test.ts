import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { backward } from '../../src-main/engine/autodiff/index.ts';
import { f32, openSession, setSessionLogger, type Session } from '../../src-main/engine/session.ts';
import { pixelTerms, SOLVER_CONSTANTS } from '../../src-main/refine/objective.ts';
import { REFINE_OPSET, REFINE_RULES } from '../../src-main/refine/graph-util.ts';
import { fitMixture } from '../../src-main/refine/prior.ts';
import { Random } from '../../src-main/util/random.ts';

const H = 6;
const W = 7;
const N = 3 * H * W;

beforeAll(() => setSessionLogger(() => {}));

/** loss = Σ_t w_t · term_t(A) with the pixel terms of the refinement graph, and its gradient wrt A. */
async function termsSession(): Promise<{ session: Session; loss: string; grad: string }> {
  const rng = new Random(1);
  const pixels = Float64Array.from({ length: 600 * 3 }, (_, i) => (Math.floor(i / 3) % 2 ? 0.7 : 0.3) + 0.05 * rng.normal());
  const prior = fitMixture(pixels, { k: 2 });
  const g = new GraphBuilder('terms');
  const a = g.input('a', 'float32', [1, 3, H, W]);
  const x = g.input('x', 'float32', [1, 3, H, W]);
  const region = g.input('region', 'float32', [1, 1, H, W]);
  const w = ['w_sparsity', 'w_mog', 'w_tv', 'w_range'].map((n) => g.input(n, 'float32', []));
  const y = g.op('Sub', [x, g.op('Mul', [a, region])]);
  const t = pixelTerms(g, a, y, region, prior, SOLVER_CONSTANTS);
  const parts = [t.sparsity, t.mog, t.tv, t.range].map((p, i) => g.op('Mul', [w[i]!, p]));
  const loss = parts.reduce((s, p) => g.op('Add', [s, p]));
  const grad = backward(g, loss, [a], { opset: REFINE_OPSET, rules: REFINE_RULES }).get(a)!;
  g.output(loss, 'float32', []);
  g.output(grad, 'float32', [1, 3, H, W]);
  return { session: await openSession(g.toModel(REFINE_OPSET), 'cpu'), loss, grad };
}

describe('F2PAD pixel terms through the graph', () => {
  it('LOG sparsity, TV, MoG and range gradients match central differences', async () => {
    const { session, loss, grad } = await termsSession();
    const rng = new Random(9);
    // anomaly entries away from 0 (the LOG kink), image values in and slightly out of [0, 1]
    const a = Float32Array.from({ length: N }, () => (rng.next() < 0.5 ? -1 : 1) * (0.05 + 0.3 * rng.next()));
    const x = Float32Array.from({ length: N }, () => -0.1 + 1.2 * rng.next());
    const region = Float32Array.from({ length: H * W }, (_, i) => (i % 5 === 0 ? 0 : 1));
    for (const [name, weights] of [['sparsity', [1, 0, 0, 0]], ['mog', [0, 1, 0, 0]], ['tv', [0, 0, 1, 0]], ['range', [0, 0, 0, 1]]] as const) {
      const feeds = (av: Float32Array) => ({
        a: f32(av, [1, 3, H, W]),
        x: f32(x, [1, 3, H, W]),
        region: f32(region, [1, 1, H, W]),
        w_sparsity: f32(Float32Array.of(weights[0]), []),
        w_mog: f32(Float32Array.of(weights[1]), []),
        w_tv: f32(Float32Array.of(weights[2]), []),
        w_range: f32(Float32Array.of(weights[3]), []),
      });
      const out = await session.run(feeds(a), [loss, grad]);
      const g = out[grad]!.data as Float32Array;
      const scale = Math.max(...Array.from(g, Math.abs));
      expect(scale, name).toBeGreaterThan(0);
      const at = async (v: Float32Array) => Number((await session.run(feeds(v), [loss]))[loss]!.data[0]);
      const h = 2e-3;
      for (let trial = 0; trial < 10; trial++) {
        const i = rng.int(N);
        const plus = a.slice();
        const minus = a.slice();
        plus[i]! += h;
        minus[i]! -= h;
        const numeric = ((await at(plus)) - (await at(minus))) / (2 * h);
        expect(Math.abs(numeric - g[i]!), `${name} entry ${i}: analytic ${g[i]} numeric ${numeric}`).toBeLessThan(0.03 * Math.abs(numeric) + 2e-3 * scale);
      }
      // outside the region A has no effect at all
      for (let p = 0; p < H * W; p += 5) for (let c = 0; c < 3; c++) expect(Math.abs(g[c * H * W + p]!)).toBe(0);
    }
    await session.release();
  });
});
