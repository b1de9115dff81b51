import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageBatches, type LoadedBatch, loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { readTensorFile } from '../../src-main/engine/training/index.ts';
import { CFLOW_DEFAULTS, cflowInput, type CflowConfig } from '../../src-main/methods/cflow/defaults.ts';
import { cflow } from '../../src-main/methods/cflow/method.ts';
import { CflowModel, fitCflow } from '../../src-main/methods/cflow/model.ts';
import type { FitProgress, ImageBatch, Prediction } from '../../src-main/methods/method.ts';
import { decodeModel, encodeModel } from '../../src-main/methods/persistence.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

beforeAll(() => setSessionLogger(() => {}));

// 128 px, 2 blocks and 8 short sub-epochs keep it to seconds; the method is the same at 256 px and 8 blocks.
const small: CflowConfig = { ...CFLOW_DEFAULTS, height: 128, width: 128, blocks: 2, epochs: 8, subEpochs: 1 };

function maxDifference(a: readonly Prediction[], b: readonly Prediction[]): number {
  let worst = 0;
  a.forEach((p, i) => {
    worst = Math.max(worst, Math.abs(p.score - b[i]!.score));
    for (let k = 0; k < p.map.length; k++) worst = Math.max(worst, Math.abs(p.map[k]! - b[i]!.map[k]!));
  });
  return worst;
}

describe.sequential('CFLOW-AD on real metal-plate images (MPDD subset)', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  const ds = scanMvtec(data);
  const input = cflowInput(small);
  const work = mkdtempSync(join(tmpdir(), 'argus-cflow-'));
  let model: CflowModel;
  let test: { batch: ImageBatch; defective: boolean[] };
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('fits with the declared stages, loss and ETA, holding out normal images for the normalisation', async () => {
    const progress: FitProgress[] = [];
    model = await fitCflow(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, small, { onProgress: (p) => progress.push(p) });
    const stages = [...new Set(progress.map((p) => p.stage))];
    expect(stages).toEqual(cflow.fitStages.map((s) => s.stage));
    const train = progress.filter((p) => p.stage === 'train');
    expect(train.every((p) => Number.isFinite(p.loss) && Number.isFinite(p.etaSeconds))).toBe(true);
    expect(train.at(-1)).toMatchObject({ done: train.at(-1)!.total, etaSeconds: 0 });
    const t = model.training!;
    expect(t.heldOut).toEqual([1, 5, 8]);
    // 7 fitted images: 16×16 cells at /8 → 1792 fibres → 7 steps of 256; 8×8 → 448 → 1; 4×4 → 112 → one short step
    expect(t.stepsPerSubEpoch).toEqual({ feat_s8_exp: 7, feat_s16_exp: 1, feat_s32_exp: 1 });
    expect(t.epochSeconds).toHaveLength(8);
    expect(model.normalisation).toMatchObject({ images: 3, heldOut: true });
    expect(model.trainingScores!.images).toBe(8);

    const loaded = (await loadBatches(ds.test, input, { batchSize: 16 }).next()).value as LoadedBatch;
    test = { batch: loaded.batch, defective: loaded.entries.map((e) => e.defective) };
    const predictions = await model.predict(test.batch);
    for (const p of predictions) {
      expect(p.map).toHaveLength(128 * 128);
      expect(p.map.every(Number.isFinite)).toBe(true);
      expect(p.score).toBeCloseTo(Math.max(...p.map), 5);
    }
  });

  it('ranks defective plates above good ones on average after a short training', async () => {
    const predictions = await model.predict(test.batch);
    const mean = (want: boolean) => {
      const s = predictions.filter((_, i) => test.defective[i] === want).map((p) => p.score);
      return s.reduce((a, b) => a + b, 0) / s.length;
    };
    expect(mean(true)).toBeGreaterThan(mean(false));
  });

  it('scores an image alone exactly as inside a batch (fixed normalisation, not per batch)', async () => {
    const batch = await model.predict(test.batch);
    const plane = 3 * 128 * 128;
    for (const i of [0, test.batch.n - 1]) {
      const alone = await model.predict({ data: test.batch.data.subarray(i * plane, (i + 1) * plane), n: 1, height: 128, width: 128 });
      expect(maxDifference(alone, [batch[i]!])).toBeLessThan(1e-5);
    }
  });

  it('survives serialize → decodeModel with identical scores and the same stored rotations', async () => {
    const bytes = encodeModel(model);
    const decoded = (await decodeModel(bytes, 'cflow bytes')) as CflowModel;
    expect(decoded).toBeInstanceOf(CflowModel);
    expect(decoded.describe()).toEqual(model.describe());
    expect(decoded.flows[2]!.rotations.get('b1.w_perm')!.data).toEqual(model.flows[2]!.rotations.get('b1.w_perm')!.data);
    expect(maxDifference(await model.predict(test.batch), await decoded.predict(test.batch))).toBe(0);
  });

  it('resumed from its checkpoint after an interruption, ends within 1e-4 of the uninterrupted run', async () => {
    const checkpoint = join(work, 'cflow.ckpt');
    const config = { ...small, checkpoint };
    const stop = new Error('interrupted');
    await expect(fitCflow(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, config, {
      onSubEpoch: (sub) => {
        if (sub === 5) throw stop;
      },
    })).rejects.toBe(stop);
    expect(readTensorFile(checkpoint).meta['subEpochs']).toBe(5);
    const resumed = await fitCflow(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, config);
    expect(resumed.training!.resumedSubEpochs).toBe(5);
    expect(resumed.training!.epochSeconds).toHaveLength(3);
    expect(maxDifference(await model.predict(test.batch), await resumed.predict(test.batch))).toBeLessThan(1e-4);
  });
});
