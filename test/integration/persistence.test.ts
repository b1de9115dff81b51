import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEval } from '../../src-main/cli/eval.ts';
import { runInfer } from '../../src-main/cli/infer.ts';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { getMethod, type MethodName } from '../../src-main/methods/index.ts';
import type { FittedModel, ImageBatch, Prediction } from '../../src-main/methods/method.ts';
import { decodeModel, encodeModel } from '../../src-main/methods/persistence.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

beforeAll(() => setSessionLogger(() => {}));

/** Equal to within 1e-6 of the larger magnitude. */
function expectClose(a: number, b: number): void {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(a), Math.abs(b)) + 1e-30);
}

function expectSamePredictions(a: readonly Prediction[], b: readonly Prediction[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((p, i) => {
    const q = b[i]!;
    expectClose(q.score, p.score);
    expect(q.map.length).toBe(p.map.length);
    let worst = 0;
    for (let k = 0; k < p.map.length; k++) {
      const tol = 1e-6 * Math.max(Math.abs(p.map[k]!), Math.abs(q.map[k]!)) + 1e-30;
      worst = Math.max(worst, Math.abs(p.map[k]! - q.map[k]!) - tol);
    }
    expect(worst).toBeLessThanOrEqual(0);
  });
}

// 128 px, four training images and the smallest settings that still exercise each stored part
const CONFIGS: Record<MethodName, Record<string, unknown>> = {
  patchcore: { height: 128, width: 128 },
  padim: { height: 128, width: 128, channels: 20, channelIndices: 'seeded' },
  simplenet: { height: 128, width: 128, epochs: 1, batchSize: 2, hidden: 64 },
  pfm: { height: 128, width: 128, epochs: 1, batchSize: 2, latent: [8, 16, 24] },
  pefm: { height: 128, width: 128, epochs: 1, batchSize: 2, latent: [8, 16, 24], fusion: 'multiply' },
  cflow: { height: 128, width: 128, epochs: 1, subEpochs: 1, blocks: 2 },
};

describe('every fitted model survives serialize → decodeModel', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 4, testGood: 1, testDefect: 1 });
  const ds = scanMvtec(data);

  for (const name of Object.keys(CONFIGS) as MethodName[]) {
    it(`${name}: the decoded model predicts the same scores and maps`, async () => {
      const method = getMethod(name);
      const config = { ...method.defaults, ...CONFIGS[name] };
      const input = method.input(config);
      const model: FittedModel = await method.fit(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, config);
      const test: ImageBatch = (await loadBatches(ds.test, input, { batchSize: 2 }).next()).value!.batch;
      const before = await model.predict(test);

      const bytes = encodeModel(model);
      const decoded = await decodeModel(bytes, `${name} bytes`);
      expect(decoded.method).toBe(name);
      expect(decoded.constructor).toBe(model.constructor);
      expect(decoded.backbone).toEqual(model.backbone);
      expect(decoded.backbone.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(decoded.input).toEqual(model.input);
      expect(decoded.describe()).toEqual(model.describe());
      expectSamePredictions(before, await decoded.predict(test));
      // encoding is stable: the decoded model encodes to the same bytes
      expect(Buffer.from(encodeModel(decoded)).equals(Buffer.from(bytes))).toBe(true);

      // training scores recorded at fit time, sane and carried over
      const t = model.trainingScores!;
      expect(t.images).toBe(4);
      expect(t.pixelMedian).toBeLessThanOrEqual(t.pixelP99);
      expect(t.pixelP99).toBeLessThanOrEqual(t.pixelMax);
      expect(t.imageMean).toBeLessThanOrEqual(t.imageMax);
      expect(decoded.trainingScores).toEqual(t);
    });
  }

  it('argus eval --save-model writes a model of any method that argus infer reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-save-'));
    const file = join(dir, 'patchcore.argus');
    const json = join(dir, 'results.json');
    const log = console.log;
    const error = console.error;
    const lines: string[] = [];
    console.log = (m: string) => lines.push(m);
    console.error = () => {};
    try {
      expect(await runEval(['--data', data, '--method', 'patchcore', '--size', '128', '--save-model', file, '--json', json])).toBe(0);
      const out = join(dir, 'heat');
      expect(await runInfer(['--model', file, '--out', out, ...ds.test.map((e) => e.path)])).toBe(0);
      expect(readdirSync(out)).toHaveLength(2);
    } finally {
      console.log = log;
      console.error = error;
    }
    // infer scores what eval scored
    const results = JSON.parse(readFileSync(json, 'utf8')) as { images: { path: string; score: number }[] }[];
    for (const image of results[0]!.images) {
      const line = lines.find((l) => l.startsWith(`${image.path}\t`));
      expect(line).toBeDefined();
      expect(Number(/score (\S+)/.exec(line!)![1])).toBeCloseTo(image.score, 3);
    }
  });
});
