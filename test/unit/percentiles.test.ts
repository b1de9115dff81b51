import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goodPercentile, goodReference } from '../../src-main/services/percentiles.ts';
import { images, results } from '../../src-main/store/index.ts';
import { reviewProject, tempDir } from '../fixtures/store.ts';

describe('scores as percentiles among good parts', () => {
  it('rank a score among the good validation parts, else the good test parts, never the training images', () => {
    const { p, imageIds, modelId } = reviewProject(join(tempDir(), 'project')); // inspected: scores 3, 1, 2
    // the reference is the evaluation's scores (runs are inspections): the same parts evaluated
    results.addMany(p, [3, 1, 2].map((score, i) => ({ imageId: imageIds[i]!, modelId, score, verdict: 'unjudged' as const })));
    expect(goodReference(p, modelId)).toMatchObject({ split: null });
    expect(goodPercentile(goodReference(p, modelId), 2)).toBeNull();

    // good test parts scoring 1 and 2
    for (const id of imageIds.slice(1)) images.setLabel(p, id, { verdict: 'good' });
    const test = goodReference(p, modelId);
    expect([test.split, [...test.scores]]).toEqual(['test', [1, 2]]);
    expect([0.5, 1, 1.5, 2, 2.5].map((s) => goodPercentile(test, s))).toEqual([0, 0, 50, 50, 100]);

    // a good validation part takes precedence; good training images (fitted on) never count
    images.setLabel(p, imageIds[0]!, { verdict: 'good' });
    images.setSplit(p, [imageIds[0]!], 'validation');
    images.setSplit(p, [imageIds[1]!], 'train');
    const validation = goodReference(p, modelId);
    expect([validation.split, [...validation.scores]]).toEqual(['validation', [3]]);
    expect(goodPercentile(validation, 3.5)).toBe(100);
    images.setSplit(p, [imageIds[0]!], 'train');
    expect([...goodReference(p, modelId).scores]).toEqual([2]);
  });
});
