import { beforeAll, describe, expect, it } from 'vitest';
import { f32, openSession, setSessionLogger } from '../../src-main/engine/session.ts';
import { type NamedTensor, Trainer } from '../../src-main/engine/training/index.ts';
import {
  batchStatisticOutput, BN_B, BN_MEAN, BN_VAR, BN_W, branchLayers, buildBatchStatisticsGraph, buildScoringGraph, errorOutput, initialWeights, type LayerSpec, type LevelSpec, type MappingSpec,
  sourceFeed, squaredOutput, statisticDims, targetFeed, trainingModel, VARIANCE,
} from '../../src-main/methods/pfm/network.ts';
import { positionEncodingRows } from '../../src-main/features/position-encoding.ts';
import { normalisedRows } from '../../src-main/methods/pfm/features.ts';
import { Random } from '../../src-main/util/random.ts';

beforeAll(() => setSessionLogger(() => {}));

const LEVELS: LevelSpec[] = [
  { level: 1, cs: 8, ct: 12, d: 3, gridH: 2, gridW: 3 },
  { level: 3, cs: 4, ct: 8, d: 5, gridH: 1, gridW: 2 },
];
const spec = (over: Partial<MappingSpec> = {}): MappingSpec => ({
  levels: LEVELS, direction: 'both', positionEncoding: false, normalise: 'none', bnEps: 1e-5, bnMomentum: 0.1, lr: [3e-3, 3e-4], weightDecay: 1e-5, ...over,
});

function randomRows(rng: Random, rows: number, c: number): Float32Array {
  const raw = Float32Array.from({ length: rows * c }, () => rng.uniform(0, 2));
  // as the backbone rows are: L2-normalised per row
  for (let r = 0; r < rows; r++) {
    const norm = Math.hypot(...raw.subarray(r * c, (r + 1) * c));
    for (let j = 0; j < c; j++) raw[r * c + j]! /= norm;
  }
  return raw;
}

/** Plain JS forward of one layer over rows: conv 1×1 = x Wᵀ + b, then BatchNorm (batch or running statistics) and ReLU. */
function jsLayer(x: Float64Array, rows: number, y: LayerSpec, w: ReadonlyMap<string, NamedTensor>, mode: 'train' | 'eval', eps: number): Float64Array {
  const Wt = w.get(`${y.name}.weight`)!.data;
  const bias = w.get(`${y.name}.bias`)!.data;
  const h = new Float64Array(rows * y.outC);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < y.outC; o++) {
      let acc = bias[o]!;
      for (let i = 0; i < y.inC; i++) acc += x[r * y.inC + i]! * Wt[o * y.inC + i]!;
      h[r * y.outC + o] = acc;
    }
  }
  if (!y.bn) return h;
  for (let o = 0; o < y.outC; o++) {
    let mean = 0;
    let variance = 0;
    if (mode === 'train') {
      for (let r = 0; r < rows; r++) mean += h[r * y.outC + o]! / rows;
      for (let r = 0; r < rows; r++) variance += (h[r * y.outC + o]! - mean) ** 2 / rows;
    } else {
      mean = w.get(BN_MEAN(y.name))!.data[o]!;
      variance = w.get(BN_VAR(y.name))!.data[o]!;
    }
    const g = w.get(BN_W(y.name))!.data[o]!;
    const be = w.get(BN_B(y.name))!.data[o]!;
    for (let r = 0; r < rows; r++) h[r * y.outC + o] = Math.max(0, ((h[r * y.outC + o]! - mean) / Math.sqrt(variance + eps)) * g + be);
  }
  return h;
}

function jsMap(x: Float32Array, rows: number, layers: LayerSpec[], w: ReadonlyMap<string, NamedTensor>, mode: 'train' | 'eval', eps: number): Float64Array {
  return layers.reduce<Float64Array>((v, y) => jsLayer(v, rows, y, w, mode, eps), Float64Array.from(x));
}

function withPe(x: Float32Array, rows: number, c: number, l: LevelSpec): Float32Array {
  const pe = positionEncodingRows(c, l.gridH, l.gridW);
  return Float32Array.from(x, (v, k) => v + pe[k % pe.length]!);
}

/** Randomised BatchNorm affine parameters and running statistics, so folding has something to fold. */
function perturbed(s: MappingSpec, seed: number): Map<string, NamedTensor> {
  const w = initialWeights(s, seed);
  const rng = new Random(seed + 1);
  for (const [name, t] of w) {
    if (name.endsWith('.bn.weight')) t.data.forEach((_, i) => (t.data[i] = rng.uniform(0.5, 1.5)));
    if (name.endsWith('.bn.bias') || name.endsWith('.running_mean')) t.data.forEach((_, i) => (t.data[i] = rng.uniform(-0.3, 0.3)));
    if (name.endsWith('.running_var')) t.data.forEach((_, i) => (t.data[i] = rng.uniform(0.05, 0.5)));
  }
  return w;
}

describe('PFM mapping network', () => {
  const images = 2;
  const rng = new Random(5);
  const feats = LEVELS.map((l) => ({ s: randomRows(rng, images * l.gridH * l.gridW, l.cs), t: randomRows(rng, images * l.gridH * l.gridW, l.ct) }));
  const feeds = () => Object.fromEntries(LEVELS.flatMap((l, i) => {
    const rows = images * l.gridH * l.gridW;
    return [[sourceFeed(l.level), f32(feats[i]!.s, [rows, l.cs])], [targetFeed(l.level), f32(feats[i]!.t, [rows, l.ct])]];
  }));

  for (const pe of [false, true]) {
    it(`training loss and BatchNorm running statistics equal a plain JS forward with batch statistics${pe ? ' (position encoding at the inputs)' : ''}`, async () => {
      const s = spec({ positionEncoding: pe });
      const w = initialWeights(s, 888);
      const trainer = await Trainer.create(trainingModel(s, w), { seed: 1 });
      const step = await trainer.runStep(feeds());
      const updated = trainer.weights();
      await trainer.release();
      let total = 0;
      LEVELS.forEach((l, i) => {
        const rows = images * l.gridH * l.gridW;
        const br = branchLayers(l);
        const sIn = pe ? withPe(feats[i]!.s, rows, l.cs, l) : feats[i]!.s;
        const tIn = pe ? withPe(feats[i]!.t, rows, l.ct, l) : feats[i]!.t;
        // targets are the plain features: no position encoding
        const tHat = jsMap(sIn, rows, [...br.enc_s, ...br.shared, ...br.dec_t], w, 'train', s.bnEps);
        const sHat = jsMap(tIn, rows, [...br.enc_t, ...br.shared, ...br.dec_s], w, 'train', s.bnEps);
        const mse = (a: Float64Array, b: Float32Array) => a.reduce((acc, v, k) => acc + (v - b[k]!) ** 2, 0) / a.length;
        const level = mse(tHat, feats[i]!.t) + mse(sHat, feats[i]!.s);
        expect(step.metrics[`loss_l${l.level}`]).toBeCloseTo(level, 5);
        total += level;
      });
      expect(step.loss).toBeCloseTo(total, 5);

      // running statistics after one step: 0.9 · (0, 1) + 0.1 · (batch mean, unbiased batch variance)
      const l = LEVELS[0]!;
      const y = branchLayers(l).enc_s[0]!;
      const rows = images * l.gridH * l.gridW;
      const x = pe ? withPe(feats[0]!.s, rows, l.cs, l) : feats[0]!.s;
      const h = jsLayer(Float64Array.from(x), rows, { ...y, bn: false }, w, 'train', s.bnEps);
      for (const o of [0, y.outC - 1]) {
        const col = Array.from({ length: rows }, (_, r) => h[r * y.outC + o]!);
        const mean = col.reduce((a, v) => a + v, 0) / rows;
        const unbiased = col.reduce((a, v) => a + (v - mean) ** 2, 0) / (rows - 1);
        expect(updated.get(BN_MEAN(y.name))!.data[o]).toBeCloseTo(0.1 * mean, 6);
        expect(updated.get(BN_VAR(y.name))!.data[o]).toBeCloseTo(0.9 + 0.1 * unbiased, 6);
      }
    });
  }

  for (const direction of ['both', 's2t', 't2s'] as const) {
    it(`scoring graph with BatchNorm folded equals the unfolded eval-mode graph and a JS reference (direction ${direction}, PE on)`, async () => {
      const s = spec({ direction, positionEncoding: true });
      const w = perturbed(s, 3);
      const folded = await openSession(buildScoringGraph(s, w));
      const unfolded = await openSession(buildScoringGraph(s, w, { unfolded: true }));
      const [a, b] = [await folded.run(feeds()), await unfolded.run(feeds())];
      LEVELS.forEach((l, i) => {
        const rows = images * l.gridH * l.gridW;
        const br = branchLayers(l);
        const ea = a[errorOutput(l.level)]!.data as Float32Array;
        const eb = b[errorOutput(l.level)]!.data as Float32Array;
        expect(ea.length).toBe(rows);
        const errS2T = direction === 't2s' ? undefined : jsMap(withPe(feats[i]!.s, rows, l.cs, l), rows, [...br.enc_s, ...br.shared, ...br.dec_t], w, 'eval', s.bnEps);
        const errT2S = direction === 's2t' ? undefined : jsMap(withPe(feats[i]!.t, rows, l.ct, l), rows, [...br.enc_t, ...br.shared, ...br.dec_s], w, 'eval', s.bnEps);
        const sq = (pred: Float64Array | undefined, target: Float32Array, c: number, r: number) => {
          if (!pred) return 0;
          let acc = 0;
          for (let j = 0; j < c; j++) acc += (pred[r * c + j]! - target[r * c + j]!) ** 2;
          return acc;
        };
        for (let r = 0; r < rows; r++) {
          const eT = sq(errS2T, feats[i]!.t, l.ct, r);
          const eS = sq(errT2S, feats[i]!.s, l.cs, r);
          const want = direction === 'both' ? (eT + eS) / 2 : direction === 's2t' ? eT : eS;
          expect(ea[r]).toBeCloseTo(want, 5);
          expect(Math.abs(ea[r]! - eb[r]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
        }
      });
      await folded.release();
      await unfolded.release();
    });
  }

  it('batch-statistics graph: each BatchNorm gets the batch mean and unbiased variance of its input, earlier layers normalised by their own batch statistics', async () => {
    const s = spec({ positionEncoding: true });
    const w = perturbed(s, 6);
    const session = await openSession(buildBatchStatisticsGraph(s, w));
    const out = await session.run(feeds());
    await session.release();
    LEVELS.forEach((l, i) => {
      const rows = images * l.gridH * l.gridW;
      const br = branchLayers(l);
      // the second layer of dec_t: its input has passed enc_s (two batch-normalised layers), shared and dec_t.0
      const before = [...br.enc_s, ...br.shared, br.dec_t[0]!];
      const y = br.dec_t[1]!;
      const x = jsMap(withPe(feats[i]!.s, rows, l.cs, l), rows, before, w, 'train', s.bnEps);
      const h = jsLayer(x, rows, { ...y, bn: false }, w, 'train', s.bnEps);
      const mean = out[batchStatisticOutput(BN_MEAN(y.name))]!.data as Float32Array;
      const variance = out[batchStatisticOutput(BN_VAR(y.name))]!.data as Float32Array;
      expect(mean.length).toBe(y.outC);
      for (let o = 0; o < y.outC; o++) {
        const col = Array.from({ length: rows }, (_, r) => h[r * y.outC + o]!);
        const m = col.reduce((a, v) => a + v, 0) / rows;
        expect(mean[o]).toBeCloseTo(m, 5);
        expect(variance[o]).toBeCloseTo(col.reduce((a, v) => a + (v - m) ** 2, 0) / (rows - 1), 5);
      }
    });
  });

  it('normalise variance divides each squared error by its statistic at that position and channel before the channel sum', async () => {
    const s = spec({ positionEncoding: true, normalise: 'variance' });
    const w = new Map(perturbed(s, 4));
    const rng = new Random(9);
    for (const x of statisticDims(s)) w.set(x.name, { dims: x.dims, data: Float32Array.from({ length: x.dims[0]! * x.dims[1]! }, () => rng.uniform(0.1, 3)) });
    expect(statisticDims(s).map((x) => x.name)).toEqual(['l1.var_t', 'l1.var_s', 'l3.var_t', 'l3.var_s']);
    const scaled = await openSession(buildScoringGraph(s, w));
    const squared = await openSession(buildScoringGraph(s, w, { squaredErrors: true }));
    const plain = await openSession(buildScoringGraph({ ...s, normalise: 'none' }, w));
    const [a, q, e0] = [await scaled.run(feeds()), await squared.run(feeds()), await plain.run(feeds())];
    LEVELS.forEach((l) => {
      const cells = l.gridH * l.gridW;
      const [qs, qt] = [q[squaredOutput(l.level, 's')]!.data as Float32Array, q[squaredOutput(l.level, 't')]!.data as Float32Array];
      const [vs, vt] = [w.get(VARIANCE(l.level, 's'))!.data, w.get(VARIANCE(l.level, 't'))!.data];
      const e = a[errorOutput(l.level)]!.data as Float32Array;
      for (let r = 0; r < images * cells; r++) {
        const p = r % cells;
        let eS = 0;
        let eT = 0;
        for (let c = 0; c < l.cs; c++) eS += qs[r * l.cs + c]! / vs[p * l.cs + c]!;
        for (let c = 0; c < l.ct; c++) eT += qt[r * l.ct + c]! / vt[p * l.ct + c]!;
        expect(e[r]).toBeCloseTo((eS + eT) / 2, 4);
        // the squared errors are the unscaled map's terms (itself checked against JS above)
        let sumS = 0;
        let sumT = 0;
        for (let c = 0; c < l.cs; c++) sumS += qs[r * l.cs + c]!;
        for (let c = 0; c < l.ct; c++) sumT += qt[r * l.ct + c]!;
        expect((e0[errorOutput(l.level)]!.data as Float32Array)[r]).toBeCloseTo((sumS + sumT) / 2, 5);
      }
    });
    // without the statistic in the weights the graph cannot be built
    const missing = new Map(w);
    missing.delete(VARIANCE(3, 's'));
    expect(() => buildScoringGraph(s, missing)).toThrow(/l3\.var_s/);
    await scaled.release();
    await squared.release();
    await plain.release();
  });

  it('gives each level its own optimiser and learning rate, and a single direction only its own branches', () => {
    const m = trainingModel(spec(), initialWeights(spec(), 1));
    expect(m.groups.map((g) => [g.name, g.hyper?.['lr'], g.hyper?.['weight_decay']])).toEqual([['level1', 3e-3, 1e-5], ['level3', 3e-4, 1e-5]]);
    expect(new Set(m.params.filter((p) => p.name.startsWith('l3.')).map((p) => p.group))).toEqual(new Set(['level3']));
    const one = trainingModel(spec({ direction: 's2t' }), initialWeights(spec({ direction: 's2t' }), 1));
    expect(one.params.some((p) => p.name.includes('enc_t') || p.name.includes('dec_s'))).toBe(false);
    // the paper's channel chain (§2.3, level 1 with Cs 64, Ct 256, d 200)
    const br = branchLayers({ level: 1, cs: 64, ct: 256, d: 200, gridH: 1, gridW: 1 });
    const chain = (ls: LayerSpec[]) => [ls[0]!.inC, ...ls.map((y) => y.outC)];
    expect(chain(br.enc_s)).toEqual([64, 232, 400]);
    expect(chain(br.shared)).toEqual([400, 200]);
    expect(chain(br.dec_t)).toEqual([200, 400, 328, 256]);
    expect(chain(br.enc_t)).toEqual([256, 328, 400]);
    expect(chain(br.dec_s)).toEqual([200, 400, 232, 64]);
    expect([...br.dec_t, ...br.shared].filter((y) => !y.bn).map((y) => y.name)).toEqual(['l1.dec_t.2', 'l1.shared.0']);
  });
});

describe('PFM features and position encoding', () => {
  it('position encoding matches METHODS.md §1.7: sin/cos of x in the first half, of y in the second', () => {
    const [D, H, W] = [8, 3, 5];
    const pe = positionEncodingRows(D, H, W);
    const omega = [1, Math.exp((-2 * Math.log(10000)) / 4)];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const row = pe.subarray((y * W + x) * D, (y * W + x + 1) * D);
        const want = [Math.sin(x * omega[0]!), Math.cos(x * omega[0]!), Math.sin(x * omega[1]!), Math.cos(x * omega[1]!),
          Math.sin(y * omega[0]!), Math.cos(y * omega[0]!), Math.sin(y * omega[1]!), Math.cos(y * omega[1]!)];
        want.forEach((v, c) => expect(row[c]).toBeCloseTo(v, 6));
      }
    }
    // ω_1 = 10000^(-2/4) = 0.01
    expect(omega[1]).toBeCloseTo(0.01, 12);
    expect(() => positionEncodingRows(6, 2, 2)).toThrow(/divisible by 4/);
  });

  it('L2-normalises each position over channels and lays NCHW out as position rows', () => {
    // 1 image, 2 channels, 1×2 grid: position 0 = (3, 4), position 1 = (0, 0)
    const rows = normalisedRows(Float32Array.of(3, 0, 4, 0), 1, 2, 1, 2);
    expect(Array.from(rows)).toEqual([0.6, 0.8, 0, 0].map((v) => Math.fround(v)));
  });
});
