/**
 * F2PAD in the station: refinement of inspection results as a job through the API, on real MPDD
 * images with a real PatchCore model; the refined mask, the magnitude and the repaired image are
 * stored beside the detector's mask, survive a restart, appear in results, overlays and reports.
 * The defective images are the seed's cut-paste set (argus cutpaste), whose masks are exact.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Result } from '../../src-main/api/contract.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { buildCutPasteSet, writeCutPasteSet } from '../../src-main/refine/cutpaste.ts';
import { overlap } from '../../src-main/refine/evaluate.ts';
import { PRIOR_BLOB } from '../../src-main/services/refinement.ts';
import { Station } from '../../src-main/services/station.ts';
import { images, masks, models, openProject, refinements, results } from '../../src-main/store/index.ts';
import { decodeImageBuffer } from '../../src-main/vision/image.ts';
import { decodeMask } from '../../src-main/vision/mask.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

const ARGUS = resolve(import.meta.dirname, '../../bin/argus.js');
const argus = (...args: string[]) => execFileSync(process.execPath, [ARGUS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A project with a cut-paste set of `source` (count pasted images) and its good test images, a PatchCore
 * model trained on it (with `config`) and evaluated (which leaves the pixel F1-optimal threshold), and
 * an inspection of the test images with at least one failing or review result.
 */
async function inspectedCutPaste(station: Station, o: { dir: string; source: string; data: string; count: number; product: string; config?: Record<string, string | number | boolean> }) {
  const { split, samples } = await buildCutPasteSet(scanMvtec(o.source), { count: o.count, seed: 0 });
  await writeCutPasteSet(o.data, split, samples);
  await call(station, 'project.create', { dir: o.dir, name: 'Plates' });
  const product = await call(station, 'products.create', { name: o.product });
  expect((await finished(station, await call(station, 'images.import', { productId: product.id, paths: [o.data], layout: 'mvtec' }))).status).toBe('succeeded');
  const good = await call(station, 'images.import', { productId: product.id, paths: [join(o.source, 'test', 'good')], split: 'test', verdict: 'good' });
  expect((await finished(station, good)).status).toBe('succeeded');
  const train = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', ...(o.config ? { config: o.config } : {}) }));
  expect(train.status, train.error ?? '').toBe('succeeded');
  const modelId = (await call(station, 'models.list', { productId: product.id }))[0]!.id;
  expect((await finished(station, await call(station, 'models.evaluate', { modelId }))).status).toBe('succeeded');
  const tests = await call(station, 'images.list', { productId: product.id, split: 'test' });
  const inspection = await finished(station, await call(station, 'inspection.run', { modelId, imageIds: tests.items.map((i) => i.id) }));
  expect(inspection.status, inspection.error ?? '').toBe('succeeded');
  const flagged: Result[] = (await call(station, 'results.list', { modelId })).items.filter((r) => r.verdict === 'fail' || r.verdict === 'review');
  expect(flagged.length).toBeGreaterThan(0);
  return { modelId, inspectionId: inspection.id, flagged };
}

describe('F2PAD refinement in the station (real PatchCore on MPDD images)', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-refine-'));
  const dir = join(root, 'project');
  const source = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 15, testGood: 2, testDefect: 3 });
  const data = join(root, 'cutpaste');
  let station = new Station();
  let modelId = 0;
  let inspectionId = 0;
  let flagged: Result[] = [];

  beforeAll(async () => {
    ({ modelId, inspectionId, flagged } = await inspectedCutPaste(station, { dir, source, data, count: 4, product: 'PN-7' }));
  }, 240_000);

  afterAll(async () => {
    await station.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses requests it cannot run before queueing them', async () => {
    const both = await station.handle('refine.run', { resultId: flagged[0]!.id, inspectionJobId: inspectionId });
    expect(both).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const trainJob = (await call(station, 'jobs.list', {})).find((j) => j.kind === 'train')!;
    expect(await station.handle('refine.run', { inspectionJobId: trainJob.id })).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect(await station.handle('refine.run', { resultId: 99_999 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await station.handle('refine.run', { resultId: flagged[0]!.id, settings: { tau: -1 } })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await station.handle('results.repaired', { id: flagged[0]!.id })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('refines every failing and review result of an inspection, keeping the detector mask beside the refined one', async () => {
    const job = await finished(station, await call(station, 'refine.run', { inspectionJobId: inspectionId }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(job.result).toMatchObject({ refined: flagged.length, skipped: [] });
    const listed = (await call(station, 'results.list', { modelId })).items;
    for (const r of listed) {
      const wasFlagged = flagged.some((f) => f.id === r.id);
      expect(r.refinement !== null, `result ${r.id}`).toBe(wasFlagged);
      if (r.refinement) {
        expect(r.refinement.jobId).toBe(job.id);
        expect(r.refinement.defectAreaPx).toBeGreaterThanOrEqual(0);
        expect(r.refinement.detectorThreshold).toBeGreaterThan(0);
        expect(r.defectAreaPx, 'the detector area stays').toBe(flagged.find((f) => f.id === r.id)!.defectAreaPx);
      }
    }
    const repaired = await call(station, 'results.repaired', { id: flagged[0]!.id, maxSide: 4096 });
    const image = await decodeImageBuffer(Buffer.from(repaired.base64, 'base64'));
    const original = await call(station, 'images.get', { id: flagged[0]!.imageId });
    expect([image.width, image.height], 'the repaired image has the original resolution').toEqual([original.width, original.height]);
    // the outline layers change the picture: ground truth on, heatmap off
    const plain = await call(station, 'results.overlay', { id: flagged[0]!.id, maxSide: 256, layers: { heatmap: false, detector: false, refined: false, truth: false } });
    const outlined = await call(station, 'results.overlay', { id: flagged[0]!.id, maxSide: 256, layers: { heatmap: false, detector: true, refined: true, truth: true } });
    expect(outlined.base64).not.toBe(plain.base64);
  }, 240_000);

  it('uses the refined mask in reports', async () => {
    const csv = await call(station, 'reports.create', { modelId, format: 'csv' });
    const lines = Buffer.from((await call(station, 'reports.content', { id: csv.id })).base64, 'base64').toString().trim().split('\r\n');
    const header = lines[0]!.split(',');
    const outline = header.indexOf('outline');
    const area = header.indexOf('defect_area_px');
    const listed = (await call(station, 'results.list', { modelId })).items;
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      const r = listed.find((x) => x.id === Number(cells[0]))!;
      if (r.refinement) {
        expect(cells[outline]).toBe('refined');
        expect(Number(cells[area])).toBe(r.refinement.defectAreaPx);
      } else {
        expect(cells[outline]).not.toBe('refined');
      }
    }
    const html = await call(station, 'reports.create', { modelId, format: 'html' });
    expect(Buffer.from((await call(station, 'reports.content', { id: html.id })).base64, 'base64').toString()).toContain('(refined)');
  });

  it('keeps refinements and the fitted pixel prior across a restart, and the refined masks follow the ground truth more closely', async () => {
    await station.close();
    const p = openProject(dir);
    let detectorIou = 0;
    let refinedIou = 0;
    try {
      const model = models.get(p, modelId);
      expect(model.blobs[PRIOR_BLOB], 'the prior is stored with the model').toBeDefined();
      for (const f of flagged) {
        const result = results.get(p, f.id);
        const refinement = refinements.findFor(p, f.id)!;
        const truth = masks.find(p, result.imageId, 'ground_truth');
        expect(results.readMask(p, result), 'the detector mask is kept').not.toBeNull();
        const refined = await decodeMask(refinements.readMask(p, refinement), 'refined');
        expect(refined.data.reduce((s, v) => s + (v ? 1 : 0), 0)).toBe(refinement.defectAreaPx);
        if (!truth) continue;
        const gt = await decodeMask(masks.readPng(p, truth), 'truth');
        const det = await decodeMask(results.readMask(p, result)!, 'detector');
        detectorIou += overlap(det.data, gt.data).iou;
        refinedIou += overlap(refined.data, gt.data).iou;
      }
    } finally {
      p.close();
      station = new Station();
      await call(station, 'project.open', { dir });
    }
    expect(refinedIou).toBeGreaterThan(detectorIou);
    const listed = (await call(station, 'results.list', { modelId })).items;
    expect(listed.filter((r) => r.refinement !== null)).toHaveLength(flagged.length);
  });

  it('refines one chosen result again with the stored prior, and a cancelled refinement stores nothing of its own', async () => {
    const target = flagged[0]!;
    const job = await finished(station, await call(station, 'refine.run', { resultId: target.id, settings: { ablation: 'init-only' } }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const again = (await call(station, 'results.list', { modelId })).items.find((r) => r.id === target.id)!;
    expect(again.refinement).toMatchObject({ jobId: job.id, settings: { ablation: 'init-only' } });

    const cancelled = await call(station, 'refine.run', { inspectionJobId: inspectionId });
    await call(station, 'jobs.cancel', { id: cancelled.id });
    const ended = await finished(station, cancelled);
    expect(ended.status).toBe('cancelled');
    const after = (await call(station, 'results.list', { modelId })).items;
    expect(after.filter((r) => r.refinement?.jobId === cancelled.id)).toHaveLength(0);
  }, 120_000);

  it('refines from the CLI on the same project, writing the repaired image and the outlines', async () => {
    await station.close();
    const out = join(root, 'refined');
    const target = flagged[flagged.length - 1]!;
    expect(() => argus('refine', '--project', dir)).toThrow(/--result <id> or --inspection <job id>/);
    expect(() => argus('refine', '--project', dir, '--result', String(target.id), '--ablation', 'none-such')).toThrow(/--ablation expects one of/);
    const printed = argus('refine', '--project', dir, '--result', String(target.id), '--tau', '0.25', '--out', out);
    expect(printed).toContain('refined 1 result(s)');
    expect(readdirSync(out).sort()).toEqual([`result-${target.id}-outlines.png`, `result-${target.id}-repaired.png`]);
    const table = argus('results', '--project', dir, '--model', String(modelId));
    expect(table).toContain('refined px');
    station = new Station();
    await call(station, 'project.open', { dir });
    const listed = (await call(station, 'results.list', { modelId })).items.find((r) => r.id === target.id)!;
    expect(listed.refinement).toMatchObject({ settings: { ablation: 'none', tau: 0.25 } });
  }, 120_000);
});

describe('F2PAD refinement of a tiled model in the station (real PatchCore on MPDD images)', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-refine-tiled-'));
  const dir = join(root, 'project');
  const source = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 12, testGood: 2, testDefect: 2 });
  const data = join(root, 'cutpaste');
  const station = new Station();
  let modelId = 0;
  let inspectionId = 0;
  let flagged: Result[] = [];

  beforeAll(async () => {
    // the square pictures letterboxed into a 192 x 256 canvas (64 px of padding), scored in six 128 px tiles
    const config = { resize: 'tile', height: 192, width: 256, tileSize: 128, tileOverlap: 32 };
    ({ modelId, inspectionId, flagged } = await inspectedCutPaste(station, { dir, source, data, count: 3, product: 'PN-8', config }));
    expect((await call(station, 'models.get', { id: modelId })).config).toMatchObject(config);
  }, 240_000);

  afterAll(async () => {
    await station.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refines the failing and review results of a tiled model at their original size, onto the defects', async () => {
    const job = await finished(station, await call(station, 'refine.run', { inspectionJobId: inspectionId }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(job.result).toMatchObject({ refined: flagged.length, skipped: [] });
    await station.close();
    const p = openProject(dir);
    let detectorIou = 0;
    let refinedIou = 0;
    try {
      for (const f of flagged) {
        const result = results.get(p, f.id);
        const refined = await decodeMask(refinements.readMask(p, refinements.findFor(p, f.id)!), 'refined');
        const original = images.get(p, result.imageId);
        expect([refined.width, refined.height], 'the refined mask has the original resolution').toEqual([original.width, original.height]);
        const truth = masks.find(p, result.imageId, 'ground_truth');
        if (!truth) continue;
        const gt = await decodeMask(masks.readPng(p, truth), 'truth');
        detectorIou += overlap((await decodeMask(results.readMask(p, result)!, 'detector')).data, gt.data).iou;
        refinedIou += overlap(refined.data, gt.data).iou;
      }
    } finally {
      p.close();
    }
    // mapped back from the picture's part of the canvas, the refined outlines lie on the pasted defects
    expect(refinedIou, `IoU summed over the flagged results: detector ${detectorIou}, refined ${refinedIou}`).toBeGreaterThanOrEqual(detectorIou);
    expect(refinedIou).toBeGreaterThan(0);
  }, 240_000);
});
