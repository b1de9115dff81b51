/**
 * Evaluation records through the real station: two PatchCore versions of one product trained on real
 * metal-plate images, each evaluated by an 'evaluate' job that stores its record (metrics, curves,
 * frozen test set); the records survive a restart and the versions are compared on the same images.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auroc, trapezoidArea } from '../../src-main/metrics/index.ts';
import { Station } from '../../src-main/services/station.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

describe('evaluation records of two model versions', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-evaluations-')), 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  let station = new Station();
  const modelIds: number[] = [];
  let productId = 0;
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('are written by every evaluate job: metrics with intervals, curves and the frozen test set', async () => {
    await call(station, 'project.create', { dir, name: 'Plates' });
    productId = (await call(station, 'products.create', { name: 'PN-7' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    // the defective images of one type get another, so recall is reported per type
    const defective = (await call(station, 'images.list', { productId, verdict: 'defective' })).items;
    await call(station, 'images.label', { ids: defective.slice(0, 2).map((i) => i.id), verdict: 'defective', defectType: 'dent' });

    for (const config of [{ height: 128, width: 128, coresetRatio: 0.1 }, { height: 160, width: 160, coresetRatio: 0.02 }]) {
      const train = await finished(station, await call(station, 'models.train', { productId, method: 'patchcore', config }));
      expect(train.status, train.error ?? '').toBe('succeeded');
    }
    modelIds.push(...(await call(station, 'models.list', { productId })).map((m) => m.id));
    expect(modelIds).toHaveLength(2);
    expect(await call(station, 'evaluations.latest', { modelId: modelIds[0]! })).toBeNull();

    for (const modelId of modelIds) {
      const job = await finished(station, await call(station, 'models.evaluate', { modelId }));
      expect(job.status, job.error ?? '').toBe('succeeded');
      const evaluation = (await call(station, 'evaluations.latest', { modelId }))!;
      const { record } = evaluation;
      expect(record).toMatchObject({ modelId, productId, jobId: job.id });
      // the model's metrics JSON is what it was, and agrees with the record
      const metrics = (await call(station, 'models.get', { id: modelId })).metrics!;
      for (const key of ['imageAuroc', 'pixelAuroc', 'aupro', 'imageF1', 'pixelF1'] as const) expect(record.metrics[key], key).toBe(metrics[key]);
      expect(record.metrics.intervals.imageAuroc).toEqual((metrics['intervals'] as Record<string, unknown>)['imageAuroc']);
      // the frozen test set: every labelled validation/test image with its label, type and score
      expect(record.images).toHaveLength(10);
      const defectTypes = record.images.filter((i) => i.verdict === 'defective').map((i) => i.defectType);
      expect(defectTypes.filter((t) => t === 'dent')).toHaveLength(2);
      const scores = await call(station, 'models.scores', { modelId });
      for (const image of record.images) expect(scores.scores.find((s) => s.imageId === image.imageId)!.score).toBe(image.score);
      // the curves: the ROC's area is the image AUROC, the PRO curve runs to the AUPRO's FPR limit
      const roc = record.curves.roc!;
      expect(trapezoidArea(roc.fpr, roc.tpr)).toBeCloseTo(record.metrics.imageAuroc!, 12);
      expect(record.metrics.imageAuroc).toBeCloseTo(auroc(record.images.map((i) => i.score), record.images.map((i) => (i.verdict === 'defective' ? 1 : 0))), 12);
      expect(record.curves.pr!.recall.at(-1)).toBe(1);
      expect(record.curves.pro!.fpr.length).toBeLessThanOrEqual(512);
      expect(record.curves.pro!.fpr.at(-1)).toBeGreaterThanOrEqual(0.3);
      // the evaluation left an F1-optimal threshold; recall per defect type is read at it
      expect(evaluation.threshold).not.toBeNull();
      expect(record.thresholdId).toBeNull();
      expect(evaluation.recallByDefectType.map((r) => r.defectType)).toEqual([...new Set(defectTypes)].sort());
      expect(evaluation.recallByDefectType.reduce((a, r) => a + r.images, 0)).toBe(6);
      for (const r of evaluation.recallByDefectType) expect(r.recall).toBe(r.caught / r.images);
    }
  }, 600_000);

  it('recompute recall per defect type at each new threshold version, without re-evaluating', async () => {
    const modelId = modelIds[0]!;
    const before = (await call(station, 'evaluations.latest', { modelId }))!;
    const highest = Math.max(...before.record.images.map((i) => i.score));
    await call(station, 'thresholds.set', { modelId, imageThreshold: highest + 1 });
    const after = (await call(station, 'evaluations.latest', { modelId }))!;
    expect(after.record).toEqual(before.record);
    expect(after.threshold!.version).toBe(before.threshold!.version + 1);
    expect(after.recallByDefectType.every((r) => r.caught === 0 && r.recall === 0)).toBe(true);
  });

  it('survive a restart of the station, and compare the versions pairwise on the same images', async () => {
    const before = await call(station, 'evaluations.list', { productId });
    expect(before.map((r) => r.modelId).sort()).toEqual([...modelIds].sort());
    await station.close();
    station = new Station();
    await call(station, 'project.open', { dir });
    expect(await call(station, 'evaluations.list', { productId })).toEqual(before);

    const comparison = await call(station, 'evaluations.compare', { modelIds });
    expect(comparison.images).toEqual({ shared: 10, good: 4, defective: 6, pixel: 10, leftOut: 0 });
    expect(comparison.models.map((m) => m.modelId)).toEqual(modelIds);
    for (const [k, m] of comparison.models.entries()) {
      const record = before.find((r) => r.modelId === m.modelId)!;
      expect(m.metrics.imageAuroc).toBeCloseTo(record.metrics.imageAuroc!, 12);
      expect(m.metrics.aupro!, `model ${k}`).toBeCloseTo(record.metrics.aupro!, 6);
    }
    const [d] = comparison.differences;
    expect(d!.modelId).toBe(modelIds[1]);
    for (const key of ['imageAuroc', 'pixelAuroc', 'aupro', 'imageF1', 'pixelF1'] as const) {
      const diff = d![key]!;
      expect(diff.difference, key).toBeCloseTo(comparison.models[1]!.metrics[key]! - comparison.models[0]!.metrics[key]!, 12);
      expect(diff.low, key).toBeLessThanOrEqual(diff.high);
      expect(diff.excludesZero, key).toBe(diff.low > 0 || diff.high < 0);
    }
    // naming a model twice is refused (a model against itself is the unit tests' zero difference)
    const self = await station.handle('evaluations.compare', { modelIds: [modelIds[0]!, modelIds[0]!] });
    expect(self).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    console.log(`compare of 2 versions on ${comparison.images.shared} images: ${comparison.seconds.toFixed(2)} s`);
  }, 120_000);
});
