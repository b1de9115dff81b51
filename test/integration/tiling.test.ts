import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { getMethod } from '../../src-main/methods/index.ts';
import type { FittedModel } from '../../src-main/methods/method.ts';
import { decodeModel, encodeModel } from '../../src-main/methods/persistence.ts';
import { PatchCoreModel } from '../../src-main/methods/patchcore/model.ts';
import { TiledModel } from '../../src-main/methods/tiling.ts';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { Station } from '../../src-main/services/station.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';
import { stripDataset } from '../fixtures/strips.ts';

describe('tiling on long strips cut from real metal plates (MPDD)', async () => {
  // 512x128 strips (4:1): the long thin parts that squashing to a square ruins
  const data = await stripDataset(sharedDataset('mpdd_metal_plate'), { parts: 4, maxImages: 5 });
  const config = { resize: 'tile', height: 128, width: 512, tileSize: 128, tileOverlap: 16, coresetRatio: 0.25 };
  let fitted: FittedModel | undefined;

  it('fits on tiles, scores every strip from its stitched map and finds the defects', async () => {
    const r = await evaluateDataset(data, { method: 'patchcore', config, batchSize: 4, onFitted: (m) => void (fitted = m) });
    expect(fitted).toBeInstanceOf(TiledModel);
    expect(r.model).toMatchObject({ resize: 'tile', tiles: 5, tileColumns: 5, tileRows: 1 });
    expect(r.nTrain).toBe(20);
    expect(r.pixelAuroc).toBeGreaterThan(0.85);
    expect(Number.isFinite(r.imageAuroc)).toBe(true);
  });

  it('scores an image the same alone as in a batch, and loads back from its saved form with the same scores', async () => {
    const model = fitted!;
    const test = scanMvtec(data).test.slice(0, 3);
    const batch = (await imageBatches(loadBatches(test, model.input, { batchSize: 3 })).next()).value!;
    const together = await model.predict(batch);
    const plane = 3 * batch.height * batch.width;
    const alone = await model.predict({ ...batch, n: 1, data: batch.data.slice(plane, 2 * plane), content: [batch.content![1]!] });
    expect(alone[0]!.score).toBeCloseTo(together[1]!.score, 5);
    expect(together[0]!.map.length).toBe(128 * 512);

    const loaded = await decodeModel(encodeModel(model), 'saved tiled model');
    expect(loaded).toBeInstanceOf(TiledModel);
    expect(loaded.input).toEqual(model.input);
    expect(loaded.trainingScores).toEqual(model.trainingScores);
    const again = await loaded.predict(batch);
    again.forEach((p, i) => expect(p.score).toBeCloseTo(together[i]!.score, 6));
  });

  it("with the approximate search, gives the exact search's image scores: the tiles under the maximum are re-scored exactly, also where an ignore region hides it", async () => {
    const exactModel = fitted as TiledModel;
    const inner = exactModel.inner as PatchCoreModel;
    const approximate = exactModel.withInner(inner.withSearch('approximate'));
    const test = scanMvtec(data).test.filter((t) => t.defective).slice(0, 4);
    const loaded = (await imageBatches(loadBatches(test, exactModel.input, { batchSize: 4 })).next()).value!;
    // the left half of every canvas ignored: the maximum over the rest is certified too
    const ignore = new Uint8Array(loaded.n * 128 * 512);
    for (let i = 0; i < loaded.n; i++) for (let y = 0; y < 128; y++) ignore.fill(1, (i * 128 + y) * 512, (i * 128 + y) * 512 + 256);
    for (const batch of [loaded, { ...loaded, ignore }]) {
      const [want, got] = [await exactModel.predict(batch), await approximate.predict(batch)];
      // without the re-scoring, the stitched approximate maps peak higher than the exact ones
      const twinless: FittedModel = { method: 'patchcore', input: inner.input, backbone: inner.backbone, predict: (b) => inner.withSearch('approximate').predict(b), describe: () => ({}), serialize: () => new Uint8Array() };
      const raw = await exactModel.withInner(twinless).predict(batch);
      expect(raw.some((r, i) => r.score > want[i]!.score * (1 + 1e-5))).toBe(true);
      const keptMax = (map: Float32Array, i: number) => map.reduce((m, v, p) => (batch.ignore?.[i * map.length + p] === 1 || p % 512 >= loaded.content![i]!.width ? m : Math.max(m, v)), -Infinity);
      got.forEach((g, i) => {
        expect(g.score).toBeCloseTo(want[i]!.score, 4);
        expect(keptMax(g.map, i)).toBeCloseTo(keptMax(want[i]!.map, i), 4);
        // every value an upper bound of the exact one
        expect(g.map.every((v, p) => v >= want[i]!.map[p]! - 1e-4)).toBe(true);
      });
    }
  });

  it('refuses a canvas smaller than a tile and an overlap of half a tile or more, naming the setting', () => {
    const method = getMethod('patchcore');
    expect(() => method.validate!({ ...method.defaults, ...config, height: 96 })).toThrow(/smaller than one 128 px tile/);
    expect(() => method.validate!({ ...method.defaults, ...config, tileOverlap: 64 })).toThrow(/tile overlap/);
    expect(() => method.validate!({ ...method.defaults, resize: 'squash' })).toThrow(/resize must be one of/);
  });
});

describe('resize auto in the station (long strips)', async () => {
  const data = await stripDataset(sharedDataset('mpdd_metal_plate'), { parts: 4, maxImages: 2 });
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-auto-')), 'project');
  const station = new Station();
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('proposes tiles for 4:1 parts, trains a new model with them by default, keeps the reason, and inspects with it', async () => {
    await call(station, 'project.create', { dir, name: 'Strips' });
    const product = await call(station, 'products.create', { name: 'STRIP-4' });
    expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const proposal = await call(station, 'models.proposeInput', { productId: product.id, method: 'patchcore' });
    expect(proposal).toMatchObject({ resize: 'tile', height: 256, width: 1024, tileSize: 256, tileOverlap: 32 });
    expect(proposal.reason).toMatch(/^images 4\.00:1 \(512x128\): 5 tiles of 256 px over a 256x1024 canvas/);

    const job = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', config: { coresetRatio: 0.05 } }));
    expect(job.status).toBe('succeeded');
    expect((job.result as { input: string }).input).toBe(proposal.reason);
    const [model] = await call(station, 'models.list', { productId: product.id });
    expect(model!.config).toMatchObject({ resize: 'tile', height: 256, width: 1024, inputChoice: proposal.reason });

    const tests = (await call(station, 'images.list', { productId: product.id, split: 'test', limit: 6 })).items.map((i) => i.id);
    const inspected = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: tests, name: 'Lot S-1' }));
    expect(inspected.status).toBe('succeeded');
    const { items } = await call(station, 'results.list', { modelId: model!.id, source: 'inspection' });
    expect(items.length).toBe(tests.length);
    for (const r of items) expect(Number.isFinite(r.score)).toBe(true);
  }, 600_000);

  it('refuses an input size beside resize auto, saying how to set one', async () => {
    const [product] = await call(station, 'products.list', {});
    await expect(call(station, 'models.train', { productId: product!.id, method: 'patchcore', config: { resize: 'auto', tileSize: 128 } })).rejects.toThrow(/INVALID_REQUEST .*resize 'auto' chooses the input size/);
  });
});
