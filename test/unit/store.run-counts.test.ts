/**
 * Run counts kept by triggers (migration 0009 run_counts): they equal a recount of the run's results
 * after inserts, replacements (a resumed run re-inspecting an image), evaluation results beside them,
 * and results removed with their image.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { results, runs, type Project } from '../../src-main/store/index.ts';
import { reviewProject, tempDir } from '../fixtures/store.ts';

function recount(p: Project, runId: number) {
  return p.db.prepare(`SELECT count(*) AS inspected, coalesce(sum(verdict = 'pass'), 0) AS pass, coalesce(sum(verdict = 'review'), 0) AS review,
    coalesce(sum(verdict = 'fail'), 0) AS fail, coalesce(sum(verdict = 'unjudged'), 0) AS unjudged FROM results WHERE run_id = ?`).get(runId);
}

describe('run counts', () => {
  it('follow inserts, replacements and deletions exactly as a recount', () => {
    const { p, productId, modelId, imageIds } = reviewProject(join(tempDir(), 'project'));
    const run = runs.create(p, { productId, modelId, name: 'Lot 9' });
    expect(runs.get(p, run.id).counts).toEqual({ inspected: 0, pass: 0, review: 0, fail: 0, unjudged: 0 });
    expect(runs.get(p, run.id).lastResultAt).toBeNull();
    results.addMany(p, imageIds.map((imageId, i) => ({ imageId, modelId, runId: run.id, score: i, verdict: (['pass', 'fail', 'unjudged'] as const)[i]! })));
    expect(runs.get(p, run.id).counts).toEqual({ inspected: 3, pass: 1, review: 0, fail: 1, unjudged: 1 });
    // the same image again in the run replaces its result; an evaluation result is no run's
    results.add(p, { imageId: imageIds[0]!, modelId, runId: run.id, score: 2.5, verdict: 'review' });
    results.add(p, { imageId: imageIds[1]!, modelId, score: 0.1, verdict: 'pass' });
    expect(runs.get(p, run.id).counts).toEqual({ inspected: 3, pass: 0, review: 1, fail: 1, unjudged: 1 });
    expect(runs.get(p, run.id).counts).toEqual(recount(p, run.id));
    // removing an image removes its results (foreign key cascade), and their counts
    p.db.prepare('DELETE FROM images WHERE id = ?').run(imageIds[1]);
    expect(runs.get(p, run.id).counts).toEqual({ inspected: 2, pass: 0, review: 1, fail: 0, unjudged: 1 });
    for (const r of runs.list(p, { productId })) expect(r.counts).toEqual(recount(p, r.id));
    expect(runs.get(p, run.id).lastResultAt).toBe((p.db.prepare('SELECT max(created_at) AS t FROM results WHERE run_id = ?').get(run.id) as { t: string }).t);
  });
});
