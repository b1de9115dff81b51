/**
 * Inspection: a model scores stored images (or a folder, imported first as test images) in a worker
 * thread; each batch of results — verdict under the model's current threshold, anomaly map, predicted
 * defect mask and area (failing and review parts only: thresholds.outlined) — is committed in one transaction together with the job's progress, so a kill
 * keeps every finished batch. The worker waits for each batch to be written before running ahead
 * (back-pressure), and a resumed inspection skips the images its earlier run finished.
 */
import { statSync } from 'node:fs';
import type { ApiRequest, InspectionSummary } from '../api/contract.ts';
import { ApiError } from '../api/contract.ts';
import type { JobContext } from '../jobs/queue.ts';
import { InOrder, runWorkerTask } from '../jobs/worker-host.ts';
import type { ScoredImage } from '../jobs/worker-protocol.ts';
import { images, jobs, models, results, thresholds, type Project } from '../store/index.ts';
import { encodePng } from '../vision/picture.ts';
import { resizeMap } from '../vision/index.ts';
import { encodeMap } from './anomaly-maps.ts';
import { runImport } from './imports.ts';

export type InspectParams = ApiRequest<'inspection.run'>;

type Counts = { -readonly [K in keyof InspectionSummary]: InspectionSummary[K] };

/** pass / review / fail under the threshold (store's rule), unjudged without one. */
export function judge(score: number, threshold: thresholds.Threshold | undefined): results.ResultVerdict {
  return threshold ? thresholds.decide(threshold, score) : 'unjudged';
}

/** The predicted defect mask at the image's own size (map above the pixel threshold) and its area. */
export async function predictedMask(item: ScoredImage, pixelThreshold: number): Promise<{ png: Uint8Array; area: number }> {
  const full = resizeMap(item.map, item.mapWidth, item.mapHeight, item.width, item.height);
  const pixels = new Uint8Array(full.length);
  let area = 0;
  for (let i = 0; i < full.length; i++) {
    if (full[i]! >= pixelThreshold) {
      pixels[i] = 255;
      area++;
    }
  }
  return { png: (await encodePng(pixels, item.width, item.height, 1)).png, area };
}

/** Checks an inspection request before it is queued. */
export function checkInspectRequest(p: Project, params: InspectParams): void {
  const model = models.get(p, params.modelId);
  if (params.folder !== undefined) {
    let isFolder = false;
    try {
      isFolder = statSync(params.folder).isDirectory();
    } catch {
      throw new ApiError('NOT_FOUND', `no folder ${params.folder}`);
    }
    if (!isFolder) throw new ApiError('BAD_INPUT', `${params.folder} is not a folder`);
  }
  for (const id of params.imageIds ?? []) {
    if (images.get(p, id).productId !== model.productId) throw new ApiError('BAD_INPUT', `image ${id} belongs to another product than model ${model.id}`);
  }
}

export interface ScoredBatchHandler {
  (items: readonly ScoredImage[]): Promise<void>;
}

/**
 * Scores `list` with the model in a worker; `onBatch` runs for every scored batch before the worker
 * may run further ahead. Returns the files the worker could not read.
 */
export async function scoreImages(p: Project, model: models.Model, list: readonly images.Image[], ctx: JobContext, onBatch: ScoredBatchHandler, progressBase = 0): Promise<Array<{ path: string; problem: string }>> {
  const skipped: Array<{ path: string; problem: string }> = [];
  if (list.length === 0) return skipped;
  const bytes = models.readModelBlob(p, model, 'model');
  const inOrder = new InOrder(() => run);
  const run = runWorkerTask(
    { task: 'predict', model: new Uint8Array(bytes), images: list.map((i) => ({ id: i.id, path: images.filePath(p, i) })), batchSize: 8, maxInFlight: 2 },
    (m) => {
      if (m.type === 'progress') {
        ctx.progress({ fraction: progressBase + (1 - progressBase) * m.fraction, step: 'inspect', message: `${m.done} / ${m.total} images`, etaSeconds: m.etaSeconds });
      } else if (m.type === 'skipped') {
        skipped.push({ path: m.path, problem: m.problem });
      } else if (m.type === 'scored') {
        inOrder.add(() => onBatch(m.items));
      }
    },
    ctx.signal,
  );
  await run.done;
  await inOrder.settle();
  return skipped;
}

/** The inspect job's handler. */
export async function runInspection(p: Project, ctx: JobContext): Promise<Counts> {
  const params = ctx.job.params as InspectParams;
  const model = models.get(p, params.modelId);
  const summary: Counts = { inspected: 0, pass: 0, review: 0, fail: 0, unjudged: 0, skipped: [] };
  let list: images.Image[];
  let base = 0;
  if (params.folder !== undefined) {
    const importCtx: JobContext = { ...ctx, progress: (u) => ctx.progress({ ...u, fraction: u.fraction * 0.2, step: 'import' }) };
    const importJob = { ...ctx.job, params: { productId: model.productId, paths: [params.folder], layout: 'files', split: 'test', verdict: 'unlabelled' } };
    const imported = await runImport(p, { ...importCtx, job: importJob });
    summary.import = imported.summary;
    list = imported.imageIds.map((id) => images.get(p, id));
    base = 0.2;
  } else {
    list = (params.imageIds ?? []).map((id) => images.get(p, id));
  }
  // a resumed inspection skips the images its earlier run already finished
  const earlier = new Set(jobs.lineage(p, ctx.job.id).slice(1));
  if (earlier.size > 0) {
    const done = new Set(results.list(p, { modelId: model.id }).filter((r) => r.jobId !== null && earlier.has(r.jobId)).map((r) => r.imageId));
    list = list.filter((i) => !done.has(i.id));
  }
  const threshold = thresholds.latest(p, model.id);
  summary.skipped = await scoreImages(p, model, list, ctx, async (items) => {
    const rows: results.NewResult[] = [];
    for (const item of items) {
      const verdict = judge(item.score, threshold);
      const mask = threshold?.pixelThreshold != null && thresholds.outlined(verdict) ? await predictedMask(item, threshold.pixelThreshold) : null;
      rows.push({
        imageId: item.imageId, modelId: model.id, thresholdId: threshold?.id ?? null, jobId: ctx.job.id, score: item.score, verdict,
        map: encodeMap({ width: item.mapWidth, height: item.mapHeight, data: item.map }), mask: mask?.png ?? null, defectAreaPx: mask?.area ?? null,
      });
      summary[verdict]++;
    }
    summary.inspected += rows.length;
    results.addMany(p, rows, () => jobs.setResult(p, ctx.job.id, summary));
  }, base);
  jobs.setResult(p, ctx.job.id, summary);
  return summary;
}
