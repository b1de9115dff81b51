/**
 * Validation and inspection reports of a real PatchCore model on real metal-plate images, read the
 * way a customer reads them: the PDF's text extracted with pdftotext, every page rendered with
 * pdftoppm, the HTML and the CSV checked for the same values. One rendered page of each report is
 * saved to $ARGUS_UI_SHOTS (default /tmp/argus-ui) for a person to look at.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Image, Model, Report, Result, Threshold } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { fixed } from '../../src-main/reports/document.ts';
import { INSPECTION_CSV_COLUMNS } from '../../src-main/reports/inspection.ts';
import { runCli } from '../fixtures/cli.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

const SHOTS = process.env['ARGUS_UI_SHOTS'] ?? join(tmpdir(), 'argus-ui');
const SIGN_OFF = { preparedBy: 'Anna Weber', reviewedBy: 'Bo Kim', role: 'Quality engineer' };

function pdfText(file: string): string {
  return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
}

/** Renders every page at 50 dpi; the PNG paths in page order. */
function renderPages(file: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  execFileSync('pdftoppm', ['-r', '50', '-png', file, join(outDir, 'page')]);
  return readdirSync(outDir).filter((f) => f.endsWith('.png')).sort().map((f) => join(outDir, f));
}

async function isBlank(png: string): Promise<boolean> {
  const stats = await sharp(png).stats();
  return stats.channels.every((c) => c.min > 200);
}

describe('reports of a real model, as a customer reads them', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-reports-'));
  const dir = join(root, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  const station = new Station();
  let model: Model;
  let tested: Image[];
  let batch: Result[];
  let jobId: number;
  let strict: Threshold;

  const content = async (r: Report) => Buffer.from((await call(station, 'reports.content', { id: r.id })).base64, 'base64');
  const save = (name: string, bytes: Buffer) => {
    const file = join(root, name);
    writeFileSync(file, bytes);
    return file;
  };

  beforeAll(async () => {
    await call(station, 'project.create', { dir, name: 'Plates' });
    const product = await call(station, 'products.create', { name: 'PN-7' });
    await finished(station, await call(station, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }));
    const train = await finished(station, await call(station, 'models.train', { productId: product.id, method: 'patchcore', config: { height: 128, width: 128 } }));
    expect(train.status, train.error ?? '').toBe('succeeded');
    [model] = await call(station, 'models.list', { productId: product.id }) as [Model];
    expect((await finished(station, await call(station, 'models.evaluate', { modelId: model.id }))).status).toBe('succeeded');
    model = await call(station, 'models.get', { id: model.id });
    const scores = await call(station, 'models.scores', { modelId: model.id });
    // a strict threshold version: at the second-highest good score, two good parts fail
    const goodScores = scores.scores.filter((s) => s.verdict === 'good').map((s) => s.score).sort((a, b) => b - a);
    strict = await call(station, 'thresholds.set', { modelId: model.id, imageThreshold: goodScores[1]!, note: 'strict trial' });
    await call(station, 'thresholds.set', {
      modelId: model.id, imageThreshold: scores.f1Threshold!, pixelThreshold: scores.suggestedPixelThreshold!,
      reviewLow: scores.f1Threshold! * 0.95, reviewHigh: scores.f1Threshold! * 1.05, note: 'line 3 release',
    });
    tested = (await call(station, 'images.list', { productId: product.id, split: 'test' })).items;
    const inspected = await finished(station, await call(station, 'inspection.run', { modelId: model.id, imageIds: tested.map((i) => i.id) }));
    expect(inspected.status, inspected.error ?? '').toBe('succeeded');
    jobId = inspected.id;
    batch = (await call(station, 'results.list', { modelId: model.id, jobId })).items;
    mkdirSync(SHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await station.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('writes a validation PDF whose text carries the manifest, model, threshold, metrics, confusion matrix, defect types, sign-off and image hashes', async () => {
    const report = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', ...SIGN_OFF });
    expect(report).toMatchObject({ kind: 'validation', format: 'pdf', modelId: model.id });
    const bytes = await content(report);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(report.sha256);
    const file = save('validation.pdf', bytes);
    const text = pdfText(file);
    const pages = Number(/Page 1 of (\d+)/.exec(text)?.[1]);
    expect(pages).toBeGreaterThan(1);
    for (let n = 1; n <= pages; n++) expect(text).toContain(`Page ${n} of ${pages}`);

    for (const heading of ['Dataset manifest', 'Model', 'Threshold policy', 'Metrics', 'Confusion matrix at threshold version 3', 'Results per defect type', 'False accepts', 'False rejects', 'Sign-off', 'Appendix: image hashes']) {
      expect(text, heading).toContain(heading);
    }
    // the evaluation record's metrics and their intervals, as stored
    const { record } = (await call(station, 'evaluations.latest', { modelId: model.id }))!;
    expect(text).toContain(`record ${record.id} (job ${record.jobId})`);
    for (const key of ['imageAuroc', 'imageF1', 'pixelAuroc', 'pixelF1', 'aupro'] as const) {
      expect(text, key).toContain(fixed(record.metrics[key]));
      const interval = record.metrics.intervals[key]!;
      expect(text, `${key} interval`).toContain(`[${fixed(interval.low)}, ${fixed(interval.high)}]`);
    }
    expect(record.metrics.imageAuroc).toBe(model.metrics!['imageAuroc']);
    // model identity and the threshold's note
    for (const v of [model.backboneId, model.backboneSha256, model.dataManifestSha256, 'line 3 release', 'patchcore']) expect(text).toContain(v);
    // counts: 10 test images, 4 good and 6 defective; the training set's 10 good images
    expect(text).toMatch(/10 labelled images not used for training: 4 good, 6 defective/);
    // the sign-off block with its labels and names
    for (const v of ['Prepared by', 'Reviewed by', 'Signature', 'Date', SIGN_OFF.preparedBy, SIGN_OFF.reviewedBy, SIGN_OFF.role]) expect(text).toContain(v);
    // every image's hash in the appendix
    const all = (await call(station, 'images.list', { productId: model.productId })).items;
    expect(all).toHaveLength(20);
    for (const image of all) expect(text, `image ${image.id}`).toContain(image.sha256);
    const manifest = /Manifest sha256\s+([0-9a-f]{64})/.exec(text)?.[1];
    expect(manifest).toBe(report.manifestSha256);

    const rendered = renderPages(file, join(root, 'validation-pages'));
    expect(rendered).toHaveLength(pages);
    for (const png of rendered) expect(await isBlank(png), png).toBe(false);
    copyFileSync(file, join(SHOTS, 'report-validation.pdf'));
    copyFileSync(rendered[0]!, join(SHOTS, 'report-validation-p1.png'));
    copyFileSync(rendered[Math.min(2, rendered.length - 1)]!, join(SHOTS, 'report-validation-p3.png'));
  });

  it('judges at an earlier threshold version on request, showing its false rejects with overlays', async () => {
    const report = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', thresholdId: strict.id });
    expect(report.thresholdId).toBe(strict.id);
    const file = save('strict.pdf', await content(report));
    const text = pdfText(file);
    expect(text).toContain('Confusion matrix at threshold version 2');
    expect(text).toContain('strict trial');
    expect(text).toContain('False rejects (2)');
    expect(text.match(/good part/g)?.length).toBeGreaterThanOrEqual(2);
    // pdftotext ends each page with a form feed: keep the page with the false rejects' overlays for a person to look at
    const page = text.split('\f').findIndex((t) => t.includes('False rejects (2)'));
    const rendered = renderPages(file, join(root, 'strict-pages'));
    copyFileSync(rendered[page]!, join(SHOTS, 'report-validation-false-rejects.png'));
  });

  it('writes the same validation content as HTML, with figures as SVG and overlays as images', async () => {
    const report = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'html', thresholdId: strict.id, ...SIGN_OFF });
    const html = (await content(report)).toString('utf8');
    writeFileSync(join(SHOTS, 'report-validation.html'), html);
    const metrics = model.metrics!;
    for (const v of [fixed(metrics['imageAuroc'] as number), fixed(metrics['aupro'] as number), model.backboneSha256, report.manifestSha256!, 'Prepared by', SIGN_OFF.role]) expect(html).toContain(v);
    for (const image of tested) expect(html).toContain(image.sha256);
    expect(html).toContain('<svg');
    expect(html).toMatch(/<img alt="[^"]*" width="\d+" height="\d+" src="data:image\/png;base64,/);
    expect(html).toContain('False rejects (2)');
    expect(report.manifestSha256).toBe((await call(station, 'reports.list', { productId: model.productId })).find((r) => r.kind === 'validation' && r.format === 'pdf')!.manifestSha256);
  });

  it('gives byte-identical PDFs for the same data, and a different one when the sign-off changes', async () => {
    const a = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', ...SIGN_OFF });
    const b = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', ...SIGN_OFF });
    expect(b.id).not.toBe(a.id);
    expect(b.sha256).toBe(a.sha256);
    expect((await content(b)).equals(await content(a))).toBe(true);
    const other = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', ...SIGN_OFF, reviewedBy: 'Carla Diaz' });
    expect(other.sha256).not.toBe(a.sha256);
  });

  it('writes an inspection PDF of the batch: counts, throughput, failing parts with areas, versions and every part', async () => {
    const report = await call(station, 'reports.create', { modelId: model.id, kind: 'inspection', format: 'pdf', ...SIGN_OFF });
    expect(report).toMatchObject({ kind: 'inspection', jobId });
    const file = save('inspection.pdf', await content(report));
    const text = pdfText(file);
    const pages = Number(/Page 1 of (\d+)/.exec(text)?.[1]);
    expect(pages).toBeGreaterThanOrEqual(1);
    const counts = { pass: 0, review: 0, fail: 0 };
    for (const r of batch) counts[r.verdict as 'pass']++;
    expect(counts.pass + counts.review + counts.fail).toBe(10);
    expect(text).toMatch(/Parts inspected\s+10\b/);
    expect(text).toMatch(/parts per minute/);
    expect(text).toContain(`Failing and review parts (${counts.fail + counts.review})`);
    // the batch is the inspection's run, named as the station named it
    expect(text).toContain(`Run 1, model v${model.version}`);
    expect(text).toContain(`run Run 1 (job ${jobId})`);
    for (const v of ['Threshold version', 'version 3', 'line 3 release', model.backboneSha256, 'Prepared by', SIGN_OFF.reviewedBy]) expect(text).toContain(v);
    for (const r of batch.filter((x) => x.verdict === 'fail' && x.defectAreaPx !== null)) expect(text).toContain(`defect area ${r.defectAreaPx} px`);
    for (const image of tested) expect(text).toContain(image.sha256);

    const rendered = renderPages(file, join(root, 'inspection-pages'));
    expect(rendered).toHaveLength(pages);
    for (const png of rendered) expect(await isBlank(png), png).toBe(false);
    copyFileSync(file, join(SHOTS, 'report-inspection.pdf'));
    copyFileSync(rendered[0]!, join(SHOTS, 'report-inspection-p1.png'));
    copyFileSync(rendered[Math.min(1, rendered.length - 1)]!, join(SHOTS, 'report-inspection-p2.png'));
  });

  it('writes the inspection CSV with file, sha256, score, good percentile, verdict, defect area and both versions per image', async () => {
    const report = await call(station, 'reports.create', { modelId: model.id, kind: 'inspection', format: 'csv', jobId });
    const [header, ...rows] = (await content(report)).toString('utf8').trim().split('\r\n').map((l) => l.split(','));
    expect(header).toEqual([...INSPECTION_CSV_COLUMNS]);
    for (const column of ['file', 'sha256', 'score', 'good_percentile', 'verdict', 'defect_area_px', 'model_version', 'threshold_version']) expect(header).toContain(column);
    expect(rows).toHaveLength(10);
    const col = (name: string) => header!.indexOf(name);
    for (const r of batch) {
      const row = rows.find((x) => x[col('result_id')] === String(r.id))!;
      expect(row[col('file')]).toBe(r.originalPath);
      expect(row[col('sha256')]).toBe(tested.find((i) => i.id === r.imageId)!.sha256);
      expect(Number(row[col('score')])).toBe(r.score);
      expect(row[col('verdict')]).toBe(r.verdict);
      expect(row[col('defect_area_px')]).toBe(r.defectAreaPx === null ? '' : String(r.defectAreaPx));
      expect(row[col('good_percentile')]).toBe(r.goodPercentile === null ? '' : r.goodPercentile.toFixed(2));
      expect(row[col('model_version')]).toBe('1');
      expect(row[col('threshold_version')]).toBe('3');
    }
    const html = (await content(await call(station, 'reports.create', { modelId: model.id, kind: 'inspection', format: 'html', jobId }))).toString('utf8');
    for (const r of batch) expect(html).toContain(r.originalPath);
    expect(html).toContain('Failing and review parts');
  });

  it('refuses a job that is not an inspection of the model, and a validation report of an unevaluated model', async () => {
    const evaluateJob = (await call(station, 'jobs.list', {})).find((j) => j.kind === 'evaluate')!;
    await expect(call(station, 'reports.create', { modelId: model.id, kind: 'inspection', format: 'pdf', jobId: evaluateJob.id })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', jobId })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('argus report gives the station\'s bytes and prints the sha256 recorded in the project', async () => {
    const fromStation = await call(station, 'reports.create', { modelId: model.id, kind: 'validation', format: 'pdf', ...SIGN_OFF });
    const inspection = await call(station, 'reports.create', { modelId: model.id, kind: 'inspection', format: 'pdf', ...SIGN_OFF });
    await station.close();
    const out = join(root, 'cli-validation.pdf');
    const run = await runCli(['report', '--project', dir, '--model', String(model.id), '--kind', 'validation', '--format', 'pdf',
      '--prepared-by', SIGN_OFF.preparedBy, '--reviewed-by', SIGN_OFF.reviewedBy, '--role', SIGN_OFF.role, '--out', out]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(`sha256 ${fromStation.sha256}`);
    expect(createHash('sha256').update(execFileSync('cat', [out])).digest('hex')).toBe(fromStation.sha256);
    const inspectOut = join(root, 'cli-inspection.pdf');
    const again = await runCli(['report', '--project', dir, '--model', String(model.id), '--kind', 'inspection', '--job', String(jobId),
      '--prepared-by', SIGN_OFF.preparedBy, '--reviewed-by', SIGN_OFF.reviewedBy, '--role', SIGN_OFF.role, '--out', inspectOut]);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`sha256 ${inspection.sha256}`);
  }, 120_000);
});
