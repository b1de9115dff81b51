import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StationEvent } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { createProject, jobs, products } from '../../src-main/store/index.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';



describe('the station workflow on real metal-plate images', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-station-')), 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  const station = new Station();
  const events: StationEvent[] = [];
  station.subscribe((e) => events.push(e));
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports, trains, evaluates, thresholds, inspects a folder and reports, all through the API', async () => {
    await call(station, 'project.create', { dir, name: 'Plates' });
    const product = await call(station, 'products.create', { name: 'PN-7' });

    const imported = await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }));
    expect(imported.status).toBe('succeeded');
    const list = await call(station, 'images.list', { productId: product.id });
    expect(list.total).toBe(20);
    expect(list.items.filter((i) => i.hasGroundTruth)).toHaveLength(6);

    const train = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', config: { height: 128, width: 128 } }));
    expect(train.status, train.error ?? '').toBe('succeeded');
    const fractions = events.flatMap((e) => (e.type === 'progress' && e.jobId === train.id ? [e.progress.fraction] : []));
    expect(fractions.length).toBeGreaterThan(2);
    // one bar for the whole training: it never goes back when the method moves to its next stage
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!)).toBe(true);
    const [model] = await call(station, 'models.list', { productId: product.id });
    expect(model!.version).toBe(1);

    const evaluated = await finished(station, await call(station, 'models.evaluate', { modelId: model!.id }));
    expect(evaluated.status, evaluated.error ?? '').toBe('succeeded');
    const metrics = (await call(station, 'models.get', { id: model!.id })).metrics!;
    expect(metrics['imageAuroc']).toBeGreaterThan(0.8);
    expect(metrics['pixelAuroc']).toBeGreaterThan(0.8);
    // each metric with its 95 % bootstrap interval over the evaluated images
    const intervals = metrics['intervals'] as Record<string, { low: number; high: number } | null>;
    for (const key of ['imageAuroc', 'pixelAuroc', 'aupro']) {
      expect(intervals[key]!.low, key).toBeLessThanOrEqual(metrics[key] as number);
      expect(intervals[key]!.high, key).toBeGreaterThanOrEqual((metrics[key] as number) - 0.005);
    }
    // evaluation leaves an F1-optimal threshold behind
    const scores = await call(station, 'models.scores', { modelId: model!.id });
    expect(scores.scores).toHaveLength(10);
    const [suggested] = await call(station, 'thresholds.list', { modelId: model!.id });
    expect(suggested!.imageThreshold).toBe(scores.f1Threshold);
    expect(suggested!.pixelThreshold).toBe(scores.suggestedPixelThreshold);
    expect(scores.suggestedPixelThreshold).not.toBeNull();

    const t = await call(station, 'thresholds.set', {
      modelId: model!.id, imageThreshold: scores.f1Threshold!, pixelThreshold: scores.suggestedPixelThreshold!,
      reviewLow: scores.f1Threshold! * 0.9, reviewHigh: scores.f1Threshold! * 1.1, note: 'tuned',
    });
    expect(t.version).toBe(2);

    const inspected = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, folder: join(data, 'test'), name: 'Lot 2026-118' }));
    expect(inspected.status, inspected.error ?? '').toBe('succeeded');
    const page = await call(station, 'results.list', { modelId: model!.id, jobId: inspected.id });
    expect(page.total).toBe(10);
    // the inspection is a run: named, with its model and threshold versions, counts and throughput
    const [lot] = await call(station, 'runs.list', { productId: product.id });
    expect(lot).toMatchObject({ name: 'Lot 2026-118', modelVersion: 1, thresholdVersion: 2, source: join(data, 'test'), jobStatus: 'succeeded', counts: { inspected: 10 } });
    expect(inspected.result).toMatchObject({ runId: lot!.id });
    expect(lot!.counts.pass + lot!.counts.review + lot!.counts.fail).toBe(10);
    expect(lot!.imagesPerSecond).toBeGreaterThan(0);
    expect(Date.parse(lot!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(lot!.startedAt));
    expect((await call(station, 'results.list', { modelId: model!.id, runId: lot!.id })).items.map((r) => r.id).sort()).toEqual(page.items.map((r) => r.id).sort());
    // evaluation results are kept apart: the lot's images (the same files as the test set) did not replace them
    expect((await call(station, 'results.list', { modelId: model!.id, source: 'evaluation' })).total).toBe(10);
    expect(new Set(page.items.map((r) => r.verdict)).has('unjudged')).toBe(false);
    // defective images that fail are outlined: the pixel threshold marks some of their area
    expect(page.items.some((r) => r.verdict === 'fail' && r.imageVerdict === 'defective' && (r.defectAreaPx ?? 0) > 0)).toBe(true);
    expect(inspected.result).toMatchObject({ inspected: 10 });

    // outlines agree with verdicts: even a pixel threshold of 0 (every map pixel is "defect") outlines
    // only the parts that fail or need review, never a passing one
    await call(station, 'thresholds.set', {
      modelId: model!.id, imageThreshold: scores.f1Threshold!, pixelThreshold: 0, reviewLow: null, reviewHigh: null, note: 'outline policy check',
    });
    const again = await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: page.items.map((r) => r.imageId) }));
    const judged = (await call(station, 'results.list', { modelId: model!.id, jobId: again.id })).items;
    // a second run of the same images keeps the first run's results
    expect((await call(station, 'runs.get', { id: lot!.id })).counts).toEqual(lot!.counts);
    expect((await call(station, 'runs.list', { productId: product.id })).map((r) => r.name)).toEqual(['Run 2', 'Lot 2026-118']);
    expect(judged.filter((r) => r.verdict === 'pass').length).toBeGreaterThan(0);
    for (const r of judged) {
      if (r.verdict === 'pass') expect(r.defectAreaPx, `passing result ${r.id}`).toBeNull();
      else expect(r.defectAreaPx, `failing result ${r.id}`).toBeGreaterThan(0);
    }
    await expect(call(station, 'refine.run', { resultId: judged.find((r) => r.verdict === 'pass')!.id })).rejects.toThrow(/passed/);
    await call(station, 'thresholds.set', {
      modelId: model!.id, imageThreshold: scores.f1Threshold!, pixelThreshold: scores.suggestedPixelThreshold!,
      reviewLow: scores.f1Threshold! * 0.9, reviewHigh: scores.f1Threshold! * 1.1, note: 'tuned',
    });
    const worst = page.items[0]!;
    const overlay = await call(station, 'results.overlay', { id: worst.id, maxSide: 256 });
    expect(Buffer.from(overlay.base64, 'base64').subarray(1, 4).toString()).toBe('PNG');

    const csv = await call(station, 'reports.create', { modelId: model!.id, format: 'csv' });
    const content = await call(station, 'reports.content', { id: csv.id });
    expect(Buffer.from(content.base64, 'base64').toString().split('\r\n')[0]).toContain('score');
    const html = await call(station, 'reports.create', { modelId: model!.id, format: 'html' });
    expect(html.byteSize).toBeGreaterThan(1000);

    // add to normal without a retrain: a reviewed good part goes into the memory bank of version 2
    const good = page.items.find((r) => r.imageVerdict === 'good')!;
    await call(station, 'results.label', { resultIds: [good.id], as: 'normal' });
    const extended = await finished(station, await call(station, 'models.extend', { modelId: model!.id, imageIds: [good.imageId] }));
    expect(extended.status, extended.error ?? '').toBe('succeeded');
    const v2 = (await call(station, 'models.list', { productId: product.id })).find((m) => m.version === 2)!;
    const trained = (v: typeof v2) => (v.config as { trained: { memoryBank: number[]; trainPatches: number } }).trained;
    expect(v2.config).toMatchObject({ extendedFrom: { modelId: model!.id, version: 1, imageIds: [good.imageId] } });
    expect(trained(v2).memoryBank[0]).toBeGreaterThan(trained(model!).memoryBank[0]!);
    expect(trained(v2).trainPatches).toBeGreaterThan(trained(model!).trainPatches);
    const again2 = await finished(station, await call(station, 'inspection.run', { modelId: v2.id, imageIds: [good.imageId] }));
    const [rescored] = (await call(station, 'results.list', { modelId: v2.id, jobId: again2.id })).items;
    // its own patches are in the bank now: it scores lower than before
    expect(rescored!.score).toBeLessThan(good.score);
    await expect(call(station, 'models.extend', { modelId: model!.id, imageIds: [page.items.find((r) => r.imageVerdict === 'defective')!.imageId] })).rejects.toThrow(/labelled defective/);
  });

  it('watches a folder: images that arrive are inspected into the run until it is stopped', async () => {
    const [product] = await call(station, 'products.list', {});
    const [model] = await call(station, 'models.list', { productId: product!.id });
    const folder = mkdtempSync(join(tmpdir(), 'argus-watch-'));
    const sources = readdirSync(join(data, 'test', 'good')).map((f) => join(data, 'test', 'good', f));
    copyFileSync(sources[0]!, join(folder, 'part-1.png'));
    const job = await call(station, 'inspection.run', { modelId: model!.id, folder, name: 'Line 3', watch: true });
    const runOf = async () => (await call(station, 'runs.list', { productId: product!.id })).find((r) => r.name === 'Line 3')!;
    const until = async (n: number) => {
      for (let i = 0; i < 600 && (await runOf()).counts.inspected < n; i++) await new Promise((r) => setTimeout(r, 100));
      return runOf();
    };
    expect((await until(1)).counts.inspected).toBe(1);
    copyFileSync(sources[1]!, join(folder, 'part-2.png'));
    copyFileSync(sources[2]!, join(folder, 'part-3.png'));
    const grown = await until(3);
    expect(grown).toMatchObject({ watch: true, finishedAt: null, jobStatus: 'running', counts: { inspected: 3 } });
    const stopped = await call(station, 'runs.stop', { id: grown.id });
    expect(stopped.finishedAt).not.toBeNull();
    expect((await finished(station, job)).status).toBe('cancelled');
    expect((await runOf()).counts.inspected).toBe(3);
    rmSync(folder, { recursive: true, force: true });
  });

  it('offers the backbones a method can train on and refuses another before queueing', async () => {
    const choices = await call(station, 'backbones.list', { method: 'patchcore' });
    expect(choices.find((c) => c.isDefault)).toMatchObject({ id: 'mobilenet_v2_features', unusable: null });
    // another architecture serves through the outputs of the same strides (feat_s8, feat_s16)
    expect(choices.find((c) => c.id === 'mobilenet_v1_features')).toMatchObject({ isDefault: false, unusable: null });
    const flows = await call(station, 'backbones.list', { method: 'cflow' });
    expect(flows.find((c) => c.id === 'mobilenet_v2_features')!.unusable).toMatch(/has no feature output of stride 32/);
    const [product] = await call(station, 'products.list', {});
    await expect(call(station, 'models.train', { productId: product!.id, method: 'cflow', backbone: 'mobilenet_v2_features', config: {} }))
      .rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/cannot use backbone 'mobilenet_v2_features'.*can use: mobilenet_v2_full, mobilenet_v1_features/) });
    await expect(call(station, 'models.train', { productId: product!.id, method: 'patchcore', backbone: 'resnet_999', config: {} })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('answers invalid requests with INVALID_REQUEST and unknown ids with NOT_FOUND', async () => {
    expect(await station.handle('images.list', { productId: -1 })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await station.handle('images.get', { id: 99999 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await station.handle('no.such', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
    expect(await station.handle('products.create', { name: 'PN-7' })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await station.handle('inspection.run', { modelId: 1, folder: join(dir, 'no-such-folder') })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

describe('switching projects', () => {
  it('keeps the open project when opening or creating another one fails', async () => {
    const root = mkdtempSync(join(tmpdir(), 'argus-switch-'));
    const station = new Station();
    try {
      await call(station, 'project.create', { dir: join(root, 'a'), name: 'A' });
      expect(await station.handle('project.open', { dir: join(root, 'missing') })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect(await station.handle('project.create', { dir: join(root, 'a'), name: 'again' })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      expect((await call(station, 'project.current', {}))?.name).toBe('A');
      // opening the project that is already open is a no-op, not PROJECT_BUSY
      expect((await call(station, 'project.open', { dir: join(root, 'a') })).name).toBe('A');
      await call(station, 'project.create', { dir: join(root, 'b'), name: 'B' });
      expect((await call(station, 'project.current', {}))?.name).toBe('B');
      // A was closed, so another station can open it
      const other = new Station();
      expect((await call(other, 'project.open', { dir: join(root, 'a') })).name).toBe('A');
      await other.close();
    } finally {
      await station.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('resuming', () => {
  it('resumes an interrupted job once; a second resume of the same job is a CONFLICT', async () => {
    const root = mkdtempSync(join(tmpdir(), 'argus-resume-'));
    const dir = join(root, 'p');
    // a job left running by a process that died: the next open marks it interrupted
    const project = createProject(dir, 'R');
    const product = products.add(project, { name: 'PN' });
    const job = jobs.start(project, jobs.create(project, { kind: 'import', productId: product.id, params: { productId: product.id, paths: [root], layout: 'files', split: 'train', verdict: 'unlabelled' } }).id);
    project.close();
    const station = new Station();
    try {
      expect((await call(station, 'project.open', { dir })).interruptedJobs).toEqual([job.id]);
      const resumed = await finished(station, await call(station, 'jobs.resume', { id: job.id }));
      expect(resumed).toMatchObject({ status: 'succeeded', resumesJobId: job.id });
      expect(await station.handle('jobs.resume', { id: job.id })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    } finally {
      await station.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('training that can checkpoint', () => {
  it('continues a cancelled SimpleNet training of the same images and settings from its last epoch', async () => {
    const root = mkdtempSync(join(tmpdir(), 'argus-ckpt-'));
    const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 1 });
    const station = new Station();
    try {
      await call(station, 'project.create', { dir: join(root, 'p'), name: 'C' });
      const product = await call(station, 'products.create', { name: 'PN' });
      await finished(station, await call(station, 'images.import', { productId: product.id, paths: [join(data, 'train')], split: 'train', verdict: 'good' }));
      const request = { productId: product.id, method: 'simplenet' as const, config: { height: 64, width: 64, epochs: 6, batchSize: 2 } };
      // a request may not point the checkpoint anywhere: the station keeps it inside the project
      expect(await station.handle('models.train', { ...request, config: { ...request.config, checkpoint: '/tmp/elsewhere' } })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });

      const first = await call(station, 'models.train', request);
      let cancelled = false;
      const off = station.subscribe((e) => {
        // after two of six epochs (3 steps each), the checkpoint holds them: stop there
        if (!cancelled && e.type === 'progress' && e.jobId === first.id && e.progress.step === 'train' && /^train: ([7-9]|1\d) \//.test(e.progress.message)) {
          cancelled = true;
          void station.handle('jobs.cancel', { id: first.id });
        }
      });
      expect((await finished(station, first)).status).toBe('cancelled');
      off();
      expect(readdirSync(join(root, 'p', 'checkpoints'))).toHaveLength(1);

      const second = await finished(station, await call(station, 'models.train', request));
      expect(second.status, second.error ?? '').toBe('succeeded');
      const [model] = await call(station, 'models.list', { productId: product.id });
      const training = (model!.config['trained'] as { training: { steps: number; epochLosses: number[] } }).training;
      expect(training.steps).toBe(18);
      // only the epochs after the checkpoint were trained in the second run
      expect(training.epochLosses.length).toBeLessThan(6);
      expect(readdirSync(join(root, 'p', 'checkpoints'))).toHaveLength(0);
    } finally {
      await station.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  });
});
