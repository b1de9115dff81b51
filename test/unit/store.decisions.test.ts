import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelFromResults } from '../../src-main/services/review.ts';
import { decisions, images, openProject, results } from '../../src-main/store/index.ts';
import { reviewProject, storeErrorCode, tempDir } from '../fixtures/store.ts';

function seeded(): ReturnType<typeof reviewProject> & { dir: string } {
  const dir = join(tempDir(), 'project');
  return { ...reviewProject(dir), dir };
}

describe('reviewer decisions', () => {
  it('are kept with who, when and the verdict the reviewer saw, never changing the model verdict; the latest one counts', () => {
    const { p, resultIds, imageIds } = seeded();
    const first = decisions.record(p, { resultId: resultIds[0]!, verdict: 'pass', note: 'dust, wiped', by: 'A. Weber' });
    expect(first).toMatchObject({ imageId: imageIds[0], resultId: resultIds[0], modelVerdict: 'fail', verdict: 'pass', defectType: null, note: 'dust, wiped', decidedBy: 'A. Weber' });
    expect(Date.parse(first.decidedAt)).not.toBeNaN();
    const second = decisions.record(p, { resultId: resultIds[0]!, verdict: 'fail', defectType: 'scratch', by: 'B. Kim' });
    expect(results.get(p, resultIds[0]!).verdict).toBe('fail');
    expect(decisions.history(p, imageIds[0]!).map((d) => d.id)).toEqual([first.id, second.id]);
    expect(decisions.latestFor(p, imageIds).get(imageIds[0]!)).toEqual(second);
    expect(decisions.latestFor(p, imageIds).has(imageIds[1]!)).toBe(false);
  });

  it('refuse a missing result, an empty reviewer, an unknown verdict and a defect type on a pass', () => {
    const { p, resultIds } = seeded();
    expect(storeErrorCode(() => decisions.record(p, { resultId: 999, verdict: 'pass', by: 'x' }))).toBe('NOT_FOUND');
    expect(() => decisions.record(p, { resultId: resultIds[0]!, verdict: 'pass', by: '  ' })).toThrow(TypeError);
    expect(() => decisions.record(p, { resultId: resultIds[0]!, verdict: 'maybe' as 'pass', by: 'x' })).toThrow(RangeError);
    expect(() => decisions.record(p, { resultId: resultIds[0]!, verdict: 'pass', defectType: 'scratch', by: 'x' })).toThrow(/no defect type/);
    expect(decisions.history(p, results.get(p, resultIds[0]!).imageId)).toEqual([]);
  });

  it('drive the review queues (awaiting, disagreements) and the uncertainty order, and survive reopening the project', () => {
    const { p, dir, resultIds, modelId } = seeded();
    decisions.record(p, { resultId: resultIds[1]!, verdict: 'fail', defectType: 'dent', by: 'A' }); // overrides a pass
    decisions.record(p, { resultId: resultIds[2]!, verdict: 'pass', by: 'A' }); // settles a review: no disagreement
    const ids = (q: { queue?: results.ReviewQueue; order?: results.ResultOrder }) => results.page(p, { modelId, offset: 0, limit: 10, ...q }).items.map((r) => r.id);
    expect(ids({ queue: 'awaiting' })).toEqual([resultIds[0]]);
    expect(ids({ queue: 'disagree' })).toEqual([resultIds[1]]);
    expect(ids({ order: 'time' })).toEqual([...resultIds].reverse());
    expect(ids({})).toEqual([resultIds[0], resultIds[2], resultIds[1]]); // scores 3, 2, 1
    // distance to the image threshold 2.2: 0.2, 0.8, 1.2
    expect(ids({ order: 'uncertainty' })).toEqual([resultIds[2], resultIds[0], resultIds[1]]);
    p.close();
    const again = openProject(dir);
    expect(decisions.latestFor(again, [results.get(again, resultIds[1]!).imageId]).get(results.get(again, resultIds[1]!).imageId)?.defectType).toBe('dent');
    again.close();
  });
});

describe('reviewed results as labels for the next training', () => {
  it("'add as defect' labels the image defective with the decision's defect type and keeps it out of training; 'add to normal' makes it a good training image", () => {
    const { p, resultIds, imageIds } = seeded();
    decisions.record(p, { resultId: resultIds[0]!, verdict: 'fail', defectType: 'scratch', by: 'A' });
    expect(labelFromResults(p, [resultIds[0]!], 'defect')).toEqual({ changed: 1 });
    expect(images.get(p, imageIds[0]!)).toMatchObject({ verdict: 'defective', defectType: 'scratch', split: 'test' });
    // a part the reviewer failed cannot become normal, and nothing changes
    expect(() => labelFromResults(p, [resultIds[1]!, resultIds[0]!], 'normal')).toThrow(/record a pass first/);
    expect(images.get(p, imageIds[1]!)).toMatchObject({ verdict: 'unlabelled', split: 'test' });
    expect(labelFromResults(p, [resultIds[1]!, resultIds[2]!], 'normal')).toEqual({ changed: 2 });
    for (const id of imageIds.slice(1)) expect(images.get(p, id)).toMatchObject({ verdict: 'good', defectType: null, split: 'train' });
    expect(results.get(p, resultIds[1]!).verdict).toBe('pass');
  });
});
