import { describe, expect, it } from 'vitest';
import { decodeTensorFile, encodeTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { evenlySpaced, scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { getMethod } from '../../src-main/methods/index.ts';
import { ignoringRegions } from '../../src-main/methods/anomaly-map.ts';
import type { FittedModel, ImageBatch } from '../../src-main/methods/method.ts';
import { flaggedPatch } from '../../src-main/methods/patchcore/flagged-patch.ts';
import { decodeModel, encodeModel, ModelFormatError } from '../../src-main/methods/persistence.ts';
import { PositionNormModel } from '../../src-main/methods/position-norm.ts';
import { shrinkBatch, TwoScaleModel } from '../../src-main/methods/score-scale.ts';
import { pictureArgmax, TiledModel } from '../../src-main/methods/tiling.ts';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { Refiner } from '../../src-main/refine/refine.ts';
import { loadTrainingImages } from '../../src-main/refine/training-images.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { stripDataset } from '../fixtures/strips.ts';

describe('a tiled model with its image score at a second, smaller scale (scoreSide), on long strips cut from real metal plates (MPDD)', async () => {
  const data = await stripDataset(sharedDataset('mpdd_metal_plate'), { parts: 4, maxImages: 5 });
  // the map model reads 128x512 canvases in 96 px tiles, the score model the same parts at 96x384
  const [H, W, h, w] = [128, 512, 96, 384];
  const native = { resize: 'tile', height: H, width: W, tileSize: 96, tileOverlap: 16, coresetRatio: 0.25, positionNorm: true };
  const config = { ...native, scoreSide: h };
  let fitted: FittedModel | undefined;
  const testBatch = async (model: FittedModel, n = 8): Promise<ImageBatch> =>
    (await imageBatches(loadBatches(evenlySpaced(scanMvtec(data).test, n), model.input, { batchSize: n })).next()).value!;

  it('fits the native-resolution map model and a score model at a 96 px short side, each normalised by its own held-out maps', async () => {
    const r = await evaluateDataset(data, { method: 'patchcore', config, batchSize: 4, onFitted: (m) => void (fitted = m) });
    const model = fitted as TwoScaleModel;
    expect(model).toBeInstanceOf(TwoScaleModel);
    expect(model.input).toMatchObject({ height: H, width: W, resize: 'tile' });
    expect(model.score.input).toMatchObject({ height: h, width: w, resize: 'tile' });
    for (const part of [model.map, model.score]) {
      expect(part).toBeInstanceOf(PositionNormModel);
      expect((part as PositionNormModel).inner).toBeInstanceOf(TiledModel);
    }
    expect(r.model).toMatchObject({ scoreSide: 96, scoreCanvas: '96x384', tiles: 14, positionNormImages: 10, scoreModel: { tiles: 5, positionNormImages: 10 } });
    expect(r.pixelAuroc).toBeGreaterThan(0.85);
    expect(r.imageAuroc).toBeGreaterThan(0.6); // ten fitted strips: the ranking is above chance, not more

    // the map is the map model's; the score is the score model's, on the batch's second canvas
    const batch = await testBatch(model);
    const [both, maps, scores] = [await model.predict(batch), await model.map.predict(batch), await model.score.predict(batch.second!)];
    both.forEach((p, i) => {
      expect(p.map).toEqual(maps[i]!.map);
      expect(p.score).toBe(scores[i]!.score);
    });
    expect(new Set(both.map((p, i) => p.score === maps[i]!.score)).has(false)).toBe(true);
  });

  it('fits the score model in the same pass exactly as a fit of its own at the score canvas would', async () => {
    const model = fitted as TwoScaleModel;
    const method = getMethod('patchcore');
    const train = scanMvtec(data).train;
    const alone = await method.fit(imageBatches(loadBatches(train, model.score.input, { batchSize: 4 })), train.length, { ...method.defaults, ...native, height: h, width: w });
    const batch = (await testBatch(model)).second!;
    const [want, got] = [await alone.predict(batch), await model.score.predict(batch)];
    got.forEach((p, i) => expect(p.score).toBeCloseTo(want[i]!.score, 5));
  });

  it('reads the score canvas from the original image, not from the native canvas shrunk (resampled once, not twice)', async () => {
    const model = fitted as TwoScaleModel;
    // magnetic tiles of varied sizes: neither canvas is the picture's own size
    const tiles = evenlySpaced(scanMvtec(sharedDataset('magnetic_tile')).test, 3);
    const first = async (input: FittedModel['input']) => (await imageBatches(loadBatches(tiles, input, { batchSize: 3 })).next()).value as ImageBatch | undefined;
    const [loaded, direct] = [await first(model.input), await first(model.score.input)];
    expect(model.input.second).toEqual({ height: h, width: w });
    expect(loaded!.second!.data).toEqual(direct!.data);
    expect(loaded!.second!.content).toEqual(direct!.content);
    const shrunk = shrinkBatch(loaded!, h, w, 'bilinear');
    let differs = 0;
    for (let i = 0; i < shrunk.data.length; i++) differs = Math.max(differs, Math.abs(shrunk.data[i]! - direct!.data[i]!));
    expect(differs).toBeGreaterThan(0.05);
    // and the two-scale score is the score model's on that canvas
    const [both, alone] = [await model.predict(loaded!), await model.score.predict(direct!)];
    both.forEach((p, i) => expect(p.score).toBe(alone[i]!.score));
  });

  it('loads back from its saved form with both models, the same scores and maps; a file without its score model is refused', async () => {
    const model = fitted!;
    const bytes = encodeModel(model);
    const loaded = await decodeModel(bytes, 'saved two-scale model');
    expect(loaded).toBeInstanceOf(TwoScaleModel);
    expect(loaded.trainingScores).toEqual(model.trainingScores);
    const batch = await testBatch(model, 4);
    const [want, got] = [await model.predict(batch), await loaded.predict(batch)];
    got.forEach((p, i) => {
      expect(p.score).toBeCloseTo(want[i]!.score, 5);
      expect(p.map[12345]).toBeCloseTo(want[i]!.map[12345]!, 5);
    });
    const file = decodeTensorFile(bytes, 'saved two-scale model');
    const { scoreModel: _, ...meta } = file.meta;
    await expect(decodeModel(encodeTensorFile({ meta, tensors: file.tensors }), 'stripped model')).rejects.toThrow(ModelFormatError);
    await expect(decodeModel(encodeTensorFile({ meta, tensors: file.tensors }), 'stripped model')).rejects.toThrow(/stripped model: .*score model's meta/);
    const scoreModel = { ...(file.meta['scoreModel'] as Record<string, unknown>), trainingScores: { images: 'eight' } };
    await expect(decodeModel(encodeTensorFile({ meta: { ...meta, scoreModel }, tensors: file.tensors }), 'bad scores')).rejects.toThrow(/bad scores: the score model's 'trainingScores' is malformed/);
  });

  it("leaves ignore regions out of the score model's score, and the station keeps that score when it masks the map", async () => {
    const model = fitted as TwoScaleModel;
    const batch = await testBatch(model, 4);
    const plane = H * W;
    const plain = await model.predict(batch);
    // ignore the part of each canvas around where the score model's map peaks
    const shrunk = shrinkBatch(batch, h, w, 'bilinear');
    const peaks = await model.score.predict(shrunk);
    const ignore = new Uint8Array(batch.n * plane);
    peaks.forEach((p, i) => {
      const at = pictureArgmax(p.map, w, shrunk.content?.[i]);
      const x = Math.round(((at % w) * W) / w);
      for (let y = 0; y < H; y++) ignore.fill(1, i * plane + y * W + Math.max(0, x - 64), i * plane + y * W + Math.min(W, x + 64));
    });
    // masks drawn on the native canvases by hand: without a second canvas of its own the batch is shrunk
    const { second: _, ...nativeOnly } = batch;
    const masked = await model.predict({ ...nativeOnly, ignore });
    const again = await model.score.predict(shrinkBatch({ ...batch, ignore }, h, w, 'bilinear'));
    masked.forEach((p, i) => {
      const m = again[i]!.map;
      const keep = shrinkBatch({ ...batch, ignore }, h, w, 'bilinear').ignore!.subarray(i * h * w, (i + 1) * h * w);
      expect(p.score).toBe(m[pictureArgmax(m, w, shrunk.content?.[i], keep)]);
      expect(p.score).toBeLessThan(plain[i]!.score);
      // the station's masking of the map keeps the two-scale score (the map's own maximum would differ)
      const own = ignore.subarray(i * plane, (i + 1) * plane);
      expect(ignoringRegions(p, p.map, W, H, own).score).toBe(p.score);
    });
  });

  it('adds normal images to both memory banks in one pass (add to normal), keeping both normalisations', async () => {
    const model = fitted as TwoScaleModel;
    const good = scanMvtec(data).test.filter((t) => !t.defective).slice(0, 3);
    const grown = (await model.extended(imageBatches(loadBatches(good, model.input, { batchSize: 2 })))) as TwoScaleModel;
    expect(grown).toBeInstanceOf(TwoScaleModel);
    const bank = (m: FittedModel) => (m.describe()['memoryBank'] as number[])[0]!;
    // 3 images of 14 tiles (map) and of 5 tiles (score), 12x12 patches a tile, a quarter of them kept
    expect(bank(grown.map) - bank(model.map)).toBe(Math.floor((3 * 14 * 144) / 4));
    expect(bank(grown.score) - bank(model.score)).toBe(Math.floor((3 * 5 * 144) / 4));
    expect((grown.map as PositionNormModel).statistics).toBe((model.map as PositionNormModel).statistics);
    expect((grown.score as PositionNormModel).statistics).toBe((model.score as PositionNormModel).statistics);
  });

  it('explains a flag by the map model: the same patch as the map model alone', async () => {
    const model = fitted as TwoScaleModel;
    const one = await testBatch(model, 1);
    expect(await flaggedPatch(model, one)).toEqual(await flaggedPatch(model.map, one));
  });

  it("refines (F2PAD) the map model's maps: its detector map is the map model's, not re-scored at the second scale", async () => {
    const model = fitted as TwoScaleModel;
    const training = await loadTrainingImages(scanMvtec(data).train, model.input, 4);
    const refiner = await Refiner.create(model, { images: training });
    try {
      expect(refiner.model).toBe(model.map);
      const batch = await testBatch(model, 1);
      const x = { data: batch.data, width: W, height: H, content: batch.content![0]! };
      expect(await refiner.detectorMap(x)).toEqual((await model.map.predict(batch))[0]!.map);
    } finally {
      await refiner.release();
    }
  });

  it('refuses settings it cannot honour before anything is fitted', () => {
    const method = getMethod('patchcore');
    const check = (c: Record<string, unknown>) => () => method.validate!({ ...method.defaults, ...c });
    expect(check({ resize: 'letterbox', height: 256, width: 256, scoreSide: 128 })).toThrow(/goes with resize 'tile'/);
    expect(check({ ...native, scoreSide: H })).toThrow(/below the canvas's short side/);
    expect(check({ ...native, scoreSide: 80 })).toThrow(/hold one 96 px tile/);
    expect(check({ ...native, scoreSide: 12.5 })).toThrow(/whole number/);
    expect(check(config)).not.toThrow();
  });
});
