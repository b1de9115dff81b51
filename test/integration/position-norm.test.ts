import { describe, expect, it } from 'vitest';
import { decodeTensorFile, encodeTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { evenlySpaced, scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { getMethod } from '../../src-main/methods/index.ts';
import type { FittedModel, ImageBatch } from '../../src-main/methods/method.ts';
import { decodeModel, encodeModel } from '../../src-main/methods/persistence.ts';
import { PatchCoreModel } from '../../src-main/methods/patchcore/model.ts';
import { PositionNormModel, type PositionStatistics } from '../../src-main/methods/position-norm.ts';
import { TiledModel } from '../../src-main/methods/tiling.ts';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { stripDataset } from '../fixtures/strips.ts';

describe('per-position normalisation on long strips cut from real metal plates (MPDD)', async () => {
  const data = await stripDataset(sharedDataset('mpdd_metal_plate'), { parts: 4, maxImages: 5 });
  const config = { resize: 'tile', height: 128, width: 512, tileSize: 128, tileOverlap: 16, coresetRatio: 0.25, positionNorm: true };
  let fitted: FittedModel | undefined;
  const defective = async (model: FittedModel): Promise<ImageBatch> => {
    const test = scanMvtec(data).test.filter((t) => t.defective).slice(0, 3);
    return (await imageBatches(loadBatches(test, model.input, { batchSize: 3 })).next()).value!;
  };

  it("holds half of the 20 normal strips out of the fit, and scores every pixel against their mean and spread there", async () => {
    const r = await evaluateDataset(data, { method: 'patchcore', config, batchSize: 4, onFitted: (m) => void (fitted = m) });
    const model = fitted as PositionNormModel;
    expect(model).toBeInstanceOf(PositionNormModel);
    expect(model.inner).toBeInstanceOf(TiledModel);
    // the bank holds the patches of the 10 fitted strips: 5 tiles of 16x16 patches each
    expect(r.model).toMatchObject({ positionNorm: true, positionNormImages: 10, resize: 'tile', tiles: 5, trainPatches: 10 * 5 * 16 * 16 });
    expect(r.pixelAuroc).toBeGreaterThan(0.85);
    // the held-out strips' maps are z-scores of themselves: their median pixel sits near 0
    expect(Math.abs(model.trainingScores!.pixelMedian)).toBeLessThan(0.5);

    const batch = await defective(model);
    const [raw, normalised] = [await model.inner.predict(batch), await model.predict(batch)];
    const { mean, scale } = model.statistics;
    expect(scale.every((s) => s > 0)).toBe(true);
    normalised.forEach((p, i) => {
      const w = batch.content![i]!.width;
      for (const at of [0, 4321, 128 * 512 - 1]) expect(p.map[at]).toBeCloseTo((raw[i]!.map[at]! - mean[at]!) / scale[at]!, 5);
      // the image score is the normalised map's largest value over the picture
      expect(p.score).toBe(p.map.reduce((m, v, q) => (q % 512 < w ? Math.max(m, v) : m), -Infinity));
    });
  });

  it('loads back from its saved form normalised, with the same scores and training scores', async () => {
    const model = fitted!;
    const loaded = await decodeModel(encodeModel(model), 'saved normalised model');
    expect(loaded).toBeInstanceOf(PositionNormModel);
    expect(loaded.trainingScores).toEqual(model.trainingScores);
    expect(loaded.describe()).toMatchObject({ positionNorm: true, positionNormImages: 10 });
    const batch = await defective(model);
    const [want, got] = [await model.predict(batch), await loaded.predict(batch)];
    got.forEach((p, i) => expect(p.score).toBeCloseTo(want[i]!.score, 6));

    // a file whose spread would divide by zero is refused, not scored with infinities
    const file = decodeTensorFile(encodeModel(model), 'saved normalised model');
    const scale = Float32Array.from(file.tensors.get('positionScale')!.data);
    scale[100] = 0;
    const damaged = encodeTensorFile({ meta: file.meta, tensors: new Map([...file.tensors, ['positionScale', { dims: file.tensors.get('positionScale')!.dims, data: scale }]]) });
    await expect(decodeModel(damaged, 'damaged model')).rejects.toThrow(/damaged model: the per-position mean must be finite and the spread finite and positive/);
  });

  it("with the approximate search, keeps the exact search's normalised image scores: the tiles under the normalised maximum are re-scored", async () => {
    const model = fitted as PositionNormModel;
    const tiled = model.inner as TiledModel;
    const approximately = (statistics: PositionStatistics) => new PositionNormModel(tiled.withInner((tiled.inner as PatchCoreModel).withSearch('approximate')), statistics, undefined);
    const test = scanMvtec(data).test;
    const loaded = (await imageBatches(loadBatches(evenlySpaced(test, 8), model.input, { batchSize: 8 })).next()).value!;
    // the left half of every canvas ignored: the maximum over the rest is certified too
    const ignore = new Uint8Array(loaded.n * 128 * 512);
    for (let i = 0; i < loaded.n; i++) for (let y = 0; y < 128; y++) ignore.fill(1, (i * 128 + y) * 512, (i * 128 + y) * 512 + 256);
    const [want, got] = [await model.predict({ ...loaded, ignore }), await approximately(model.statistics).predict({ ...loaded, ignore })];
    got.forEach((p, i) => expect(p.score).toBeCloseTo(want[i]!.score, 4));

    // statistics that put every strip's normalised maximum in the first tile, away from where most raw
    // maxima lie: certifying the raw maximum instead would leave some of the first twelve strips' scores
    // too high
    const scale = Float32Array.from({ length: 128 * 512 }, (_, q) => (q % 512 < 128 ? 1 : 1000));
    const pinned = { mean: new Float32Array(128 * 512), scale, images: 8 };
    let wrongly = 0;
    for await (const batch of imageBatches(loadBatches(test.slice(0, 12), model.input, { batchSize: 6 }))) {
      const exact = await new PositionNormModel(tiled, pinned, undefined).predict(batch);
      const certified = await approximately(pinned).predict(batch);
      const rawCertified = await tiled.withInner((tiled.inner as PatchCoreModel).withSearch('approximate')).predict(batch);
      exact.forEach((e, i) => {
        expect(certified[i]!.score).toBeCloseTo(e.score, 4);
        const z = rawCertified[i]!.map.map((v, q) => (v - pinned.mean[q]!) / scale[q]!);
        if (z.reduce((m, v, q) => (q % 512 < batch.content![i]!.width ? Math.max(m, v) : m), -Infinity) > e.score + 1e-3) wrongly++;
      });
    }
    expect(wrongly).toBeGreaterThan(0);
  });

  it('refuses fewer than 16 normal images before fitting anything, naming what it needs', async () => {
    const method = getMethod('patchcore');
    let read = false;
    const train = (async function* () {
      read = true;
      yield* [];
    })();
    await expect(method.fit(train, 12, { ...method.defaults, ...config })).rejects.toThrow(/needs at least 16 normal training images \(8 or more are held out .*\); there are 12/);
    expect(read).toBe(false);
  });
});
