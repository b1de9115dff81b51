/**
 * Training memory does not grow with the number of training images (issue 13): CFLOW-AD keeps its
 * training fibres, PFM and SimpleNet (when their features do not fit `featureCacheMb`) their training
 * images in a temporary file beyond the budget, and train exactly the model they train in memory.
 * The file is gone when the fit ends. Real metal-plate images, small settings.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { CFLOW_DEFAULTS } from '../../src-main/methods/cflow/defaults.ts';
import { cflow } from '../../src-main/methods/cflow/method.ts';
import type { FittedModel, InputSpec, Method } from '../../src-main/methods/method.ts';
import { PFM_DEFAULTS } from '../../src-main/methods/pfm/defaults.ts';
import { pfm } from '../../src-main/methods/pfm/method.ts';
import { SIMPLENET_DEFAULTS } from '../../src-main/methods/simplenet/defaults.ts';
import { simplenet } from '../../src-main/methods/simplenet/method.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

describe('training data beyond the memory budget goes to a temporary file', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 5, testGood: 1, testDefect: 2 });
  const train = readdirSync(join(data, 'train/good')).sort().map((f) => join(data, 'train/good', f));
  const tests = ['good', ...readdirSync(join(data, 'test')).filter((d) => d !== 'good')].flatMap((d) => readdirSync(join(data, 'test', d)).map((f) => join(data, 'test', d, f)));
  // the fits' temporary files land here (os.tmpdir() reads TMPDIR), so the test sees exactly its own
  const spillDir = mkdtempSync(join(tmpdir(), 'argus-spill-test-'));
  const previousTmp = process.env['TMPDIR'];
  beforeAll(() => {
    process.env['TMPDIR'] = spillDir;
  });
  afterAll(() => {
    if (previousTmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previousTmp;
    rmSync(data, { recursive: true, force: true });
    rmSync(spillDir, { recursive: true, force: true });
  });

  async function* batches(paths: readonly string[], input: InputSpec, batchSize = 2) {
    yield* imageBatches(loadBatches(paths.map((path) => ({ path, split: 'train' as const, defectType: '', defective: false })), input, { batchSize }));
  }

  async function scores(model: FittedModel, input: InputSpec): Promise<number[]> {
    const out: number[] = [];
    for await (const b of batches(tests, input, 1)) out.push(...(await model.predict(b)).map((p) => p.score));
    return out;
  }

  const cases = [
    // CFLOW-AD: fibres in memory (default budget) against fibres on disk (no budget)
    ['CFLOW-AD', cflow, { ...CFLOW_DEFAULTS, height: 128, width: 128, blocks: 2, epochs: 1, subEpochs: 1, holdout: 0.2, holdoutMin: 1 }, { featureCacheMb: 2048 }, 'fibresOnDisk'],
    // PFM and SimpleNet: 1 MB holds these 5 images (0.2 MB each) but not their features: images in memory against images on disk
    ['PFM', pfm, { ...PFM_DEFAULTS, height: 128, width: 128, epochs: 1, batchSize: 2 }, { featureCacheMb: 1 }, 'imagesOnDisk'],
    ['SimpleNet', simplenet, { ...SIMPLENET_DEFAULTS, height: 128, width: 128, epochs: 1, batchSize: 2 }, { featureCacheMb: 1 }, 'imagesOnDisk'],
  ] as const;

  for (const [name, method, config, inMemory, flag] of cases) {
    it(`${name} trains the same model from disk as from memory and removes its file`, async () => {
      const m = method as unknown as Method<Record<string, unknown>>;
      const input = m.input(config as unknown as Record<string, unknown>);
      const held = await m.fit(batches(train, input), train.length, { ...config, ...inMemory });
      const spilled = await m.fit(batches(train, input), train.length, { ...config, featureCacheMb: 0 });
      const record = (model: FittedModel) => model.describe()['training'] as Record<string, unknown>;
      expect(record(held)[flag]).toBe(false);
      expect(record(spilled)[flag]).toBe(true);
      expect(readdirSync(spillDir).filter((f) => f.startsWith('argus-spill-'))).toEqual([]);
      expect(await scores(spilled, input)).toEqual(await scores(held, input));
    }, 300_000);
  }
});
