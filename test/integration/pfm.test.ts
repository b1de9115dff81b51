import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { decodeTensorFile, encodeTensorFile, readTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { getMethod } from '../../src-main/methods/index.ts';
import type { FitProgress, ImageBatch, Prediction } from '../../src-main/methods/method.ts';
import { readModelFile, writeModelFile } from '../../src-main/methods/persistence.ts';
import { PEFM_DEFAULTS, PFM_DEFAULTS, pfmInput, type PfmConfig } from '../../src-main/methods/pfm/defaults.ts';
import { pefm, pfm } from '../../src-main/methods/pfm/method.ts';
import { PfmModel } from '../../src-main/methods/pfm/model.ts';
import { readMask, resizeMaskNearest } from '../../src-main/vision/index.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

beforeAll(() => setSessionLogger(() => {}));

// 128 px, 8 images, batch 4: two steps an epoch keep the suite fast; the method is the same at 256 px.
const small: PfmConfig = { ...PFM_DEFAULTS, height: 128, width: 128, batchSize: 4, epochs: 2 };

describe('PFM / PEFM on real metal-plate images (MPDD subset)', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 8, testGood: 2, testDefect: 3 });
  const ds = scanMvtec(data);
  const input = pfmInput(small);
  const fit = (config: PfmConfig, events = {}) => pfm.fit(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, config, events);
  let test: ImageBatch;
  let masks: Uint8Array[];
  beforeAll(async () => {
    test = (await loadBatches(ds.test, input, { batchSize: ds.test.length }).next()).value!.batch;
    masks = await Promise.all(ds.test.map(async (e) => (e.maskPath ? resizeMaskNearest(await readMask(e.maskPath), 128, 128).data : new Uint8Array(128 * 128))));
  });

  it('trains 2 epochs with progress, loss and ETA, scores defect pixels above good ones, and a saved model scores identically', async () => {
    const progress: FitProgress[] = [];
    const model = (await fit(small, { onProgress: (p: FitProgress) => progress.push(p) })) as PfmModel;
    const t = model.training!;
    expect([t.steps, t.stepsPerEpoch, t.epochLosses.length, t.epochSeconds.length]).toEqual([4, 2, 2, 2]);
    expect(t.epochLosses[1]!).toBeLessThan(t.epochLosses[0]!);
    expect(t.epochLevelLosses[0]!.length).toBe(3);
    expect(new Set(progress.map((p) => p.stage))).toEqual(new Set(pfm.fitStages.map((s) => s.stage)));
    const training = progress.filter((p) => p.stage === 'train');
    expect(training.at(-1)).toMatchObject({ done: 4, total: 4 });
    expect(training.every((p) => Number.isFinite(p.loss) && (p.etaSeconds ?? -1) >= 0)).toBe(true);
    // bench/method.ts reads describe().training.epochSeconds
    expect((model.describe()['training'] as { epochSeconds: number[] }).epochSeconds).toHaveLength(2);

    const predictions = await model.predict(test);
    let [inside, insideN, outside, outsideN] = [0, 0, 0, 0];
    predictions.forEach((p, i) => {
      expect(p.map.length).toBe(128 * 128);
      expect(p.map.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      // no smoothing: the image score is the map's maximum
      expect(p.score).toBe(Math.max(...p.map));
      p.map.forEach((v, k) => {
        if (masks[i]![k]) [inside, insideN] = [inside + v, insideN + 1];
        else [outside, outsideN] = [outside + v, outsideN + 1];
      });
    });
    expect(insideN).toBeGreaterThan(0);
    expect(inside / insideN).toBeGreaterThan(outside / outsideN);

    const path = join(mkdtempSync(join(tmpdir(), 'argus-pfm-')), 'model.argus');
    writeModelFile(path, model);
    const loaded = await readModelFile(path);
    expect(loaded).toBeInstanceOf(PfmModel);
    expect(loaded.method).toBe('pfm');
    const again = await loaded.predict(test);
    again.forEach((p, i) => {
      expect(p.score).toBe(predictions[i]!.score);
      expect(p.map).toEqual(predictions[i]!.map);
    });

    // int8 scoring (the default) quantises each image on its own: alone it scores exactly as in its batch
    expect(model.config.precision).toBe('int8');
    const alone = await model.predict((await loadBatches(ds.test.slice(-1), input, { batchSize: 1 }).next()).value!.batch);
    expect(alone[0]!.map).toEqual(predictions.at(-1)!.map);
    // against the same weights in float32: close, but really another path
    const exact = await (await PfmModel.create('pfm', { ...model.config, precision: 'float32' }, model.weights)).predict(test);
    exact.forEach((p, i) => {
      expect(Math.abs(predictions[i]!.score - p.score)).toBeLessThan(0.02 * p.score);
      expect(predictions[i]!.map).not.toEqual(p.map);
    });
    // a file written before the precision setting existed loads as float32, so its scores stay as they were
    const file = decodeTensorFile(readFileSync(path), path);
    const { precision: _, ...olderConfig } = file.meta['config'] as Record<string, unknown>;
    writeFileSync(path, encodeTensorFile({ meta: { ...file.meta, config: olderConfig }, tensors: file.tensors }));
    const older = (await readModelFile(path)) as PfmModel;
    expect(older.config.precision).toBe('float32');
    (await older.predict(test)).forEach((p, i) => expect(p.map).toEqual(exact[i]!.map));
  });

  it('a training cancelled in epoch 2 resumes from the epoch-1 checkpoint to the scores of an uninterrupted run (within 1e-4)', async () => {
    // smaller latent sizes: resuming does not depend on them
    const tiny: PfmConfig = { ...small, latent: [16, 32, 64] };
    const uninterrupted = await (await fit(tiny)).predict(test);
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'argus-pfm-ckpt-')), 'pfm.ckpt');
    const withCheckpoint = { ...tiny, checkpoint };
    // the station cancels by throwing from the progress callback (jobs/worker.ts checkCancelled)
    await expect(fit(withCheckpoint, { onProgress: (p: FitProgress) => { if (p.stage === 'train' && p.done === 3) throw new Error('cancelled'); } })).rejects.toThrow('cancelled');
    expect(existsSync(checkpoint)).toBe(true);
    expect(readTensorFile(checkpoint).meta['step']).toBe(2);
    const resumed = (await fit(withCheckpoint)) as PfmModel;
    expect(resumed.training!.resumedAtEpoch).toBe(1);
    expect(resumed.training!.epochSeconds).toHaveLength(1);
    const scores = await resumed.predict(test);
    scores.forEach((p, i) => {
      expect(Math.abs(p.score - uninterrupted[i]!.score)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(uninterrupted[i]!.score)));
    });
  });

  it('PEFM with the training-error statistic: precise BatchNorm statistics differ from the running ones, the statistic is stored, and a saved model scores identically', async () => {
    const config: PfmConfig = { ...PEFM_DEFAULTS, height: 128, width: 128, batchSize: 4, epochs: 1, latent: [16, 32, 64], normalise: 'variance' };
    const fitPefm = (c: PfmConfig) => pefm.fit(imageBatches(loadBatches(ds.train, pfmInput(c), { batchSize: 4 })), ds.train.length, c) as Promise<PfmModel>;
    const precise = await fitPefm(config);
    const running = await fitPefm({ ...config, bnStatistics: 'running' });
    // the same seeded training: equal conv weights, BatchNorm statistics replaced only under 'precise'
    expect(precise.weights.get('l1.enc_s.0.weight')!.data).toEqual(running.weights.get('l1.enc_s.0.weight')!.data);
    expect(precise.weights.get('l1.enc_s.0.bn.running_mean')!.data).not.toEqual(running.weights.get('l1.enc_s.0.bn.running_mean')!.data);
    for (const name of ['l1.var_s', 'l1.var_t', 'l2.var_s', 'l2.var_t', 'l3.var_s', 'l3.var_t']) {
      const v = precise.weights.get(name)!.data;
      expect(v.every((x) => x > 0 && Number.isFinite(x)), name).toBe(true);
    }
    const predictions = await precise.predict(test);
    const path = join(mkdtempSync(join(tmpdir(), 'argus-pefm-')), 'model.argus');
    writeModelFile(path, precise);
    const loaded = await readModelFile(path);
    (await loaded.predict(test)).forEach((p, i) => {
      expect(p.score).toBe(predictions[i]!.score);
      expect(p.map).toEqual(predictions[i]!.map);
    });
  });

  it('PEFM (position encoding, multiply fusion) and single-level / single-direction PFM run through the registry', async () => {
    const run = async (name: 'pfm' | 'pefm', over: Partial<PfmConfig>): Promise<Prediction[]> => {
      const method = getMethod(name);
      const config = { ...method.defaults, height: 128, width: 128, batchSize: 4, epochs: 1, latent: [16, 32, 64], ...over };
      const model = await method.fit(imageBatches(loadBatches(ds.train, method.input(config), { batchSize: 4 })), ds.train.length, config);
      expect(model.method).toBe(name);
      return model.predict(test);
    };
    expect(pefm.defaults).toBe(PEFM_DEFAULTS);
    const multiply = await run('pefm', { fusion: 'multiply' });
    const levels3 = await run('pfm', { levels: [3], direction: 's2t' });
    for (const p of [...multiply, ...levels3]) {
      expect(p.map.every(Number.isFinite)).toBe(true);
      expect(p.score).toBe(Math.max(...p.map));
    }
    await expect(run('pfm', { levels: [4] })).rejects.toThrow(/levels must be distinct values among 1, 2, 3/);
  });
});
