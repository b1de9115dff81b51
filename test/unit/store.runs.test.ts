import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src-main/store/migrate.ts';
import { openProject, results, runs, thresholds } from '../../src-main/store/index.ts';
import { reviewProject, storeErrorCode, tempDir } from '../fixtures/store.ts';

function seeded(): ReturnType<typeof reviewProject> & { dir: string } {
  const dir = join(tempDir(), 'project');
  return { ...reviewProject(dir), dir };
}

describe('inspection runs', () => {
  it('keep their own results: an image inspected in two lots has a result in each, and evaluation results stay apart', () => {
    const { p, modelId, imageIds, productId } = seeded();
    const threshold = thresholds.latest(p, modelId)!;
    const lotA = runs.create(p, { productId, modelId, thresholdId: threshold.id, name: 'Lot A', source: '/line/a' });
    const lotB = runs.create(p, { productId, modelId, thresholdId: threshold.id, name: 'Lot B' });
    const evaluationBefore = results.list(p, { modelId, source: 'evaluation' }).length;
    results.addMany(p, [
      { imageId: imageIds[0]!, modelId, runId: lotA.id, score: 3, verdict: 'fail' },
      { imageId: imageIds[1]!, modelId, runId: lotA.id, score: 1, verdict: 'pass' },
      { imageId: imageIds[0]!, modelId, runId: lotB.id, score: 0.5, verdict: 'pass' },
    ]);
    expect(runs.get(p, lotA.id).counts).toEqual({ inspected: 2, pass: 1, review: 0, fail: 1, unjudged: 0 });
    expect(runs.get(p, lotB.id).counts).toEqual({ inspected: 1, pass: 1, review: 0, fail: 0, unjudged: 0 });
    expect(results.list(p, { runId: lotA.id }).map((r) => r.score)).toEqual([3, 1]);
    expect(results.list(p, { modelId, source: 'evaluation' })).toHaveLength(evaluationBefore);
    expect(results.page(p, { modelId, runId: lotB.id, offset: 0, limit: 10 }).items.map((r) => r.score)).toEqual([0.5]);
    // the same image again in the same run (a resumed job) replaces its result there only
    results.add(p, { imageId: imageIds[0]!, modelId, runId: lotA.id, score: 2.5, verdict: 'review' });
    expect(results.list(p, { runId: lotA.id }).map((r) => r.score).sort()).toEqual([1, 2.5]);
    expect(results.list(p, { runId: lotB.id }).map((r) => r.score)).toEqual([0.5]);
    // threshold tuning and percentiles read evaluation results only
    expect(results.scoresWithLabels(p, modelId)).toHaveLength(evaluationBefore);
    expect(runs.list(p, { productId }).map((r) => r.name)).toEqual(['Lot B', 'Lot A', 'Run 1']);
  });

  it('record start, end and throughput, and survive reopening the project', () => {
    const { p, dir, modelId, imageIds, productId } = seeded();
    const run = runs.create(p, { productId, modelId, name: '  Lot 7  ', watch: true });
    expect(run).toMatchObject({ name: 'Lot 7', watch: true, finishedAt: null, imagesPerSecond: null, counts: { inspected: 0 } });
    results.addMany(p, imageIds.map((imageId, i) => ({ imageId, modelId, runId: run.id, score: i, verdict: 'unjudged' as const })));
    runs.finish(p, run.id);
    const ended = runs.get(p, run.id);
    expect(Date.parse(ended.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(ended.startedAt));
    runs.finish(p, run.id);
    expect(runs.get(p, run.id).finishedAt).toBe(ended.finishedAt);
    p.close();
    const again = openProject(dir);
    expect(runs.get(again, run.id)).toMatchObject({ name: 'Lot 7', counts: { inspected: imageIds.length, unjudged: imageIds.length } });
    again.close();
  });

  it('refuse an empty name, a missing model and an unknown run', () => {
    const { p, modelId, productId } = seeded();
    expect(() => runs.create(p, { productId, modelId, name: '   ' })).toThrow(/name/);
    expect(storeErrorCode(() => runs.create(p, { productId, modelId: 999, name: 'x' }))).toBeDefined();
    expect(storeErrorCode(() => runs.get(p, 999))).toBe('NOT_FOUND');
  });
});

describe('upgrading a project from before runs (migration 5)', () => {
  it('turns each earlier inspection (with its resumed continuation) into a run and keeps refinements and decisions', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, loadMigrations().slice(0, 4));
    const at = '2026-01-01T00:00:00.000Z';
    const sha = 'a'.repeat(64);
    db.exec(`
      INSERT INTO blobs (sha256, byte_size, media_type, created_at) VALUES ('${sha}', 1, 'x', '${at}');
      INSERT INTO products (id, name, created_at) VALUES (1, 'P', '${at}');
      INSERT INTO models (id, product_id, version, method, backbone_id, backbone_sha256, config_json, data_manifest_sha256, created_at)
        VALUES (1, 1, 1, 'patchcore', 'b', '${sha}', '{}', '${sha}', '${at}');
      INSERT INTO images (id, product_id, original_path, stored_path, sha256, byte_size, width, height, format, split, created_at) VALUES
        (1, 1, '/a.png', 'images/a', '${'1'.repeat(64)}', 1, 4, 4, 'png', 'test', '${at}'),
        (2, 1, '/b.png', 'images/b', '${'2'.repeat(64)}', 1, 4, 4, 'png', 'test', '${at}'),
        (3, 1, '/c.png', 'images/c', '${'3'.repeat(64)}', 1, 4, 4, 'png', 'test', '${at}');
      INSERT INTO jobs (id, kind, status, params_json, created_at, started_at) VALUES
        (1, 'inspect', 'interrupted', '{"modelId":1,"folder":"/line/lot1"}', '${at}', '${at}'),
        (3, 'evaluate', 'succeeded', '{"modelId":1}', '${at}', '${at}');
      INSERT INTO jobs (id, kind, status, params_json, created_at, resumes_job_id) VALUES (2, 'inspect', 'succeeded', '{"modelId":1,"folder":"/line/lot1"}', '${at}', 1);
      INSERT INTO results (id, image_id, model_id, job_id, score, verdict, created_at) VALUES
        (10, 1, 1, 1, 5, 'fail', '${at}'), (11, 2, 1, 2, 1, 'pass', '${at}'), (12, 3, 1, 3, 2, 'unjudged', '${at}');
      INSERT INTO refinements (result_id, mask_sha256, magnitude_sha256, repaired_sha256, defect_area_px, detector_threshold, iterations, seconds, options_json, created_at)
        VALUES (10, '${sha}', '${sha}', '${sha}', 3, 1, 1, 1, '{}', '${at}');
      INSERT INTO decisions (image_id, result_id, model_verdict, verdict, decided_by, decided_at) VALUES (2, 11, 'pass', 'fail', 'A', '${at}');
    `);
    expect(migrate(db)).toContain(5);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.prepare('SELECT id, job_id AS jobId, name, source FROM runs').all()).toEqual([{ id: 1, jobId: 1, name: 'Inspection 1', source: '/line/lot1' }]);
    expect(db.prepare('SELECT id, run_id AS runId FROM results ORDER BY id').all()).toEqual([{ id: 10, runId: 1 }, { id: 11, runId: 1 }, { id: 12, runId: null }]);
    expect(db.prepare('SELECT result_id AS r FROM refinements').all()).toEqual([{ r: 10 }]);
    expect(db.prepare('SELECT result_id AS r FROM decisions').all()).toEqual([{ r: 11 }]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });
});
