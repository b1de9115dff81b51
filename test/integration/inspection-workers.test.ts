import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { inspectionWorkers } from '../../src-main/services/inspection.ts';
import { Station } from '../../src-main/services/station.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

describe('an inspection shared by compute workers', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-inspect-workers-'));
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 8, testGood: 8, testDefect: 8 });
  const station = new Station();
  const saved = { workers: process.env['ARGUS_INSPECT_WORKERS'], threads: process.env['ARGUS_THREADS'] };
  const restore = (name: string, value: string | undefined) => (value === undefined ? delete process.env[name] : (process.env[name] = value));
  afterEach(() => {
    restore('ARGUS_INSPECT_WORKERS', saved.workers);
    restore('ARGUS_THREADS', saved.threads);
  });
  afterAll(async () => {
    await station.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('splits the CPUs: two workers with half the threads each, one worker for fewer than 8 batches or on one CPU', () => {
    process.env['ARGUS_THREADS'] = '2';
    expect(inspectionWorkers(10)).toEqual({ workers: 2, threads: 1 });
    expect(inspectionWorkers(8)).toEqual({ workers: 2, threads: 1 });
    expect(inspectionWorkers(7)).toEqual({ workers: 1, threads: 2 });
    expect(inspectionWorkers(1)).toEqual({ workers: 1, threads: 2 });
    process.env['ARGUS_THREADS'] = '16';
    expect(inspectionWorkers(10)).toEqual({ workers: 2, threads: 8 });
    process.env['ARGUS_THREADS'] = '1';
    expect(inspectionWorkers(10)).toEqual({ workers: 1, threads: 1 });
    process.env['ARGUS_THREADS'] = '4';
    process.env['ARGUS_INSPECT_WORKERS'] = '1';
    expect(inspectionWorkers(10)).toEqual({ workers: 1, threads: 4 });
  });

  it('scores every image exactly once, with the scores and verdicts of a single worker', async () => {
    await call(station, 'project.create', { dir: join(root, 'project'), name: 'Workers' });
    const product = await call(station, 'products.create', { name: 'PN-3' });
    expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const trained = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', config: { height: 128, width: 128 } }));
    expect(trained.status, trained.error ?? '').toBe('succeeded');
    const [model] = await call(station, 'models.list', { productId: product.id });
    const tests = (await call(station, 'images.list', { productId: product.id, split: 'test', limit: 100 })).items;
    expect(tests).toHaveLength(16);
    await call(station, 'thresholds.set', { modelId: model!.id, imageThreshold: 3, note: 'test' });

    const inspect = async (workers: string, name: string) => {
      process.env['ARGUS_INSPECT_WORKERS'] = workers;
      const job = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: tests.map((i) => i.id), name }));
      expect(job.status, job.error ?? '').toBe('succeeded');
      return (await call(station, 'results.list', { modelId: model!.id, jobId: job.id, limit: 100 })).items;
    };
    const one = await inspect('1', 'one worker');
    const two = await inspect('2', 'two workers');
    expect(one).toHaveLength(16);
    expect(two.map((r) => r.imageId).sort((a, b) => a - b)).toEqual(tests.map((i) => i.id).sort((a, b) => a - b));
    const single = new Map(one.map((r) => [r.imageId, r]));
    for (const r of two) {
      // the workers' sessions run one thread each: sums may round differently, never more than that
      expect(Math.abs(r.score - single.get(r.imageId)!.score)).toBeLessThan(1e-5 * single.get(r.imageId)!.score);
      expect(r.verdict).toBe(single.get(r.imageId)!.verdict);
    }
  });
});
