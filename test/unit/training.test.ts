import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GraphBuilder, int } from '../../src-main/engine/onnx/graph.ts';
import { adam, sgd } from '../../src-main/engine/optim/index.ts';
import { ort, setSessionLogger } from '../../src-main/engine/session.ts';
import {
  type BatchSource, CheckpointMismatchError, decodeTensorFile, encodeTensorFile, readTensorFile, stepRandom, type TrainableModel, Trainer,
  TrainingCancelledError, type TrainerOptions,
} from '../../src-main/engine/training/index.ts';
import { Random } from '../../src-main/util/random.ts';

beforeAll(() => setSessionLogger(() => {}));
const dir = mkdtempSync(join(tmpdir(), 'argus-train-'));

// y = x·w + b on 32 fixed samples of 3 features; mini-batches of 4 drawn by the step's Random.
const W_TRUE = [1.5, -2, 0.5];
const B_TRUE = 0.25;
const data = new Random(7);
const X = Float32Array.from({ length: 32 * 3 }, () => data.uniform(-1, 1));
const Y = Float32Array.from({ length: 32 }, (_, i) => W_TRUE.reduce((s, w, k) => s + w * X[i * 3 + k]!, B_TRUE));

function regression(options: { lr?: number; momentumBuffer?: boolean } = {}): TrainableModel {
  return {
    name: 'regression',
    params: [
      { name: 'w', dims: [3, 1], init: new Float32Array(3), group: 'main' },
      { name: 'b', dims: [1], init: new Float32Array(1), group: options.momentumBuffer ? 'other' : 'main' },
    ],
    buffers: [{ name: 'seen', dims: [1], init: new Float32Array(1) }],
    feeds: [{ name: 'x', dtype: 'float32', shape: ['n', 3] }, { name: 'y', dtype: 'float32', shape: ['n', 1] }],
    groups: [
      { name: 'main', optimizer: adam(), hyper: { lr: options.lr ?? 0.05 } },
      { name: 'other', optimizer: sgd(), hyper: { lr: 0.1, momentum: 0.5 } },
    ],
    forward(b: GraphBuilder) {
      const r = b.op('Sub', [b.op('Add', [b.op('MatMul', ['x', 'w']), 'b']), 'y']);
      const loss = b.op('ReduceMean', [b.op('Mul', [r, r])], { keepdims: int(0) });
      // a buffer: count of samples seen; a metric: mean absolute residual
      const n = b.op('Cast', [b.op('Gather', [b.op('Shape', ['x']), b.constI64([0], [])], { axis: int(0) })], { to: int(1) });
      const seen = b.op('Add', ['seen', b.op('Reshape', [n, b.constI64([1])])]);
      const mae = b.op('ReduceMean', [b.op('Abs', [r])], { keepdims: int(0) });
      return { loss, buffers: { seen }, metrics: { mae } };
    },
  };
}

const batches: BatchSource = (_step, rng) => {
  const idx = rng.sample(32, 4);
  const x = new Float32Array(12);
  const y = new Float32Array(4);
  idx.forEach((r, i) => {
    x.set(X.subarray(r * 3, r * 3 + 3), i * 3);
    y[i] = Y[r]!;
  });
  return { x: new ort.Tensor('float32', x, [4, 3]), y: new ort.Tensor('float32', y, [4, 1]) };
};

const trainers: Trainer[] = [];
async function trainer(model = regression(), options: TrainerOptions = {}): Promise<Trainer> {
  const t = await Trainer.create(model, { provider: 'cpu', seed: 3, ...options });
  trainers.push(t);
  return t;
}
afterAll(async () => {
  for (const t of trainers) await t.release();
});

describe('training runner', () => {
  it('matches a hand-computed first Adam step', async () => {
    const t = await trainer();
    const feeds = batches(0, stepRandom(3, 0)) as Record<string, ort.Tensor>;
    const x = feeds['x']!.data as Float32Array;
    const y = feeds['y']!.data as Float32Array;
    // at w = 0, b = 0: loss = mean(y²), dL/dw_k = mean(2·(−y)·x_k), dL/db = mean(−2y)
    const gw = [0, 1, 2].map((k) => [0, 1, 2, 3].reduce((s, i) => s - 2 * y[i]! * x[i * 3 + k]!, 0) / 4);
    const gb = [0, 1, 2, 3].reduce((s, i) => s - 2 * y[i]!, 0) / 4;
    const r = await t.runStep(feeds);
    expect(r.step).toBe(1);
    expect(r.loss).toBeCloseTo([0, 1, 2, 3].reduce((s, i) => s + y[i]! ** 2, 0) / 4, 5);
    // first Adam step: m̂ = g, v̂ = g², so p ← p − lr·g/(|g| + eps)
    const step = (g: number) => -0.05 * g / (Math.abs(g) + 1e-8);
    Array.from(t.value('w')).forEach((v, k) => expect(v).toBeCloseTo(step(gw[k]!), 6));
    expect(t.value('b')[0]).toBeCloseTo(step(gb), 6);
    Array.from(t.value('w:exp_avg')).forEach((v, k) => expect(v).toBeCloseTo(0.1 * gw[k]!, 6));
    expect(t.value('seen')[0]).toBe(4);
    expect(r.metrics['mae']).toBeCloseTo([0, 1, 2, 3].reduce((s, i) => s + Math.abs(y[i]!), 0) / 4, 5);
  });

  it('reduces a regression loss and recovers the true weights', async () => {
    const t = await trainer();
    const seen: number[] = [];
    const summary = await t.run(batches, { until: 300, onProgress: (p) => seen.push(p.step) });
    expect(summary.steps).toBe(300);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const avg = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(avg(summary.losses.slice(-20))).toBeLessThan(avg(summary.losses.slice(0, 20)) / 100);
    Array.from(t.value('w')).forEach((v, k) => expect(v).toBeCloseTo(W_TRUE[k]!, 1));
    expect(t.value('seen')[0]).toBe(1200);
  });

  it('resumes from a checkpoint to exactly the parameters of an uninterrupted run', async () => {
    const model = regression({ momentumBuffer: true });
    const straight = await trainer(model);
    await straight.run(batches, { until: 12 });

    const path = join(dir, 'resume.ckpt');
    const first = await trainer(model);
    await first.run(batches, { until: 5, checkpoint: { path, everySteps: 100 } });
    const second = await trainer(model);
    second.loadCheckpoint(path);
    expect(second.step).toBe(5);
    await second.run(batches, { until: 12 });
    for (const name of ['w', 'b', 'w:exp_avg', 'w:exp_avg_sq', 'b:momentum_buffer', 'seen']) {
      expect(Array.from(second.value(name))).toEqual(Array.from(straight.value(name)));
    }
  });

  it('refuses a checkpoint of a different model', async () => {
    const t = await trainer();
    const other = { ...t.checkpoint(), meta: { ...t.checkpoint().meta, model: 'other' } };
    expect(() => t.restore(other)).toThrow(CheckpointMismatchError);
  });

  it('stops promptly when cancelled and leaves a resumable checkpoint', async () => {
    const t = await trainer();
    const controller = new AbortController();
    const path = join(dir, 'cancel.ckpt');
    const run = t.run(batches, {
      until: 1000,
      signal: controller.signal,
      checkpoint: { path, everySteps: 1000 },
      onProgress: (p) => p.step === 3 && controller.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(t.step).toBe(3);
    expect(existsSync(path)).toBe(true);
    expect(readTensorFile(path).meta['step']).toBe(3);
  });

  it('runs several steps per call in an ONNX Loop with the same result as one step per call', async () => {
    const single = await trainer();
    const looped = await trainer(regression(), { stepsPerCall: 4 });
    const a = await single.run(batches, { until: 10 });
    const b = await looped.run(batches, { until: 10 });
    expect(b.losses.length).toBe(10);
    b.losses.forEach((l, i) => expect(l).toBeCloseTo(a.losses[i]!, 5));
    Array.from(looped.value('w')).forEach((v, k) => expect(v).toBeCloseTo(single.value('w')[k]!, 6));
    expect(looped.value('seen')[0]).toBe(40);
  });

  it('reports progress with an ETA', async () => {
    const t = await trainer();
    let last: { etaSeconds: number; secondsPerStep: number; totalSteps: number } | undefined;
    await t.run(batches, { until: 5, onProgress: (p) => (last = p) });
    expect(last!.totalSteps).toBe(5);
    expect(last!.etaSeconds).toBe(0);
    expect(last!.secondsPerStep).toBeGreaterThan(0);
  });
});

describe('tensor files', () => {
  it('round-trip names, dims, values and metadata', () => {
    const file = { meta: { a: 1, s: 'x' }, tensors: new Map([['p', { dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) }], ['q', { dims: [1], data: Float32Array.of(-0.5) }]]) };
    const back = decodeTensorFile(encodeTensorFile(file));
    expect(back.meta).toEqual({ a: 1, s: 'x' });
    expect(Array.from(back.tensors.get('p')!.data)).toEqual([1, 2, 3, 4]);
    expect(back.tensors.get('q')!.dims).toEqual([1]);
    expect(() => decodeTensorFile(new Uint8Array(20))).toThrow(/magic/);
  });
});
