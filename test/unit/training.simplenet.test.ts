import { beforeAll, describe, expect, it } from 'vitest';
import { checkGradient } from '../../src-main/engine/autodiff/check.ts';
import { f32, openSession, setSessionLogger } from '../../src-main/engine/session.ts';
import { stepRandom, Trainer } from '../../src-main/engine/training/index.ts';
import { SIMPLENET_DEFAULTS, type SimpleNetConfig } from '../../src-main/methods/simplenet/defaults.ts';
import { buildScoringGraph, initialWeights, P, trainingModel } from '../../src-main/methods/simplenet/graphs.ts';
import { gaussianNoise, noiseStdFor } from '../../src-main/methods/simplenet/model.ts';
import { NoiseSource } from '../../src-main/methods/simplenet/noise.ts';
import { Random } from '../../src-main/util/random.ts';

beforeAll(() => setSessionLogger(() => {}));

// SimpleNet's graphs at toy sizes: D = 6 features, H = 5 hidden units, 4 patches per step.
const tiny: SimpleNetConfig = { ...SIMPLENET_DEFAULTS, targetDim: 6, hidden: 5, noiseStd: 0.3, seed: 5 };
const D = 6;
const H = 5;
const N = 4;
const rnd = new Random(9);
const features = Float32Array.from({ length: N * D }, () => rnd.uniform(-1, 1));
const noise = gaussianNoise(N * D, tiny.noiseStd, rnd);

/** The discriminator's pre-BatchNorm activations for [q; q + noise], in float64. */
function hidden(w: ReturnType<typeof initialWeights>): { h: Float64Array; rows: number } {
  const get = (n: string) => w.get(n)!.data;
  const rows = 2 * N;
  const q = new Float64Array(rows * D);
  for (let r = 0; r < N; r++) {
    for (let o = 0; o < D; o++) {
      let s = get(P.adaptorB)[o]!;
      for (let i = 0; i < D; i++) s += get(P.adaptorW)[o * D + i]! * features[r * D + i]!;
      q[r * D + o] = s;
      q[(r + N) * D + o] = s + noise[r * D + o]!;
    }
  }
  const h = new Float64Array(rows * H);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < H; o++) {
      let s = get(P.fc1B)[o]!;
      for (let i = 0; i < D; i++) s += get(P.fc1W)[o * D + i]! * q[r * D + i]!;
      h[r * H + o] = s;
    }
  }
  return { h, rows };
}

describe('SimpleNet training graph', () => {
  it('has gradients that match central finite differences for every parameter', async () => {
    const model = trainingModel(tiny, initialWeights(tiny));
    const w = initialWeights(tiny);
    const samples = await checkGradient({
      dtype: 'float32',
      inputs: [
        { name: 'features', dims: [N, D], data: features, wrt: false },
        { name: 'noise', dims: [N, D], data: noise, wrt: false },
        ...[P.adaptorW, P.adaptorB, P.fc1W, P.fc1B, P.bnW, P.bnB, P.tailW].map((name) => ({ name, dims: w.get(name)!.dims, data: w.get(name)!.data })),
        { name: P.runMean, dims: [H], data: w.get(P.runMean)!.data, wrt: false },
        { name: P.runVar, dims: [H], data: w.get(P.runVar)!.data, wrt: false },
      ],
      build: (b) => model.forward(b).loss,
      samples: 5,
      step: 1e-3,
    });
    for (const s of samples) {
      const ok = Math.abs(s.analytic - s.numeric) <= 3e-3 + 2e-2 * Math.max(Math.abs(s.analytic), Math.abs(s.numeric));
      expect(ok, `${s.input}[${s.index}]: analytic ${s.analytic} vs numeric ${s.numeric}`).toBe(true);
    }
    expect(samples.length).toBe(7 * 5);
  });

  it('computes the truncated L1 loss and PyTorch-style BatchNorm running statistics', async () => {
    const w = initialWeights(tiny);
    const trainer = await Trainer.create(trainingModel(tiny, w), { provider: 'cpu' });
    const r = await trainer.runStep({ features: f32(features, [N, D]), noise: f32(noise, [N, D]) });
    const { h, rows } = hidden(w);
    const scores = new Float64Array(rows);
    for (let o = 0; o < H; o++) {
      let mean = 0;
      for (let r2 = 0; r2 < rows; r2++) mean += h[r2 * H + o]! / rows;
      let v = 0;
      for (let r2 = 0; r2 < rows; r2++) v += (h[r2 * H + o]! - mean) ** 2 / rows;
      expect(trainer.value(P.runMean)[o]).toBeCloseTo(0.1 * mean, 5);
      expect(trainer.value(P.runVar)[o]).toBeCloseTo(0.9 + 0.1 * v * rows / (rows - 1), 5);
      for (let r2 = 0; r2 < rows; r2++) {
        const y = ((h[r2 * H + o]! - mean) / Math.sqrt(v + tiny.bnEps)) * w.get(P.bnW)!.data[o]! + w.get(P.bnB)!.data[o]!;
        scores[r2]! += w.get(P.tailW)!.data[o]! * (y > 0 ? y : 0.2 * y);
      }
    }
    let loss = 0;
    for (let i = 0; i < N; i++) loss += (Math.max(0, 0.5 - scores[i]!) + Math.max(0, scores[N + i]! + 0.5)) / N;
    expect(r.loss).toBeCloseTo(loss, 5);
    expect(r.metrics['p_true']).toBeCloseTo(Array.from(scores.subarray(0, N)).filter((s) => s >= 0.5).length / N, 6);
    expect(r.metrics['p_fake']).toBeCloseTo(Array.from(scores.subarray(N)).filter((s) => s < -0.5).length / N, 6);
    await trainer.release();
  });

  it('trains the same in an ONNX Loop (2 steps per call) as one step per call', async () => {
    const source = (_step: number, rng: Random) => ({ features: f32(features, [N, D]), noise: f32(gaussianNoise(N * D, tiny.noiseStd, rng), [N, D]) });
    const single = await Trainer.create(trainingModel(tiny, initialWeights(tiny)), { provider: 'cpu', seed: 2 });
    const looped = await Trainer.create(trainingModel(tiny, initialWeights(tiny)), { provider: 'cpu', seed: 2, stepsPerCall: 2 });
    const a = await single.run(source, { until: 5 });
    const b = await looped.run(source, { until: 5 });
    b.losses.forEach((l, i) => expect(l).toBeCloseTo(a.losses[i]!, 5));
    for (const name of [P.adaptorW, P.tailW, P.runVar]) {
      const [x, y] = [single.value(name), looped.value(name)];
      x.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
    }
    await single.release();
    await looped.release();
  });

  it('scores −D(adaptor(q)) with inference-mode BatchNorm after folding adaptor and BatchNorm into one layer', async () => {
    const w = initialWeights(tiny);
    // non-trivial running statistics and affine BatchNorm parameters
    const r = stepRandom(1, 1);
    for (const n of [P.runMean, P.bnB]) w.get(n)!.data.forEach((_, i, a) => (a[i] = r.uniform(-0.5, 0.5)));
    for (const n of [P.runVar, P.bnW]) w.get(n)!.data.forEach((_, i, a) => (a[i] = r.uniform(0.5, 2)));
    const session = await openSession(await buildScoringGraph(tiny, w), 'cpu');
    const out = (await session.run({ features: f32(features, [1, N, D]) }))['scores']!;
    expect(out.dims).toEqual([1, N]);
    const { h } = hidden(w);
    const get = (n: string) => w.get(n)!.data;
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let o = 0; o < H; o++) {
        const y = ((h[i * H + o]! - get(P.runMean)[o]!) / Math.sqrt(get(P.runVar)[o]! + tiny.bnEps)) * get(P.bnW)[o]! + get(P.bnB)[o]!;
        s += get(P.tailW)[o]! * (y > 0 ? y : 0.2 * y);
      }
      expect(out.data[i]).toBeCloseTo(-s, 5);
    }
    await session.release();
  });
});

describe('SimpleNet anomalous-feature noise', () => {
  it('draws N(0, σ²) values (ziggurat): moments, tail mass and reproducibility from the seed', () => {
    const n = 1 << 20;
    const x = gaussianNoise(n, 0.5, new Random(11));
    let [mean, second, fourth, beyond1, tail] = [0, 0, 0, 0, 0];
    for (const v of x) {
      const z = v / 0.5;
      mean += z / n;
      second += (z * z) / n;
      fourth += z ** 4 / n;
      if (Math.abs(z) > 1) beyond1 += 1 / n;
      if (Math.abs(z) > 3.442619855899) tail += 1 / n;
    }
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(Math.abs(second - 1)).toBeLessThan(0.005);
    expect(Math.abs(fourth - 3)).toBeLessThan(0.05);
    expect(Math.abs(beyond1 - 0.3173105)).toBeLessThan(0.002); // 2(1 − Φ(1))
    expect(Math.abs(tail - 5.7609e-4)).toBeLessThan(1e-4); // beyond the ziggurat's base strip
    expect(gaussianNoise(1000, 1, new Random(4))).toEqual(gaussianNoise(1000, 1, new Random(4)));
  });

  it('draws the same values with a worker thread (NoiseSource) as on the calling thread', async () => {
    const source = new NoiseSource();
    try {
      for (const length of [1, 7, 100_003]) {
        const a = await source.draw(length, 0.3, stepRandom(8, length));
        expect(a).toEqual(gaussianNoise(length, 0.3, stepRandom(8, length)));
      }
    } finally {
      await source.close();
    }
  });

  it('uses the absolute noiseStd when noiseRelative is 0 (official), else noiseRelative × the feature spread', () => {
    expect(noiseStdFor({ ...SIMPLENET_DEFAULTS, noiseStd: 0.015, noiseRelative: 0 }, 0.4)).toBe(0.015);
    expect(noiseStdFor({ ...SIMPLENET_DEFAULTS, noiseStd: 0.015, noiseRelative: 0.5 }, 0.4)).toBeCloseTo(0.2, 12);
  });
});
