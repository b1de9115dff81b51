import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { backward } from '../../src-main/engine/autodiff/index.ts';
import { f32, openSession, setSessionLogger, type Session } from '../../src-main/engine/session.ts';
import { pixelTerms, SOLVER_CONSTANTS } from '../../src-main/refine/objective.ts';
import { appendBackbone, dropUnusedInitializers, REFINE_OPSET, REFINE_RULES } from '../../src-main/refine/graph-util.ts';
import { CflowTerm } from '../../src-main/refine/data-terms.ts';
import { CFLOW_DEFAULTS, type CflowConfig } from '../../src-main/methods/cflow/defaults.ts';
import { flowShape, initialParams, initialRotations } from '../../src-main/methods/cflow/flow.ts';
import { CflowModel, tapGrids, toRows } from '../../src-main/methods/cflow/model.ts';
import { Backbone } from '../../src-main/features/extractor.ts';
import { positionEncodingRows } from '../../src-main/features/position-encoding.ts';
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

describe('F2PAD CFLOW-AD data term (randomly initialised flows, real mobilenet_v2_full)', () => {
  // 128 px model grid (16², 8², 4² cells); a 64 px crop at (32, 32), i.e. full-grid cells offset by 4, 2, 1
  const config: CflowConfig = { ...CFLOW_DEFAULTS, height: 128, width: 128, blocks: 2, condition: 16 };
  const crop = { x0: 32, y0: 32, x1: 96, y1: 96 };
  const S = 64;
  let model: CflowModel;
  let term: CflowTerm;

  beforeAll(async () => {
    const backbone = await Backbone.open(config.backbone);
    const grids = tapGrids(backbone, config);
    const flows = await Promise.all(grids.map(async (grid, t) => {
      const shape = flowShape(grid.channels, config.condition, config.blocks);
      const params = initialParams(shape, new Random(10 + t));
      // non-trivial global affine so that every parameter kind shapes the gradient
      for (const [name, v] of params) if (name.endsWith('global_offset')) v.data.forEach((_, i) => (v.data[i] = 0.1 * Math.sin(i)));
      return { params, rotations: await initialRotations(shape, new Random(20 + t)) };
    }));
    model = await CflowModel.create(config, flows, undefined, backbone);
    // maxℓ per tap at the mean ℓ of a smooth image, so that the softplus works in its curved part
    const image = smoothImage(128, 128, 0);
    const out = await backbone.run({ data: image, n: 1, height: 128, width: 128 }, config.taps);
    const rows = model.grids.map((g) => toRows(out[g.name]!.data as Float32Array, 1, g.channels, g.gridH * g.gridW));
    const ll = await model.logLikelihoods(rows, 1);
    model.normalisation = { maxLogLikelihood: Object.fromEntries(config.taps.map((t, i) => [t, ll[i]!.reduce((a, v) => a + v, 0) / ll[i]!.length])), maxProbability: 3, images: 1, heldOut: false };
    term = new CflowTerm(model);
  }, 60_000);

  /** data term L(x) for a crop of `size` px with `feeds`, and dL/dx. */
  async function termSession(size: number): Promise<{ session: Session; loss: string; grad: string }> {
    const g = new GraphBuilder('cflow_term');
    const x = g.input('x', 'float32', [1, 3, size, size]);
    const y = g.op('Identity', [x]);
    const loss = term.score(g, appendBackbone(g, term.backbone, term.taps, y));
    const grad = backward(g, loss, [x], { opset: REFINE_OPSET, rules: REFINE_RULES }).get(x)!;
    g.output(loss, 'float32', []);
    g.output(grad, 'float32', [1, 3, size, size]);
    return { session: await openSession(dropUnusedInitializers(g).toModel(REFINE_OPSET), 'cpu'), loss, grad };
  }

  it('counts cells per tap on its own grid and conditions them on their full-image positions', () => {
    // only the crop's middle 16×16 px (full image 56..72) is near: every tap counts the cells whose centre is there
    const near = new Uint8Array(128 * 128);
    for (let yy = 56; yy < 72; yy++) for (let xx = 56; xx < 72; xx++) near[yy * 128 + xx] = 1;
    const { feeds, positions, counted } = term.cropFeeds(crop, near, 128, 128);
    expect(positions.map((p) => p.length)).toEqual([4, 1, 1]);
    const full = model.grids.map((grid) => positionEncodingRows(config.condition, grid.gridH, grid.gridW));
    model.grids.forEach((grid, t) => {
      const s = 128 / grid.gridW;
      const gw = S / s;
      const cond = feeds[`cond.${grid.name}`]!.data as Float32Array;
      positions[t]!.forEach((p, q) => {
        const row = (crop.y0 / s + Math.floor(p / gw)) * grid.gridW + crop.x0 / s + (p % gw);
        expect(Array.from(cond.subarray(q * config.condition, (q + 1) * config.condition))).toEqual(Array.from(full[t]!.subarray(row * config.condition, (row + 1) * config.condition)));
      });
      // the crop's own grid would give other rows (the condition is not the crop's)
      expect(Array.from(cond.subarray(0, config.condition))).not.toEqual(Array.from(full[t]!.subarray(positions[t]![0]! * config.condition, (positions[t]![0]! + 1) * config.condition)));
    });
    expect(counted).toBeCloseTo((4 * 1 + 1 * 4 + 1 * 16) / 3, 6);
  });

  it('equals Σ_t w_t Σ softplus(maxℓ_t − ℓ) of the model’s own scoring graph on the whole image', async () => {
    const { session, loss } = await termSession(128);
    const image = smoothImage(128, 128, 1);
    const { feeds } = term.cropFeeds({ x0: 0, y0: 0, x1: 128, y1: 128 }, new Uint8Array(128 * 128).fill(1), 128, 128);
    const value = Number((await session.run({ x: f32(image, [1, 3, 128, 128]), data_scale: f32(Float32Array.of(1), []), ...feeds }, [loss]))[loss]!.data[0]);
    const backbone = await Backbone.open(config.backbone);
    const out = await backbone.run({ data: image, n: 1, height: 128, width: 128 }, config.taps);
    const ll = await model.logLikelihoods(model.grids.map((g) => toRows(out[g.name]!.data as Float32Array, 1, g.channels, g.gridH * g.gridW)), 1);
    let expected = 0;
    ll.forEach((l, t) => l.forEach((v) => (expected += term.weights[t]! * Math.log1p(Math.exp(term.maxLogLikelihood[t]! - v)))));
    expect(Math.abs(value - expected)).toBeLessThan(1e-4 * Math.abs(expected));
    await session.release();
  }, 60_000);

  it('its gradient wrt the image, through the flows and the frozen backbone, matches finite differences', async () => {
    const { session, loss, grad } = await termSession(S);
    const near = new Uint8Array(128 * 128);
    for (let yy = 40; yy < 88; yy++) for (let xx = 48; xx < 80; xx++) near[yy * 128 + xx] = 1;
    const { feeds } = term.cropFeeds(crop, near, 128, 128);
    const image = smoothImage(S, S, 2);
    const run = async (img: Float32Array, outputs: string[]) => session.run({ x: f32(img, [1, 3, S, S]), data_scale: f32(Float32Array.of(1), []), ...feeds }, outputs);
    const lossAt = async (img: Float32Array) => Number((await run(img, [loss]))[loss]!.data[0]);
    const g = (await run(image, [grad]))[grad]!.data as Float32Array;
    const scale = Math.max(...Array.from(g, Math.abs));
    expect(scale).toBeGreaterThan(0);
    const random = new Random(5);
    // The backbone (ReLU6 = Clip) and the flows' subnets (ReLU) are piecewise smooth: a difference
    // quotient whose interval holds a kink is off by the jump in slope. The gradient at x equals the
    // one-sided derivative of any side without a kink, so each check takes the closest of the central,
    // forward and backward quotients at two steps (float32 losses of ~20 resolve about 1 % at these).
    const closest = async (perturbed: (t: number) => Float32Array, l0: number, analytic: number, steps: readonly number[]) => {
      let best = Infinity;
      let seen = '';
      for (const t of steps) {
        const up = await lossAt(perturbed(t));
        const down = await lossAt(perturbed(-t));
        for (const q of [(up - down) / (2 * t), (up - l0) / t, (l0 - down) / t]) {
          best = Math.min(best, Math.abs(q - analytic));
          seen += ` ${q.toFixed(4)}`;
        }
      }
      return { error: best, seen };
    };
    const l0 = await lossAt(image);
    // single pixels where the gradient is large (near the counted cells)
    const ranked = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!));
    for (let trial = 0; trial < 8; trial++) {
      const p = ranked[random.int(200)]!;
      const { error, seen } = await closest((t) => {
        const v = image.slice();
        v[p]! += t;
        return v;
      }, l0, g[p]!, [1e-4, 3e-4]);
      expect(error, `pixel ${p}: analytic ${g[p]} vs quotients${seen}`).toBeLessThan(0.03 * Math.abs(g[p]!) + 0.01 * scale);
    }
    // a random direction over a 16 × 16 px patch (3 channels) centred on the counted cells
    const direction = new Float32Array(image.length);
    for (let c = 0; c < 3; c++) for (let yy = 24; yy < 40; yy++) for (let xx = 24; xx < 40; xx++) direction[c * S * S + yy * S + xx] = 2 * random.next() - 1;
    const analytic = g.reduce((sum, v, i) => sum + v * direction[i]!, 0);
    const { error, seen } = await closest((t) => Float32Array.from(image, (v, i) => v + t * direction[i]!), l0, analytic, [1e-5, 3e-5]);
    expect(Math.abs(analytic)).toBeGreaterThan(0.1 * scale);
    expect(error, `direction: analytic ${analytic} vs quotients${seen}`).toBeLessThan(0.03 * Math.abs(analytic));
    await session.release();
  }, 120_000);
});

/** A smooth planar RGB test image in [0.1, 0.9]. */
function smoothImage(h: number, w: number, seed: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[c * h * w + y * w + x] = 0.5 + 0.4 * Math.sin(0.11 * (x + 3 * seed) + 0.7 * c) * Math.cos(0.07 * (y - 5 * seed) + 0.3 * c);
  }
  return out;
}
