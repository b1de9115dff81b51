import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Explanation } from '../../src-main/api/contract.ts';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { describeImages } from '../../src-main/features/image-descriptor.ts';
import type { ImageBatch } from '../../src-main/methods/method.ts';
import { PATCHCORE_DEFAULTS } from '../../src-main/methods/patchcore/defaults.ts';
import { fitPatchCore, PatchCoreModel, PatchEmbedder } from '../../src-main/methods/patchcore/model.ts';
import { decodeModel, encodeModel } from '../../src-main/methods/persistence.ts';
import { PositionNormModel } from '../../src-main/methods/position-norm.ts';
import { pictureArgmax, tileOf, TiledModel } from '../../src-main/methods/tiling.ts';
import { runWorkerTask } from '../../src-main/jobs/worker-host.ts';
import type { Explained } from '../../src-main/jobs/worker-protocol.ts';
import { decodeTensorFile, encodeTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { Station } from '../../src-main/services/station.ts';
import { trainingRecordOf } from '../../src-main/services/training-record.ts';
import { images, models } from '../../src-main/store/index.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { stripDataset } from '../fixtures/strips.ts';
import { call, finished } from '../fixtures/station.ts';
import { runCli } from '../fixtures/cli.ts';

const small = { height: 128, width: 128 };

function entries(paths: readonly string[]) {
  return paths.map((path) => ({ path, split: 'train' as const, defectType: '', defective: false }));
}

async function batchesOf(paths: readonly string[], input: PatchCoreModel['input'], batchSize = 4): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of imageBatches(loadBatches(entries(paths), input, { batchSize }))) out.push(b);
  return out;
}

async function* stream(batches: readonly ImageBatch[]) {
  yield* batches;
}

/** Per image, its patch features [cells, D]. */
async function patchFeatures(paths: readonly string[], config: typeof PATCHCORE_DEFAULTS, input: PatchCoreModel['input']): Promise<Float32Array[]> {
  const embedder = await PatchEmbedder.open(config);
  const out: Float32Array[] = [];
  for (const b of await batchesOf(paths, input, 1)) out.push((await embedder.embed(b)).features);
  return out;
}

function squaredDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k]! - b[k]!) ** 2;
  return s;
}

function expectInside(box: Explanation['flagged']['box'], image: { width: number; height: number }): void {
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.width).toBeGreaterThan(0);
  expect(box.height).toBeGreaterThan(0);
  expect(box.x + box.width).toBeLessThanOrEqual(image.width);
  expect(box.y + box.height).toBeLessThanOrEqual(image.height);
}

describe('PatchCore memory-bank provenance', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 1 });
  const train = readdirSync(join(data, 'train/good')).sort().map((f) => join(data, 'train/good', f));
  const config = { ...PATCHCORE_DEFAULTS, ...small };

  it('every bank row of a streamed (bounded-memory) fit is the feature of the training image and cell it records', async () => {
    // 6 images of 16 x 16 patches = 1536 rows, one image a batch: more than the 1024 rows held (at least
    // 4 batches' worth), so the fit streams chunks of 512 rows through a pool of 512
    const model = await fitPatchCore(stream(await batchesOf(train, { height: 128, width: 128, filter: 'bilinear', resize: 'stretch' }, 1)), train.length, { ...config, fitMemoryRows: 1024 });
    const input = model.input;
    const features = await patchFeatures(train, config, input);
    const D = model.index.dim;
    expect(model.provenance!.images).toBe(train.length);
    for (let row = 0; row < model.index.size; row++) {
      const image = model.provenance!.sources[row * 2]!;
      const cell = model.provenance!.sources[row * 2 + 1]!;
      const bankRow = model.index.bank.subarray(row * D, (row + 1) * D);
      expect(squaredDistance(bankRow, features[image]!.subarray(cell * D, (cell + 1) * D)), `row ${row}`).toBeLessThan(1e-6);
    }
  });

  it('extending a bank numbers the added images after the fitted ones; the provenance survives saving and loading', async () => {
    const input = { height: 128, width: 128, filter: 'bilinear', resize: 'stretch' } as const;
    const base = await fitPatchCore(stream(await batchesOf(train.slice(0, 4), input)), 4, config);
    const extended = await base.extended(stream(await batchesOf(train.slice(4), input)));
    const loaded = (await decodeModel(extended.serialize())) as PatchCoreModel;
    expect(loaded.provenance!.images).toBe(6);
    expect(loaded.provenance!.sources).toEqual(extended.provenance!.sources);
    const features = await patchFeatures(train, config, input);
    const D = loaded.index.dim;
    const added = Array.from({ length: loaded.index.size - base.index.size }, (_, i) => base.index.size + i);
    expect(added.length).toBeGreaterThan(0);
    for (const row of added) {
      const image = loaded.provenance!.sources[row * 2]!;
      expect(image).toBeGreaterThanOrEqual(4);
      const cell = loaded.provenance!.sources[row * 2 + 1]!;
      expect(squaredDistance(loaded.index.bank.subarray(row * D, (row + 1) * D), features[image]!.subarray(cell * D, (cell + 1) * D))).toBeLessThan(1e-6);
    }
  });

  it('a model saved without provenance still loads and answers without a source', async () => {
    const input = { height: 128, width: 128, filter: 'bilinear', resize: 'stretch' } as const;
    const model = await fitPatchCore(stream(await batchesOf(train.slice(0, 2), input)), 2, config);
    const file = decodeTensorFile(model.serialize());
    const tensors = new Map(file.tensors);
    tensors.delete('bank_source');
    const { sourceImages: _, ...meta } = file.meta;
    const old = (await decodeModel(encodeTensorFile({ meta, tensors }))) as PatchCoreModel;
    expect(old.provenance).toBeNull();
    const [test] = await batchesOf([train[5]!], input, 1);
    const why = await old.nearestPatch(test!);
    expect(why.source).toBeNull();
    expect(why.distance).toBeGreaterThan(0);
  });

  it("a per-position normalised model is explained, in its worker, at the patch where its normalised map peaks", async () => {
    const input = { height: 128, width: 128, filter: 'bilinear', resize: 'stretch' } as const;
    const inner = await fitPatchCore(stream(await batchesOf(train.slice(0, 4), input)), 4, config);
    const [test] = await batchesOf([train[5]!], input, 1);
    const raw = await inner.nearestPatch(test!);
    const [rows, columns] = [raw.gridHeight, raw.gridWidth];
    // statistics that shrink the map everywhere but one quarter of the picture, the quarter away from
    // the raw worst patch: the normalised map peaks there, so the explanation must too
    const rawInTop = Math.floor(raw.cell / columns) < rows / 2;
    const kept = (q: number) => (Math.floor(q / 128) < 64) !== rawInTop && q % 128 < 64;
    const scale = Float32Array.from({ length: 128 * 128 }, (_, q) => (kept(q) ? 1 : 1000));
    const normalised = new PositionNormModel(inner, { mean: new Float32Array(128 * 128), scale, images: 8 }, undefined);
    let explained: Explained | undefined;
    await runWorkerTask({ task: 'explain', model: encodeModel(normalised), image: { path: train[5]! }, descriptors: null }, (m) => {
      if (m.type === 'explained') explained = m.explained;
    }).done;
    const patch = explained!.patch!;
    const [p] = await normalised.predict(test!);
    const peak = p!.map.indexOf(Math.max(...p!.map));
    expect(kept(peak)).toBe(true);
    expect(patch.cell).toBe(Math.floor(Math.floor(peak / 128) * rows / 128) * columns + Math.floor((peak % 128) * columns / 128));
    expect(patch.cell).not.toBe(raw.cell);
    expect(patch.patchSize).toBe(config.patchSize);
    expect(patch.tile).toBeNull();
    // the patch and its nearest normal patch are the detector's: its own score and bank row for that cell
    const direct = await inner.nearestPatch(test!, (map) => pictureArgmax(normalised.normalise(map), 128, undefined));
    expect(patch).toEqual({ ...direct, patchSize: config.patchSize, tile: null, source: { ...direct.source!, tile: null } });
  });
});

describe('results.explain: why a part was flagged', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-explain-')), 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 2 });
  const station = new Station();
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function trainAndInspect(productName: string, method: 'patchcore' | 'padim', config: Record<string, string | number | boolean> = small, source = data) {
    const product = await call(station, 'products.create', { name: productName });
    expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [source], layout: 'mvtec' }))).status).toBe('succeeded');
    const trained = await finished(station, await call(station, 'models.train', { productId: product.id, method, config }));
    expect(trained.status, trained.error ?? '').toBe('succeeded');
    const [model] = await call(station, 'models.list', { productId: product.id });
    const tests = (await call(station, 'images.list', { productId: product.id, split: 'test', limit: 100 })).items;
    const job = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: tests.map((i) => i.id) }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const results = (await call(station, 'results.list', { modelId: model!.id, limit: 100 })).items;
    const trainImages = (await call(station, 'images.list', { productId: product.id, split: 'train', limit: 100 })).items;
    return { product, model: model!, worst: results[0]!, trainImages };
  }

  it('PatchCore: the flagged patch and its nearest bank patch (a brute-force nearest neighbour), cut from their images', async () => {
    await call(station, 'project.create', { dir, name: 'Explain' });
    const { model, worst, trainImages } = await trainAndInspect('PN-patch', 'patchcore');
    const why = await call(station, 'results.explain', { resultId: worst.id, maxSide: 256 });
    expect(why.kind).toBe('patch');
    expect(why.unavailable).toBeNull();
    const flaggedImage = await call(station, 'images.get', { id: worst.imageId });
    const nearestImage = await call(station, 'images.get', { id: why.nearest!.imageId });
    expect(trainImages.map((i) => i.id)).toContain(why.nearest!.imageId);
    expectInside(why.flagged.box, flaggedImage);
    expectInside(why.nearest!.box, nearestImage);
    expect(why.flagged.picture.width).toBeGreaterThan(0);
    expect(why.nearest!.picture.width).toBeGreaterThan(0);

    // brute force over the stored bank, from the model and the image as the store holds them
    const p = station.project();
    const stored = (await decodeModel(new Uint8Array(models.readModelBlob(p, models.get(p, model.id), 'model')))) as PatchCoreModel;
    const record = trainingRecordOf(p, models.get(p, model.id))!;
    const config = stored.config;
    const [query] = await patchFeatures([images.filePath(p, images.get(p, worst.imageId))], config, stored.input);
    const D = stored.index.dim;
    const { row: r, column: c, gridWidth } = why.flagged.cell!;
    const q = query!.subarray((r * gridWidth + c) * D, (r * gridWidth + c + 1) * D);
    // the flagged cell is the worst patch: its nearest-bank distance is the image score
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < stored.index.size; i++) {
      const d = squaredDistance(q, stored.index.bank.subarray(i * D, (i + 1) * D));
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    expect(why.nearest!.distance).toBeCloseTo(Math.sqrt(bestD), 3);
    expect(why.flagged.patchScore!).toBeCloseTo(worst.score, 3);
    const ordinal = stored.provenance!.sources[best * 2]!;
    const cell = stored.provenance!.sources[best * 2 + 1]!;
    expect(why.nearest!.imageId).toBe(record.imageIds[ordinal]);
    expect(why.nearest!.cell).toEqual({ row: Math.floor(cell / gridWidth), column: cell % gridWidth });
  });

  it('PaDiM: the most similar normal training image by the distance between global descriptors', async () => {
    const { worst, trainImages } = await trainAndInspect('PN-image', 'padim');
    const why = await call(station, 'results.explain', { resultId: worst.id, maxSide: 128 });
    expect(why.kind).toBe('image');
    expect(why.flagged.cell).toBeNull();
    const p = station.project();
    const input = { height: 128, width: 128, filter: 'lanczos', resize: 'stretch' } as const;
    const spec = { backbone: 'mobilenet_v2_features', tap: 'feat_s16_exp' };
    const own = (await describeImages(spec, (await batchesOf([images.filePath(p, images.get(p, worst.imageId))], input, 1))[0]!)).data;
    const distances = await Promise.all(trainImages.map(async (t) => {
      const d = (await describeImages(spec, (await batchesOf([images.filePath(p, images.get(p, t.id))], input, 1))[0]!)).data;
      return { id: t.id, d: Math.sqrt(squaredDistance(own, d)) };
    }));
    distances.sort((a, b) => a.d - b.d);
    expect(why.nearest!.imageId).toBe(distances[0]!.id);
    expect(why.nearest!.distance).toBeCloseTo(distances[0]!.d, 3);
    expectInside(why.nearest!.box, await call(station, 'images.get', { id: why.nearest!.imageId }));
  });

  it('PatchCore tiled and normalised per position: the patch in the tile around the normalised peak, and its nearest bank patch in the training strip and tile it came from', async () => {
    // 16 training strips, 8 of them held out (every other one) for the statistics: bank rows must name their strip among all 16
    const strips = await stripDataset(sharedDataset('mpdd_metal_plate'), { parts: 4, maxImages: 4 });
    const config = { resize: 'tile', height: 128, width: 512, tileSize: 128, tileOverlap: 16, positionNorm: true };
    const { model, worst, trainImages } = await trainAndInspect('PN-strip', 'patchcore', config, strips);
    rmSync(strips, { recursive: true, force: true });
    const why = await call(station, 'results.explain', { resultId: worst.id, maxSide: 128 });
    expect(why.kind).toBe('patch');
    expect(why.unavailable).toBeNull();
    const [tile, twinTile] = [why.flagged.tile!, why.nearest!.tile!];
    expect(tile.size).toBe(128);
    expect(trainImages.map((i) => i.id)).toContain(why.nearest!.imageId);
    expectInside(why.flagged.box, await call(station, 'images.get', { id: worst.imageId }));
    expectInside(why.nearest!.box, await call(station, 'images.get', { id: why.nearest!.imageId }));

    const p = station.project();
    const stored = (await decodeModel(new Uint8Array(models.readModelBlob(p, models.get(p, model.id), 'model')))) as PositionNormModel;
    const tiled = stored.inner as TiledModel;
    const detector = tiled.inner as PatchCoreModel;
    const embedder = await PatchEmbedder.open(detector.config);
    const D = detector.index.dim;
    const canvasOf = async (imageId: number) => (await batchesOf([images.filePath(p, images.get(p, imageId))], stored.input, 1))[0]!;
    const featureAt = async (imageId: number, tileIndex: number, cell: { row: number; column: number }) => {
      const { features, gridW } = await embedder.embed(tileOf(await canvasOf(imageId), tiled.grid, tileIndex));
      const c = cell.row * gridW + cell.column;
      return features.slice(c * D, (c + 1) * D);
    };
    // the flagged tile and cell hold the peak of the map that scored the part (normalised, stitched)
    const canvas = await canvasOf(worst.imageId);
    const [prediction] = await stored.predict(canvas);
    const peak = pictureArgmax(prediction!.map, canvas.width, canvas.content?.[0]);
    const [x, y] = [peak % canvas.width, Math.floor(peak / canvas.width)];
    const { row, column, gridHeight, gridWidth } = why.flagged.cell!;
    expect([row, column]).toEqual([Math.floor(((y - tile.top) * gridHeight) / tile.size), Math.floor(((x - tile.left) * gridWidth) / tile.size)]);
    // the nearest patch is the bank's nearest row to that patch, and it is the feature of the strip, tile and cell named
    const query = await featureAt(worst.imageId, tile.index, why.flagged.cell!);
    let best = Infinity;
    for (let i = 0; i < detector.index.size; i++) best = Math.min(best, squaredDistance(query, detector.index.bank.subarray(i * D, (i + 1) * D)));
    expect(why.nearest!.distance).toBeCloseTo(Math.sqrt(best), 3);
    const twin = await featureAt(why.nearest!.imageId, twinTile.index, why.nearest!.cell!);
    expect(Math.sqrt(squaredDistance(query, twin))).toBeCloseTo(why.nearest!.distance, 3);
  }, 120_000);

  it('a model stored before training images were recorded answers why the nearest patch is unavailable', async () => {
    const p = station.project();
    const [patch] = await call(station, 'products.list', {});
    const v1 = (await call(station, 'models.list', { productId: patch!.id }))[0]!;
    const stored = models.get(p, v1.id);
    // an older model: the same bank, no provenance, no training record
    const file = decodeTensorFile(new Uint8Array(models.readModelBlob(p, stored, 'model')));
    const tensors = new Map(file.tensors);
    tensors.delete('bank_source');
    const old = models.add(p, {
      productId: stored.productId, method: stored.method, backboneId: stored.backboneId, backboneSha256: stored.backboneSha256,
      config: stored.config, dataManifestSha256: stored.dataManifestSha256, blobs: { model: encodeTensorFile({ meta: file.meta, tensors }) },
    });
    const tests = (await call(station, 'images.list', { productId: patch!.id, split: 'test', limit: 1 })).items;
    await finished(station, await call(station, 'inspection.run', { modelId: old.id, imageIds: [tests[0]!.id] }));
    const [result] = (await call(station, 'results.list', { modelId: old.id })).items;
    const why = await call(station, 'results.explain', { resultId: result!.id, maxSide: 64 });
    expect(why.nearest).toBeNull();
    expect(why.unavailable).toMatch(/train a new model version/);
    expect(why.flagged.cell).not.toBeNull();
  });

  it('argus results --explain prints the flagged patch and its nearest normal patch and writes both pictures', async () => {
    const [patch] = await call(station, 'products.list', {});
    const v1 = (await call(station, 'models.list', { productId: patch!.id }))[0]!;
    const [worst] = (await call(station, 'results.list', { modelId: v1.id, limit: 1 })).items;
    const expected = await call(station, 'results.explain', { resultId: worst!.id, maxSide: 64 });
    await call(station, 'project.close', {});
    const out = join(dir, '..', 'why');
    const r = await runCli(['results', '--project', dir, '--explain', String(worst!.id), '--out', out]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`most anomalous patch of image ${worst!.imageId} at row ${expected.flagged.cell!.row}, column ${expected.flagged.cell!.column}`);
    expect(r.output).toContain(`nearest normal patch: training image ${expected.nearest!.imageId}`);
    expect(existsSync(join(out, `result-${worst!.id}-flagged.png`))).toBe(true);
    expect(existsSync(join(out, `result-${worst!.id}-nearest.png`))).toBe(true);
  }, 120_000);
});
