/**
 * Training leaves features under ignore regions out (issue 13): SimpleNet's discriminator batches and
 * CFLOW-AD's flow fibres skip the cells whose centre lies in a training image's ignore region, PFM and
 * PEFM train those cells with the nearest kept cell's features (PatchCore's
 * bank and PaDiM's statistics: patchcore.test.ts / padim.extend.test.ts). Real metal-plate images with a
 * product region over their left quarter, as the station hands it to a fit (a PNG per image).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { CFLOW_DEFAULTS } from '../../src-main/methods/cflow/defaults.ts';
import { fitCflow } from '../../src-main/methods/cflow/model.ts';
import type { InputSpec } from '../../src-main/methods/method.ts';
import { SIMPLENET_DEFAULTS } from '../../src-main/methods/simplenet/defaults.ts';
import { fitSimpleNet } from '../../src-main/methods/simplenet/model.ts';
import { cflow } from '../../src-main/methods/cflow/method.ts';
import { PEFM_DEFAULTS, PFM_DEFAULTS } from '../../src-main/methods/pfm/defaults.ts';
import { pefm, pfm } from '../../src-main/methods/pfm/method.ts';
import { levelSpecs } from '../../src-main/methods/pfm/features.ts';
import { simplenet } from '../../src-main/methods/simplenet/method.ts';
import { encodePng } from '../../src-main/vision/picture.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

/** A product region: white (ignored) over the left quarter of a 1024 x 1024 picture. */
async function leftQuarter(): Promise<Uint8Array> {
  const px = new Uint8Array(1024 * 1024);
  for (let y = 0; y < 1024; y++) px.fill(255, y * 1024, y * 1024 + 256);
  return new Uint8Array((await encodePng(px, 1024, 1024, 1)).png);
}

/** Cells of a gridH x gridW grid over a side x side input whose centre lies outside the left quarter. */
function keptCells(side: number, gridH: number, gridW: number): number {
  let kept = 0;
  for (let c = 0; c < gridW; c++) if (Math.floor(((c + 0.5) * side) / gridW) >= side / 4) kept += gridH;
  return kept;
}

describe('training features under ignore regions stay out of the losses', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 1 });
  const train = readdirSync(join(data, 'train/good')).sort().map((f) => join(data, 'train/good', f));
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  async function* batches(paths: readonly string[], input: InputSpec, region: Uint8Array | null, batchSize = 2) {
    const entries = paths.map((path) => ({ path, split: 'train' as const, defectType: '', defective: false, ...(region ? { ignore: [region] } : {}) }));
    yield* imageBatches(loadBatches(entries, input, { batchSize }));
  }

  it('SimpleNet trains on the patches outside the region only', async () => {
    const config = { ...SIMPLENET_DEFAULTS, height: 128, width: 128, batchSize: 2, epochs: 1 };
    const input = simplenet.input(config);
    const region = await leftQuarter();
    const images = train.slice(0, 4);
    const ignoring = await fitSimpleNet(batches(images, input, region), images.length, config);
    const plain = await fitSimpleNet(batches(images, input, null), images.length, config);
    const [a, b] = [ignoring.describe()['training'], plain.describe()['training']] as Array<{ patchesPerImage: number; patchesPerEpoch: number }>;
    const grid = Math.sqrt(b!.patchesPerImage);
    expect(b!.patchesPerEpoch).toBe(images.length * grid * grid);
    expect(a!.patchesPerEpoch).toBe(images.length * keptCells(128, grid, grid));
    expect(a!.patchesPerEpoch).toBeLessThan(b!.patchesPerEpoch);
    // scoring still covers the whole image
    for await (const test of batches([train[5]!], input, null, 1)) expect((await ignoring.predict(test))[0]!.grid!.values).toHaveLength(grid * grid);
  }, 300_000);

  it('CFLOW-AD shuffles the fibres outside the region only, tap by tap', async () => {
    const config = { ...CFLOW_DEFAULTS, height: 128, width: 128, blocks: 2, epochs: 1, subEpochs: 1, holdoutMin: 1, holdout: 0 };
    const input = cflow.input(config);
    const region = await leftQuarter();
    const model = await fitCflow(batches(train, input, region), train.length, config);
    const record = model.describe()['training'] as { heldOut: number[]; fibres: Record<string, number> };
    const fitted = train.length - record.heldOut.length;
    for (const [tap, stride] of [['feat_s8_exp', 8], ['feat_s16_exp', 16], ['feat_s32_exp', 32]] as const) {
      const grid = 128 / stride;
      expect(record.fibres[tap], tap).toBe(fitted * keptCells(128, grid, grid));
    }
  }, 300_000);

  for (const [name, method, defaults] of [['PFM', pfm, PFM_DEFAULTS], ['PEFM', pefm, PEFM_DEFAULTS]] as const) {
    it(`${name} trains the region's cells with the nearest kept cell's features, level by level, and still scores every cell`, async () => {
      const config = { ...defaults, height: 128, width: 128, epochs: 1, batchSize: 2 };
      const input = method.input(config);
      const region = await leftQuarter();
      const images = train.slice(0, 4);
      const model = await method.fit(batches(images, input, region), images.length, config);
      const record = model.describe()['training'] as { ignoredCells: number[] };
      expect(record.ignoredCells).toHaveLength(config.levels.length);
      levelSpecs(config).forEach((l, k) => {
        const grid = l.gridW;
        expect(l.gridH).toBe(grid);
        expect(record.ignoredCells[k], `level ${l.level}`).toBe(images.length * (grid * grid - keptCells(128, grid, grid)));
      });
      // without the feature cache (images kept, features extracted again per batch) the stand-ins are the same
      const uncached = name === 'PFM' ? await method.fit(batches(images, input, region), images.length, { ...config, featureCacheMb: 0 }) : null;
      if (uncached) expect((uncached.describe()['training'] as { cachedFeatures: boolean }).cachedFeatures).toBe(false);
      for await (const test of batches([train[5]!], input, null, 1)) {
        const [p] = await model.predict(test);
        expect(p!.map).toHaveLength(128 * 128);
        expect(p!.map.every(Number.isFinite)).toBe(true);
        if (uncached) expect(Math.abs((await uncached.predict(test))[0]!.score - p!.score)).toBeLessThan(1e-4 * p!.score);
      }
    }, 300_000);
  }
});
