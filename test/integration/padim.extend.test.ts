/**
 * PaDiM without a retrain and under ignore regions, on real metal-plate images (MPDD subset):
 * adding normal images updates the per-position Gaussians exactly, and training features under
 * ignore regions stay out of the statistics.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import type { SufficientStats } from '../../src-main/methods/padim/covariance.ts';
import { PADIM_DEFAULTS } from '../../src-main/methods/padim/defaults.ts';
import { fitPadim, PadimModel } from '../../src-main/methods/padim/model.ts';
import type { ImageBatch } from '../../src-main/methods/method.ts';
import { decodeModel } from '../../src-main/methods/persistence.ts';
import { decodeTensorFile, encodeTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { Station } from '../../src-main/services/station.ts';
import { encodePng } from '../../src-main/vision/picture.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { models } from '../../src-main/store/index.ts';
import { call, finished } from '../fixtures/station.ts';

const config = { ...PADIM_DEFAULTS, height: 128, width: 128 };
const input = { height: 128, width: 128, filter: 'lanczos', resize: 'stretch' } as const;
const d = config.channels;

async function batches(paths: readonly string[], ignore: ReadonlyArray<readonly Uint8Array[] | undefined> = []): Promise<ImageBatch[]> {
  const entries = paths.map((path, i) => ({ path, split: 'train' as const, defectType: '', defective: false, ...(ignore[i] ? { ignore: ignore[i] } : {}) }));
  const out: ImageBatch[] = [];
  for await (const b of imageBatches(loadBatches(entries, input, { batchSize: 3 }))) out.push(b);
  return out;
}

async function* stream(list: readonly ImageBatch[]) {
  yield* list;
}

async function fit(paths: readonly string[], ignore: ReadonlyArray<readonly Uint8Array[] | undefined> = []): Promise<PadimModel> {
  return fitPadim(stream(await batches(paths, ignore)), paths.length, config);
}

/** Position p's unbiased covariance [d, d] from the stored scatter. */
function covariance(s: SufficientStats, p: number): Float64Array {
  const n = s.counts[p]!;
  const cov = new Float64Array(d * d);
  let k = p * ((d * (d + 1)) / 2);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) cov[i * d + j] = cov[j * d + i] = s.scatter[k++]! / (n - 1);
  return cov;
}

/** max |a − b| over max |b|: agreement relative to the values' scale. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

function positionMean(s: SufficientStats | PadimModel['stats'], p: number): Float32Array {
  return s.mean.subarray(p * d, (p + 1) * d);
}

/** A PNG mask of the image's size, white (ignored) over the left `fraction` of its width. */
async function leftRegion(fraction: number, width = 1024, height = 1024): Promise<Uint8Array> {
  const px = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < Math.floor(width * fraction); x++) px[y * width + x] = 255;
  return new Uint8Array((await encodePng(px, width, height, 1)).png);
}

describe('PaDiM on real metal-plate images: statistics that grow and leave ignored features out', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 7, testGood: 1, testDefect: 1 });
  const train = readdirSync(join(data, 'train/good')).sort().map((f) => join(data, 'train/good', f));
  const P = 32 * 32;
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it('extending a model with images gives the statistics of a fit on the union (to 1e-5), and the same scores', async () => {
    const base = await fit(train.slice(0, 4));
    const extended = await base.extended(stream(await batches(train.slice(4))));
    const union = await fit(train);
    const [e, u] = [extended.sufficient!, union.sufficient!];
    expect(Array.from(e.counts)).toEqual(Array.from(u.counts));
    expect(e.counts[0]).toBe(7);
    expect(relativeDifference(e.mean, u.mean)).toBeLessThan(1e-5);
    for (const p of [0, 17, 500, P - 1]) expect(relativeDifference(covariance(e, p), covariance(u, p)), `position ${p}`).toBeLessThan(1e-5);
    expect(relativeDifference(extended.stats.mean, union.stats.mean)).toBeLessThan(1e-5);
    // the Gaussians score a held-out image alike (the whitening amplifies float32 rounding a little)
    const [test] = await batches([join(data, 'test/defect', readdirSync(join(data, 'test/defect'))[0]!)]);
    const [a] = await extended.predict(test!);
    const [b] = await union.predict(test!);
    expect(Math.abs(a!.score - b!.score) / b!.score).toBeLessThan(1e-3);
    // what a stored model keeps is enough to extend it again
    const loaded = (await decodeModel(extended.serialize())) as PadimModel;
    expect(Array.from(loaded.sufficient!.scatter)).toEqual(Array.from(e.scatter));
  }, 240_000);

  it('a model stored without its sufficient statistics loads, scores, and refuses to be extended', async () => {
    const model = await fit(train.slice(0, 3));
    // as an older version stored it: the Gaussians only
    const file = decodeTensorFile(model.serialize());
    const tensors = new Map([...file.tensors].filter(([name]) => name === 'mean' || name === 'whitening'));
    const loaded = (await decodeModel(encodeTensorFile({ meta: file.meta, tensors }))) as PadimModel;
    const [test] = await batches([train[4]!]);
    expect((await loaded.predict(test!))[0]!.score).toBeCloseTo((await model.predict(test!))[0]!.score, 4);
    expect(loaded.sufficient).toBeNull();
    await expect(loaded.extended(stream(await batches(train.slice(3, 4))))).rejects.toThrow(/train a new version/);
  }, 120_000);

  it('positions under an image\'s ignore region take nothing from that image; elsewhere the statistics are unchanged', async () => {
    const region = await leftRegion(0.25);
    const ignoring = await fit(train.slice(0, 5), [[region]]);
    const without = await fit(train.slice(0, 5));
    const others = await fit(train.slice(1, 5));
    const [i, w, o] = [ignoring.sufficient!, without.sufficient!, others.sufficient!];
    // grid columns 0-7 of 32 have their centres in the left quarter
    const under = (p: number) => p % 32 < 8;
    for (let p = 0; p < P; p++) expect(i.counts[p], `position ${p}`).toBe(under(p) ? 4 : 5);
    for (const p of [0, 7, 32 * 20 + 3]) {
      expect(relativeDifference(positionMean(i, p), positionMean(o, p)), `position ${p}`).toBeLessThan(1e-5);
      expect(relativeDifference(covariance(i, p), covariance(o, p)), `position ${p}`).toBeLessThan(1e-5);
    }
    for (const p of [8, 31, 32 * 20 + 16]) {
      expect(relativeDifference(positionMean(i, p), positionMean(w, p)), `position ${p}`).toBeLessThan(1e-6);
      expect(relativeDifference(covariance(i, p), covariance(w, p)), `position ${p}`).toBeLessThan(1e-6);
    }
  }, 240_000);

  it('positions ignored in every training image score against the Gaussian of all kept features (the pooled fallback)', async () => {
    const region = await leftRegion(0.25);
    const model = await fit(train.slice(0, 4), train.slice(0, 4).map(() => [region]));
    const s = model.sufficient!;
    const kept = Array.from({ length: P }, (_, p) => p).filter((p) => s.counts[p]! > 0);
    expect(kept).toHaveLength(P - 32 * 8);
    // the pooled mean: every kept feature, whatever its position
    const pooled = new Float64Array(d);
    for (const p of kept) for (let k = 0; k < d; k++) pooled[k]! += (s.counts[p]! * s.mean[p * d + k]!) / (kept.length * 4);
    for (const p of [0, 32 * 31 + 7]) {
      expect(s.counts[p]).toBe(0);
      expect(relativeDifference(positionMean(model.stats, p), pooled)).toBeLessThan(1e-5);
    }
    expect(model.stats.whitening.every(Number.isFinite)).toBe(true);
    // and the model still scores every pixel of an image
    const [test] = await batches([train[5]!]);
    const [prediction] = await model.predict(test!);
    expect(prediction!.map.every(Number.isFinite)).toBe(true);
  }, 240_000);
});

describe('models.extend on a PaDiM model', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-padim-extend-')), 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 5, testGood: 2, testDefect: 1 });
  const station = new Station();
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  /** The stored PaDiM model's per-position sample counts. */
  async function countsOf(modelId: number): Promise<Float32Array> {
    const p = station.project();
    const model = (await decodeModel(new Uint8Array(models.readModelBlob(p, models.get(p, modelId), 'model')))) as PadimModel;
    return model.sufficient!.counts;
  }

  it('adds a reviewed good part as the next version in seconds, with its training scores and the images it came from; the product region stays out', async () => {
    await call(station, 'project.create', { dir, name: 'PaDiM extend' });
    const product = await call(station, 'products.create', { name: 'PN-padim' });
    expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    // a product region over the left quarter of every image (drawn at another size than the images)
    await call(station, 'products.setIgnore', { productId: product.id, png: Buffer.from(await leftRegion(0.25, 400, 400)).toString('base64') });
    const trained = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'padim', config: { height: 128, width: 128 } }));
    expect(trained.status, trained.error ?? '').toBe('succeeded');
    const [v1] = await call(station, 'models.list', { productId: product.id });
    const under = (p: number) => p % 32 < 8;
    const v1Counts = await countsOf(v1!.id);
    expect(Array.from(v1Counts).every((n, p) => n === (under(p) ? 0 : 5))).toBe(true);
    const good = (await call(station, 'images.list', { productId: product.id, split: 'test', verdict: 'good' })).items;
    await call(station, 'images.setSplit', { ids: good.map((i) => i.id), split: 'train' });
    const started = Date.now();
    const job = await finished(station, await call(station, 'models.extend', { modelId: v1!.id, imageIds: good.map((i) => i.id) }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const seconds = (Date.now() - started) / 1000;
    const v2 = (await call(station, 'models.list', { productId: product.id }))[1]!;
    expect(v2).toMatchObject({ version: 2, method: 'padim', config: { extendedFrom: { modelId: v1!.id, version: 1, imageIds: good.map((i) => i.id) }, trained: { sufficientStatistics: true } } });
    expect(v2.metrics).toMatchObject({ trainingScores: v1!.metrics!['trainingScores'] as object });
    expect(job.result).toMatchObject({ modelId: v2.id, addedImages: good.length });
    expect(Array.from(await countsOf(v2.id)).every((n, p) => n === (under(p) ? 0 : 5 + good.length))).toBe(true);
    console.log(`PaDiM models.extend with ${good.length} images at 128 px: ${seconds.toFixed(1)} s (job, worker start included)`);
    // the new version is explained against all of its training images, the added ones included
    const tests = (await call(station, 'images.list', { productId: product.id, split: 'test' })).items;
    await finished(station, await call(station, 'inspection.run', { modelId: v2.id, imageIds: tests.map((i) => i.id) }));
    const [result] = (await call(station, 'results.list', { modelId: v2.id })).items;
    expect((await call(station, 'results.explain', { resultId: result!.id, maxSide: 64 })).nearest).not.toBeNull();
  }, 300_000);
});
