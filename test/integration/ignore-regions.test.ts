import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ignoringRegions } from '../../src-main/methods/anomaly-map.ts';
import { aupro, pooledPixels } from '../../src-main/metrics/index.ts';
import { Station } from '../../src-main/services/station.ts';
import { decodeMask } from '../../src-main/vision/mask.ts';
import { encodePng } from '../../src-main/vision/picture.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

/** The mask grown by `r` pixels in every direction (a square neighbourhood), as 0 / 255 bytes. */
function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let dx = Math.max(0, x - r); dx <= Math.min(width - 1, x + r); dx++) rows[y * width + dx] = 1;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      if (!rows[y * width + x]) continue;
      for (let dy = Math.max(0, y - r); dy <= Math.min(height - 1, y + r); dy++) out[dy * width + x] = 255;
    }
  }
  return out;
}

describe('ignore regions', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-ignore-')), 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 3, testDefect: 3 });
  const station = new Station();
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a part whose only anomaly lies under an ignore region passes; without the region it fails (image and product regions)', async () => {
    await call(station, 'project.create', { dir, name: 'Ignore' });
    const product = await call(station, 'products.create', { name: 'PN-9' });
    expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const train = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', config: { height: 128, width: 128 } }));
    expect(train.status, train.error ?? '').toBe('succeeded');
    const [model] = await call(station, 'models.list', { productId: product.id });
    expect((await finished(station, await call(station, 'models.evaluate', { modelId: model!.id }))).status).toBe('succeeded');
    const evaluated = (await call(station, 'results.list', { modelId: model!.id, source: 'evaluation' })).items;
    const worst = evaluated.filter((r) => r.imageVerdict === 'defective').sort((a, b) => b.score - a.score)[0]!;
    const maxGood = Math.max(...evaluated.filter((r) => r.imageVerdict === 'good').map((r) => r.score));
    expect(worst.score).toBeGreaterThan(maxGood);
    // fail above the good parts' highest score; outline with a pixel threshold at it
    await call(station, 'thresholds.set', { modelId: model!.id, imageThreshold: (maxGood + worst.score) / 2, pixelThreshold: maxGood, note: 'test' });

    const image = await call(station, 'images.get', { id: worst.imageId });
    const truth = await call(station, 'masks.get', { imageId: worst.imageId, kind: 'ground_truth' });
    const gt = await decodeMask(Buffer.from(truth!.png, 'base64'), 'ground truth');
    // the defect and the blur around it (the map's Gaussian spreads a patch's score by ~4 input pixels of 128)
    const region = dilate(gt.data, gt.width, gt.height, Math.round(image.width / 10));
    const png = Buffer.from((await encodePng(region, gt.width, gt.height, 1)).png).toString('base64');

    const inspect = async (name: string) => {
      const job = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: [worst.imageId], name }));
      expect(job.status, job.error ?? '').toBe('succeeded');
      return (await call(station, 'results.list', { modelId: model!.id, jobId: job.id })).items[0]!;
    };
    const plain = await inspect('no region');
    expect(plain.verdict).toBe('fail');
    expect(plain.defectAreaPx).toBeGreaterThan(0);

    await call(station, 'masks.set', { imageId: worst.imageId, kind: 'ignore', png });
    const ignored = await inspect('image region');
    expect(ignored.verdict).toBe('pass');
    expect(ignored.score).toBeLessThan(plain.score);
    expect(ignored.defectAreaPx).toBeNull();

    // the same region drawn once for the product applies to every image of it
    await call(station, 'masks.delete', { imageId: worst.imageId, kind: 'ignore' });
    expect((await inspect('removed again')).verdict).toBe('fail');
    const withRegion = await call(station, 'products.setIgnore', { productId: product.id, png });
    expect(withRegion.ignore).toMatchObject({ width: gt.width, height: gt.height });
    expect((await call(station, 'products.ignore', { productId: product.id }))!.png).toBe(png);
    const byProduct = await inspect('product region');
    expect(byProduct.verdict).toBe('pass');
    expect(byProduct.score).toBeCloseTo(ignored.score, 5);
    await call(station, 'products.setIgnore', { productId: product.id, png: null });
    expect((await inspect('product region removed')).score).toBeCloseTo(plain.score, 5);
  });

  it('refuses an ignore region that covers the whole image or is not a PNG', async () => {
    const [product] = await call(station, 'products.list', {});
    const everything = Buffer.from((await encodePng(new Uint8Array(64).fill(255), 8, 8, 1)).png).toString('base64');
    await expect(call(station, 'products.setIgnore', { productId: product!.id, png: everything })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(call(station, 'products.setIgnore', { productId: product!.id, png: Buffer.from('not a png').toString('base64') })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect((await call(station, 'products.list', {}))[0]!.ignore).toBeNull();
  });
});

describe('ignored pixels in scores and metrics', () => {
  it('the image score is the worst kept patch, the ignored map pixels take the lowest kept value', () => {
    // a 4 x 4 map from a 2 x 2 patch grid; the hottest patch (top left) is under the region
    const grid = { values: Float32Array.from([9, 1, 2, 3]), width: 2, height: 2 };
    const map = Float32Array.from([9, 9, 1, 1, 9, 9, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
    const ignore = Uint8Array.from([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r = ignoringRegions({ score: 9, grid }, map, 4, 4, ignore);
    expect(r.score).toBe(3);
    expect(Array.from(r.map.subarray(0, 4))).toEqual([1, 1, 1, 1]);
    // methods without a patch grid: the largest kept map value
    expect(ignoringRegions({ score: 9 }, map, 4, 4, ignore).score).toBe(3);
    // nothing kept: nothing changes
    expect(ignoringRegions({ score: 9, grid }, map, 4, 4, new Uint8Array(16).fill(1)).score).toBe(9);
  });

  it('pixel metrics leave ignored pixels out: neither defect nor normal', () => {
    const map = Float32Array.from([0.5, 0.1, 0.8, 0.2]);
    const mask = Uint8Array.from([1, 0, 0, 0]);
    // a high-scoring normal pixel under the region no longer counts as a false positive
    const ignore = Uint8Array.from([0, 0, 1, 0]);
    const pooled = pooledPixels([{ map, mask, width: 2, height: 2, ignore }]);
    expect(Array.from(pooled.scores)).toEqual([0.5, 0.1, 0.2].map(Math.fround));
    expect(Array.from(pooled.labels)).toEqual([1, 0, 0]);
    expect(aupro([{ map, mask, width: 2, height: 2, ignore }], 1)).toBeCloseTo(1, 6);
    expect(aupro([{ map, mask, width: 2, height: 2 }], 1)).toBeCloseTo(2 / 3, 6);
  });
});
