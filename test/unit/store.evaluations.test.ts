import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluations, images, openProject, products, thresholds, type Project } from '../../src-main/store/index.ts';
import { reviewProject, storeErrorCode, tempDir } from '../fixtures/store.ts';

const INTERVAL = { low: 0.8, high: 0.95 };

function newEvaluation(modelId: number, imageIds: readonly number[], thresholdId: number | null): evaluations.NewEvaluation {
  return {
    modelId, thresholdId, jobId: null,
    metrics: {
      images: 3, good: 1, defective: 2, imageAuroc: 0.9, imageF1: 0.8, f1Threshold: 2.5, pixelAuroc: 0.93, aupro: 0.71, pixelF1: 0.4,
      pixelF1Threshold: 1.7, pixelImages: 2,
      intervals: { imageAuroc: INTERVAL, imageF1: INTERVAL, pixelAuroc: INTERVAL, pixelF1: null, aupro: { low: 0.6, high: 0.8 }, resamples: 1000, level: 0.95 },
    },
    curves: {
      roc: { fpr: [0, 0, 1, 1], tpr: [0, 0.5, 0.5, 1] },
      pr: { recall: [0.5, 1], precision: [1, 0.67] },
      pro: { fpr: [0, 0.1, 0.31], pro: [0, 0.5, 0.9], fprLimit: 0.3 },
    },
    images: [
      { imageId: imageIds[0]!, verdict: 'defective', defectType: 'scratch', split: 'test', score: 3 },
      { imageId: imageIds[1]!, verdict: 'good', defectType: null, split: 'test', score: 1 },
      { imageId: imageIds[2]!, verdict: 'defective', defectType: null, split: 'validation', score: 2 },
    ],
  };
}

function seeded(): { p: Project; dir: string; modelId: number; imageIds: number[] } {
  const dir = join(tempDir(), 'project');
  const { p, modelId, imageIds } = reviewProject(dir);
  return { p, dir, modelId, imageIds };
}

describe('evaluation records', () => {
  it('keep the metrics, curves and frozen test set on disk: reopening the project gives the same record', () => {
    const { p, dir, modelId, imageIds } = seeded();
    const thresholdId = thresholds.latest(p, modelId)!.id;
    const added = evaluations.add(p, newEvaluation(modelId, imageIds, thresholdId));
    expect(added).toMatchObject({ modelId, thresholdId, jobId: null, productId: products.list(p)[0]!.id });
    expect(added.images.map((i) => i.imageId)).toEqual([...imageIds].sort((a, b) => a - b));
    expect(added.metrics.intervals.aupro).toEqual({ low: 0.6, high: 0.8 });
    p.close();
    const again = openProject(dir);
    expect(evaluations.latest(again, modelId)).toEqual(added);
    expect(evaluations.list(again, { productId: added.productId })).toEqual([added]);
    again.close();
  });

  it('are append-only: the latest per model counts, and all of them can be listed', () => {
    const { p, modelId, imageIds } = seeded();
    const first = evaluations.add(p, newEvaluation(modelId, imageIds, null));
    const second = evaluations.add(p, { ...newEvaluation(modelId, imageIds, null), images: [{ imageId: imageIds[1]!, verdict: 'good', defectType: null, split: 'test', score: 0.5 }] });
    expect(evaluations.latest(p, modelId)!.id).toBe(second.id);
    expect(evaluations.list(p, { productId: first.productId, latestOnly: true }).map((e) => e.id)).toEqual([second.id]);
    expect(evaluations.list(p, { productId: first.productId }).map((e) => e.id)).toEqual([second.id, first.id]);
    // the frozen test set is the record's own: relabelling the image later changes nothing in it
    images.setLabel(p, imageIds[0]!, { verdict: 'good', defectType: null });
    expect(evaluations.get(p, first.id).images[0]).toMatchObject({ imageId: imageIds[0], verdict: 'defective', defectType: 'scratch' });
  });

  it('refuse an unknown model, bad metrics, mismatched curves and repeated images, and store nothing then', () => {
    const { p, modelId, imageIds } = seeded();
    const good = newEvaluation(modelId, imageIds, null);
    expect(storeErrorCode(() => evaluations.add(p, { ...good, modelId: 999 }))).toBe('NOT_FOUND');
    expect(() => evaluations.add(p, { ...good, metrics: { ...good.metrics, imageAuroc: Number.NaN } })).toThrow(/finite number for metrics.imageAuroc/);
    expect(() => evaluations.add(p, { ...good, metrics: { ...good.metrics, intervals: { ...good.metrics.intervals, aupro: { low: 0.9, high: 0.1 } } } })).toThrow(RangeError);
    expect(() => evaluations.add(p, { ...good, curves: { ...good.curves, roc: { fpr: [0, 1], tpr: [0] } } })).toThrow(/one length/);
    expect(() => evaluations.add(p, { ...good, images: [good.images[0]!, good.images[0]!] })).toThrow(/twice/);
    expect(() => evaluations.add(p, { ...good, images: [{ ...good.images[0]!, verdict: 'unlabelled' as 'good' }] })).toThrow(RangeError);
    expect(evaluations.latest(p, modelId)).toBeUndefined();
    expect(storeErrorCode(() => evaluations.get(p, 1))).toBe('NOT_FOUND');
  });
});
