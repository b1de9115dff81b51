/**
 * Inspection: a model scores stored images (or a folder, imported first as test images) in a worker
 * thread; each batch of results — verdict under the model's current threshold, anomaly map, predicted
 * defect mask and area (failing and review parts only: thresholds.outlined) — is committed in one transaction together with the job's progress, so a kill
 * keeps every finished batch. The worker waits for each batch to be written before running ahead
 * (back-pressure). Every inspection is a run (store/runs.ts) whose results carry its id; a resumed job
 * continues its run and skips the images the run finished. A watched-folder run keeps inspecting the
 * folder's new files until it is stopped (cancelled).
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiRequest, InspectionSummary } from '../api/contract.ts';
import { ApiError } from '../api/contract.ts';
import type { JobContext } from '../jobs/queue.ts';
import { InOrder, runWorkerTask, type WorkerRun } from '../jobs/worker-host.ts';
import { intraOpThreads } from '../engine/session.ts';
import type { ScoredImage } from '../jobs/worker-protocol.ts';
import { images, jobs, models, results, runs, thresholds, type Project } from '../store/index.ts';
import { ignoreMasksOf } from './ignore-regions.ts';
import { encodePng } from '../vision/picture.ts';
import { resizeMap } from '../vision/index.ts';
import { encodeMap } from './anomaly-maps.ts';
import { collectEntries, runImport } from './imports.ts';

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

/**
 * Images per scoring call in inspections. Small batches are faster here: PatchCore on magnetic_tile
 * through the station (bench/inspect.ts, 2-core CPU) scored 13.8 / 20.2 images/s (exact / approximate
 * search) at 2 against 12.7 / 16.6 at 8, 13.1 / 17.6 at 4 and 13.1 / 18.6 at 1; larger batches'
 * intermediate tensors fall out of cache. The worker still reads ahead (maxInFlight batches).
 */
export const INSPECTION_BATCH = 2;

export interface ScoredBatchHandler {
  (items: readonly ScoredImage[]): Promise<void>;
}

/**
 * Scores `list` with the model in a worker; `onBatch` runs for every scored batch before the worker
 * may run further ahead. Each image's ignore regions (its own mask and its product's) leave their
 * pixels out of its score and map. Returns the files the worker could not read.
 */
export async function scoreImages(p: Project, model: models.Model, list: readonly images.Image[], ctx: JobContext, onBatch: ScoredBatchHandler, progressBase = 0): Promise<Array<{ path: string; problem: string }>> {
  const skipped: Array<{ path: string; problem: string }> = [];
  if (list.length === 0) return skipped;
  const bytes = models.readModelBlob(p, model, 'model');
  const ignoreOf = ignoreMasksOf(p, model.productId);
  const { workers, threads } = inspectionWorkers(Math.ceil(list.length / INSPECTION_BATCH));
  // batches dealt out in turn, so the results arrive in about the order of the list
  const shares = Array.from({ length: workers }, (_, w) => list.filter((_, i) => Math.floor(i / INSPECTION_BATCH) % workers === w));
  const done = shares.map(() => 0);
  const start = performance.now();
  const inOrder = new InOrder();
  // a worker that fails stops the others
  const stop = new AbortController();
  const cancel = () => stop.abort();
  if (ctx.signal.aborted) stop.abort();
  else ctx.signal.addEventListener('abort', cancel, { once: true });
  const runs = shares.map((share, w) => {
    const run: WorkerRun = runWorkerTask(
      {
        task: 'predict', model: new Uint8Array(bytes), images: share.map((i) => ({ id: i.id, path: images.filePath(p, i), ignore: ignoreOf(i) })),
        batchSize: INSPECTION_BATCH, maxInFlight: 2, ...(workers > 1 ? { threads } : {}),
      },
      (m) => {
        if (m.type === 'progress') {
          done[w] = m.done;
          const all = done.reduce((a, b) => a + b, 0);
          const elapsed = (performance.now() - start) / 1000;
          ctx.progress({ fraction: progressBase + (1 - progressBase) * (all / list.length), step: 'inspect', message: `${all} / ${list.length} images`, etaSeconds: all > 0 ? (elapsed / all) * (list.length - all) : null });
        } else if (m.type === 'skipped') {
          skipped.push({ path: m.path, problem: m.problem });
        } else if (m.type === 'scored') {
          inOrder.add(() => run, () => onBatch(m.items));
        }
      },
      stop.signal,
    );
    run.done.catch(() => stop.abort());
    return run;
  });
  // every worker ends (or is stopped) before the first failure is thrown
  const ended = await Promise.allSettled(runs.map((r) => r.done));
  ctx.signal.removeEventListener('abort', cancel);
  await inOrder.settle();
  const failed = ended.find((e): e is PromiseRejectedResult => e.status === 'rejected');
  if (failed) throw failed.reason;
  return skipped;
}

const MIN_BATCHES_PER_WORKER = 4;

/**
 * Workers an inspection of `batches` batches runs in, and each one's intra-op threads. ONNX Runtime's
 * run blocks its thread, so one worker leaves a core idle while it decodes, searches and maps in
 * JavaScript; two workers with half the threads each keep both busy. ARGUS_INSPECT_WORKERS overrides.
 */
export function inspectionWorkers(batches: number): { workers: number; threads: number } {
  const cpus = intraOpThreads();
  const asked = Number(process.env['ARGUS_INSPECT_WORKERS']);
  const wanted = Number.isInteger(asked) && asked > 0 ? asked : cpus >= 2 ? 2 : 1;
  // a worker's start (model decoded, sessions opened) is worth it only for a few batches or more
  const workers = Math.max(1, Math.min(wanted, Math.floor(batches / MIN_BATCHES_PER_WORKER)));
  return { workers, threads: Math.max(1, Math.floor(cpus / workers)) };
}

/**
 * Starts an inspection: its run first (named, with the model's current threshold version, which the
 * whole run judges with), then the job that runs it.
 */
export function startInspection(p: Project, queue: { submit(kind: 'inspect', params: unknown, productId: number): jobs.Job }, params: InspectParams): jobs.Job {
  checkInspectRequest(p, params);
  const model = models.get(p, params.modelId);
  const run = runs.create(p, {
    productId: model.productId, modelId: model.id, thresholdId: thresholds.latest(p, model.id)?.id ?? null,
    name: params.name ?? `Run ${runs.list(p, { productId: model.productId }).length + 1}`,
    source: params.folder ?? `${params.imageIds!.length} stored images`, watch: params.watch,
  });
  const job = queue.submit('inspect', { ...params, runId: run.id }, model.productId);
  runs.setJob(p, run.id, job.id);
  return job;
}

/** The run an inspect job continues; jobs queued before runs existed get one. */
function runOf(p: Project, job: jobs.Job, params: InspectParams, model: models.Model): runs.Run {
  if (params.runId !== undefined) {
    // a resumed job carries the run on
    if (runs.get(p, params.runId).jobId !== job.id) runs.setJob(p, params.runId, job.id);
    return runs.get(p, params.runId);
  }
  return runs.create(p, {
    productId: model.productId, modelId: model.id, thresholdId: thresholds.latest(p, model.id)?.id ?? null, jobId: job.id,
    name: `Inspection ${job.id}`, source: params.folder ?? `${params.imageIds?.length ?? 0} stored images`, watch: params.watch,
  });
}

/** A watched folder is listed this often; a new file is inspected once its size and time held still for one interval. */
export const WATCH_INTERVAL_MS = 1500;
/** The live rate of a watched folder counts the images of this last stretch of time. */
const LIVE_RATE_WINDOW_MS = 60_000;

/** The inspect job's handler. */
export async function runInspection(p: Project, ctx: JobContext): Promise<Counts> {
  const params = ctx.job.params as InspectParams;
  const model = models.get(p, params.modelId);
  const run = runOf(p, ctx.job, params, model);
  const threshold = run.thresholdId === null ? undefined : thresholds.get(p, run.thresholdId);
  const summary: Counts = { runId: run.id, inspected: 0, pass: 0, review: 0, fail: 0, unjudged: 0, skipped: [] };
  const finished: number[] = [];
  const inspect = async (list: readonly images.Image[], base: number) => {
    // a resumed run skips the images it already finished
    const done = new Set(results.list(p, { runId: run.id }).map((r) => r.imageId));
    const todo = list.filter((i) => !done.has(i.id));
    const skipped = await scoreImages(p, model, todo, ctx, async (items) => {
      const rows: results.NewResult[] = [];
      for (const item of items) {
        const verdict = judge(item.score, threshold);
        const mask = threshold?.pixelThreshold != null && thresholds.outlined(verdict) ? await predictedMask(item, threshold.pixelThreshold) : null;
        rows.push({
          imageId: item.imageId, modelId: model.id, thresholdId: threshold?.id ?? null, jobId: ctx.job.id, runId: run.id, score: item.score, verdict,
          map: encodeMap({ width: item.mapWidth, height: item.mapHeight, data: item.map }), mask: mask?.png ?? null, defectAreaPx: mask?.area ?? null,
        });
        summary[verdict]++;
        finished.push(Date.now());
      }
      summary.inspected += rows.length;
      results.addMany(p, rows, () => jobs.setResult(p, ctx.job.id, summary));
    }, base);
    summary.skipped.push(...skipped);
  };
  const importFiles = async (paths: string[], share: number) => {
    const importCtx: JobContext = { ...ctx, progress: (u) => ctx.progress({ ...u, fraction: u.fraction * share, step: 'import' }) };
    const importJob = { ...ctx.job, params: { productId: model.productId, paths, layout: 'files', split: 'test', verdict: 'unlabelled' } };
    const imported = await runImport(p, { ...importCtx, job: importJob });
    const total = summary.import ?? { imported: 0, duplicates: 0, failed: 0, problems: [] };
    summary.import = {
      imported: total.imported + imported.summary.imported, duplicates: total.duplicates + imported.summary.duplicates,
      failed: total.failed + imported.summary.failed, problems: [...total.problems, ...imported.summary.problems].slice(0, 1000),
    };
    return imported.imageIds.map((id) => images.get(p, id));
  };
  if (params.folder === undefined) {
    await inspect((params.imageIds ?? []).map((id) => images.get(p, id)), 0);
  } else {
    const known = new Set(listImageFiles(params.folder));
    await inspect(await importFiles([params.folder], params.watch ? 1 : 0.2), params.watch ? 0 : 0.2);
    if (params.watch) {
      await watchFolder(params.folder, known, ctx.signal, async (paths) => inspect(await importFiles(paths, 0), 0), () => {
        const since = Date.now() - LIVE_RATE_WINDOW_MS;
        const recent = finished.filter((t) => t >= since).length;
        ctx.progress({ fraction: 0, step: 'watch', message: `watching ${params.folder}: ${summary.inspected} inspected, ${(recent / (LIVE_RATE_WINDOW_MS / 1000)).toFixed(2)} images/s over the last minute` });
      });
    }
  }
  runs.finish(p, run.id);
  jobs.setResult(p, ctx.job.id, summary);
  return summary;
}

/** The image files under a folder (as an import of it would list them). */
function listImageFiles(folder: string): string[] {
  return collectEntries({ productId: 1, paths: [folder], layout: 'files', split: 'test', verdict: 'unlabelled' }, []).map((e) => e.path);
}

/**
 * Lists `folder` every WATCH_INTERVAL_MS until `signal` aborts and hands `onNew` the image files that
 * appeared since and have stopped changing (a camera may still be writing a file when it is first seen).
 */
async function watchFolder(folder: string, known: Set<string>, signal: AbortSignal, onNew: (paths: string[]) => Promise<void>, onIdle: () => void): Promise<void> {
  const pending = new Map<string, string>();
  while (!signal.aborted) {
    onIdle();
    try {
      await sleep(WATCH_INTERVAL_MS, undefined, { signal });
    } catch {
      return; // stopped
    }
    const ready: string[] = [];
    for (const path of listImageFiles(folder)) {
      if (known.has(path)) continue;
      let stamp: string;
      try {
        const st = statSync(path);
        stamp = `${st.size}:${st.mtimeMs}`;
      } catch {
        continue; // gone again
      }
      if (pending.get(path) === stamp) ready.push(path);
      else pending.set(path, stamp);
    }
    for (const path of ready) {
      known.add(path);
      pending.delete(path);
    }
    if (ready.length > 0) await onNew(ready);
  }
}
