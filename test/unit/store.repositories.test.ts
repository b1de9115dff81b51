import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createProject, images, jobs, masks, models, products, reports, results, sha256Hex, thresholds, verifyProject,
  type Project,
} from '../../src-main/store/index.ts';
import { fakePng, tempDir, storeErrorCode } from '../fixtures/store.ts';

function withProject(): Project {
  const p = createProject(join(tempDir(), 'project'), 'Test');
  return p;
}

function seed(p: Project, n = 3): { productId: number; imageIds: number[] } {
  const productId = products.add(p, { name: 'PN-1' }).id;
  const imageIds = Array.from({ length: n }, (_, i) => images.add(p, {
    productId, originalPath: `/cam/${i}.png`, data: fakePng(8, 6, 16, i), width: 8, height: 6, format: 'png', split: 'train',
  }).id);
  return { productId, imageIds };
}

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function addModel(p: Project, productId: number, bank = Buffer.from('bank')): models.Model {
  return models.add(p, {
    productId, method: 'patchcore', backboneId: 'wide_resnet50_2', backboneSha256: SHA_A, config: { coreset: 0.1 },
    dataManifestSha256: SHA_B, blobs: { memory_bank: bank },
  });
}

describe('products', () => {
  it('adds, lists and finds products by name; names are unique', () => {
    const p = withProject();
    const a = products.add(p, { name: 'PN-1', description: 'bracket' });
    expect(products.findByName(p, 'PN-1')).toEqual(a);
    expect(() => products.add(p, { name: 'PN-1' })).toThrow(expect.objectContaining({ code: 'CONSTRAINT' }));
    expect(storeErrorCode(() => products.get(p, 99))).toBe('NOT_FOUND');
    expect(() => products.get(p, -1)).toThrow(RangeError);
    p.close();
  });
});

describe('images', () => {
  it('stores a copy named by sha256 under images/ and records size, format, split and label', () => {
    const p = withProject();
    const productId = products.add(p, { name: 'PN-1' }).id;
    const data = fakePng(8, 6, 100);
    const img = images.add(p, { productId, originalPath: '/cam/a.png', data, width: 8, height: 6, format: 'png', split: 'test', verdict: 'defective', defectType: 'scratch' });
    expect(img.sha256).toBe(sha256Hex(data));
    expect(img.storedPath).toBe(`images/${img.sha256.slice(0, 2)}/${img.sha256}.png`);
    expect(readFileSync(images.filePath(p, img))).toEqual(data);
    expect(images.readBytes(p, img)).toEqual(data);
    expect(img).toMatchObject({ width: 8, height: 6, format: 'png', split: 'test', verdict: 'defective', defectType: 'scratch', byteSize: data.length });
    p.close();
  });

  it('refuses the same bytes twice in one product (DUPLICATE_IMAGE) but allows them in another', () => {
    const p = withProject();
    const a = products.add(p, { name: 'A' }).id;
    const b = products.add(p, { name: 'B' }).id;
    const data = fakePng(8, 6);
    const input = { originalPath: '/x.png', data, width: 8, height: 6, format: 'png' as const, split: 'train' as const };
    images.add(p, { productId: a, ...input });
    expect(storeErrorCode(() => images.add(p, { productId: a, ...input, originalPath: '/copy.png' }))).toBe('DUPLICATE_IMAGE');
    expect(images.add(p, { productId: b, ...input }).productId).toBe(b);
    expect(images.count(p, a)).toBe(1);
    p.close();
  });

  it('validates arguments: wrong types are TypeError, out-of-range values RangeError', () => {
    const p = withProject();
    const productId = products.add(p, { name: 'A' }).id;
    const ok = { productId, originalPath: '/x.png', data: fakePng(8, 6), width: 8, height: 6, format: 'png' as const, split: 'train' as const };
    expect(() => images.add(p, { ...ok, data: 'bytes' as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => images.add(p, { ...ok, width: 0 })).toThrow(RangeError);
    expect(() => images.add(p, { ...ok, split: 'holdout' as 'train' })).toThrow(RangeError);
    expect(() => images.add(p, { ...ok, format: 'gif' as 'png' })).toThrow(RangeError);
    expect(() => images.add(p, { ...ok, productId: 999 })).toThrow(expect.objectContaining({ code: 'CONSTRAINT' }));
    p.close();
  });

  it('lists by split and verdict, relabels one image and moves a set between splits all or none', () => {
    const p = withProject();
    const { productId, imageIds } = seed(p, 4);
    images.setLabel(p, imageIds[0]!, { verdict: 'defective', defectType: 'crack' });
    expect(images.setSplit(p, [imageIds[2]!, imageIds[3]!], 'test')).toBe(2);
    expect(images.list(p, { productId, split: 'test' }).map((i) => i.id)).toEqual([imageIds[2], imageIds[3]]);
    expect(images.list(p, { productId, verdict: 'defective' }).map((i) => i.defectType)).toEqual(['crack']);
    expect(storeErrorCode(() => images.setSplit(p, [imageIds[0]!, 999], 'validation'))).toBe('NOT_FOUND');
    expect(images.get(p, imageIds[0]!).split).toBe('train');
    p.close();
  });
});

describe('masks', () => {
  it('keeps one ground-truth and one ignore mask per image as PNG blobs, replacing on set', () => {
    const p = withProject();
    const { imageIds } = seed(p, 1);
    const id = imageIds[0]!;
    const first = masks.set(p, { imageId: id, kind: 'ground_truth', png: fakePng(8, 6, 10, 1) });
    masks.set(p, { imageId: id, kind: 'ignore', png: fakePng(8, 6, 10, 2) });
    const second = masks.set(p, { imageId: id, kind: 'ground_truth', png: fakePng(8, 6, 10, 3) });
    expect(second.id).toBe(first.id);
    expect(second.sha256).not.toBe(first.sha256);
    expect(masks.readPng(p, second)).toEqual(fakePng(8, 6, 10, 3));
    expect(masks.listForImage(p, id).map((m) => m.kind)).toEqual(['ground_truth', 'ignore']);
    expect(masks.remove(p, id, 'ignore')).toBe(true);
    expect(masks.find(p, id, 'ignore')).toBeUndefined();
    p.close();
  });

  it('refuses a mask of the wrong size or one that is not a PNG (MASK_MISMATCH)', () => {
    const p = withProject();
    const { imageIds } = seed(p, 1);
    expect(storeErrorCode(() => masks.set(p, { imageId: imageIds[0]!, kind: 'ground_truth', png: fakePng(6, 8) }))).toBe('MASK_MISMATCH');
    expect(storeErrorCode(() => masks.set(p, { imageId: imageIds[0]!, kind: 'ground_truth', png: Buffer.from('not a png at all, just text') }))).toBe('MASK_MISMATCH');
    expect(storeErrorCode(() => masks.set(p, { imageId: 999, kind: 'ground_truth', png: fakePng(8, 6) }))).toBe('NOT_FOUND');
    p.close();
  });
});

describe('models and thresholds', () => {
  it('versions models per product and never overwrites one; blobs read back by name', () => {
    const p = withProject();
    const { productId } = seed(p, 0);
    const m1 = addModel(p, productId, Buffer.from('bank one'));
    const m2 = addModel(p, productId, Buffer.from('bank two'));
    expect([m1.version, m2.version]).toEqual([1, 2]);
    expect(models.readModelBlob(p, m1, 'memory_bank').toString()).toBe('bank one');
    expect(m1.blobs.memory_bank).toBe(sha256Hex(Buffer.from('bank one')));
    expect(existsSync(join(p.dir, 'blobs', m1.blobs.memory_bank!.slice(0, 2), m1.blobs.memory_bank!))).toBe(true);
    expect(models.latest(p, productId)?.id).toBe(m2.id);
    expect(models.setMetrics(p, m1.id, { imageAuroc: 0.98 }).metrics).toEqual({ imageAuroc: 0.98 });
    expect(storeErrorCode(() => models.readModelBlob(p, m1, 'mean'))).toBe('NOT_FOUND');
    expect(() => models.add(p, { ...m1, backboneSha256: 'nope', blobs: {} })).toThrow(TypeError);
    p.close();
  });

  it('detects a parameter file whose bytes changed on disk (BLOB_CORRUPT) or vanished (BLOB_MISSING)', () => {
    const p = withProject();
    const m = addModel(p, seed(p, 0).productId);
    const file = join(p.dir, 'blobs', m.blobs.memory_bank!.slice(0, 2), m.blobs.memory_bank!);
    writeFileSync(file, 'tampered');
    expect(storeErrorCode(() => models.readModelBlob(p, m, 'memory_bank'))).toBe('BLOB_CORRUPT');
    rmSync(file);
    expect(storeErrorCode(() => models.readModelBlob(p, m, 'memory_bank'))).toBe('BLOB_MISSING');
    p.close();
  });

  it('versions thresholds per model with an optional review band and decides pass / review / fail', () => {
    const p = withProject();
    const m = addModel(p, seed(p, 0).productId);
    const t1 = thresholds.add(p, { modelId: m.id, imageThreshold: 0.5 });
    const t2 = thresholds.add(p, { modelId: m.id, imageThreshold: 0.5, reviewLow: 0.4, reviewHigh: 0.7, note: 'review band' });
    expect([t1.version, t2.version]).toEqual([1, 2]);
    expect(thresholds.latest(p, m.id)?.id).toBe(t2.id);
    expect([0.3, 0.5, 0.8].map((s) => thresholds.decide(t1, s))).toEqual(['pass', 'fail', 'fail']);
    expect([0.3, 0.5, 0.8].map((s) => thresholds.decide(t2, s))).toEqual(['pass', 'review', 'fail']);
    expect(() => thresholds.add(p, { modelId: m.id, imageThreshold: 0.5, reviewLow: 0.4 })).toThrow(RangeError);
    expect(() => thresholds.add(p, { modelId: m.id, imageThreshold: 0.9, reviewLow: 0.4, reviewHigh: 0.7 })).toThrow(RangeError);
    expect(() => thresholds.add(p, { modelId: m.id, imageThreshold: Number.NaN })).toThrow(RangeError);
    p.close();
  });
});

describe('jobs', () => {
  it('goes queued -> running -> succeeded with progress, step and message', () => {
    const p = withProject();
    const job = jobs.create(p, { kind: 'train', params: { method: 'padim' } });
    expect(job).toMatchObject({ status: 'queued', progress: 0, params: { method: 'padim' } });
    jobs.start(p, job.id);
    expect(jobs.progress(p, job.id, { fraction: 0.25, step: 'features', message: '30 / 120' })).toMatchObject({ progress: 0.25, step: 'features', message: '30 / 120' });
    const done = jobs.finish(p, job.id, 'succeeded');
    expect(done).toMatchObject({ status: 'succeeded', progress: 1 });
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(jobs.list(p, { status: 'succeeded' }).map((j) => j.id)).toEqual([job.id]);
    p.close();
  });

  it('refuses changes the life cycle does not allow (INVALID_TRANSITION)', () => {
    const p = withProject();
    const job = jobs.create(p, { kind: 'inspect' });
    expect(storeErrorCode(() => jobs.progress(p, job.id, { fraction: 0.1 }))).toBe('INVALID_TRANSITION');
    expect(storeErrorCode(() => jobs.finish(p, job.id, 'succeeded'))).toBe('INVALID_TRANSITION');
    expect(jobs.finish(p, job.id, 'cancelled').status).toBe('cancelled');
    expect(storeErrorCode(() => jobs.start(p, job.id))).toBe('INVALID_TRANSITION');
    const failing = jobs.start(p, jobs.create(p, { kind: 'train' }).id);
    expect(() => jobs.finish(p, failing.id, 'failed')).toThrow(TypeError);
    expect(jobs.finish(p, failing.id, 'failed', { error: 'out of memory' }).error).toBe('out of memory');
    expect(() => jobs.progress(p, failing.id, { fraction: 2 })).toThrow(RangeError);
    expect(storeErrorCode(() => jobs.get(p, 12345))).toBe('NOT_FOUND');
    p.close();
  });
});

describe('results and reports', () => {
  it('keeps one result per image and model, with map and mask blobs; re-inspection replaces it', () => {
    const p = withProject();
    const { productId, imageIds } = seed(p, 2);
    const m = addModel(p, productId);
    const r1 = results.add(p, { imageId: imageIds[0]!, modelId: m.id, score: 0.9, verdict: 'fail', map: Buffer.from('map'), mask: fakePng(8, 6), defectAreaPx: 5 });
    expect(results.readMap(p, r1)?.toString()).toBe('map');
    expect(results.readMask(p, r1)).toEqual(fakePng(8, 6));
    const r2 = results.add(p, { imageId: imageIds[0]!, modelId: m.id, score: 0.1, verdict: 'pass' });
    expect(r2.id).toBe(r1.id);
    expect(r2).toMatchObject({ score: 0.1, verdict: 'pass', mapSha256: null, defectAreaPx: null });
    expect(results.list(p, { modelId: m.id })).toHaveLength(1);
    expect(results.findFor(p, imageIds[1]!, m.id)).toBeUndefined();
    p.close();
  });

  it('writes a batch all or none: one bad row leaves no row of the batch', () => {
    const p = withProject();
    const { productId, imageIds } = seed(p, 2);
    const m = addModel(p, productId);
    const job = jobs.start(p, jobs.create(p, { kind: 'inspect' }).id);
    expect(() => results.addMany(p, [
      { imageId: imageIds[0]!, modelId: m.id, jobId: job.id, score: 0.2, verdict: 'pass', map: Buffer.from('m0') },
      { imageId: 999, modelId: m.id, jobId: job.id, score: 0.3, verdict: 'pass' },
    ], () => jobs.progress(p, job.id, { fraction: 0.5 }))).toThrow(expect.objectContaining({ code: 'CONSTRAINT' }));
    expect(results.list(p, { jobId: job.id })).toEqual([]);
    expect(jobs.get(p, job.id).progress).toBe(0);
    expect(verifyProject(p).ok).toBe(true);
    p.close();
  });

  it('stores reports as blobs with the model and threshold they describe', () => {
    const p = withProject();
    const { productId } = seed(p, 0);
    const m = addModel(p, productId);
    const t = thresholds.add(p, { modelId: m.id, imageThreshold: 1 });
    const rep = reports.add(p, { productId, modelId: m.id, thresholdId: t.id, kind: 'validation', format: 'html', title: 'Validation', data: Buffer.from('<html></html>'), manifestSha256: SHA_B });
    expect(reports.readBytes(p, rep).toString()).toBe('<html></html>');
    expect(reports.list(p, productId).map((r) => r.title)).toEqual(['Validation']);
    p.close();
  });
});

describe('verifyProject()', () => {
  it('passes on a sound project and names files that are missing or altered', () => {
    const p = withProject();
    const { imageIds } = seed(p, 2);
    masks.set(p, { imageId: imageIds[0]!, kind: 'ignore', png: fakePng(8, 6, 4, 9) });
    const sound = verifyProject(p);
    expect(sound).toMatchObject({ ok: true, integrity: ['ok'], foreignKeyViolations: 0, missing: [], corrupt: [] });
    expect(sound.filesChecked).toBe(3);
    const [a, b] = imageIds.map((id) => images.get(p, id));
    rmSync(images.filePath(p, a!));
    writeFileSync(images.filePath(p, b!), 'changed');
    const bad = verifyProject(p);
    expect(bad.ok).toBe(false);
    expect(bad.missing).toEqual([a!.storedPath]);
    expect(bad.corrupt).toEqual([b!.storedPath]);
    p.close();
  });
});
