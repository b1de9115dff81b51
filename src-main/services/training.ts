/**
 * Training: fits a method on a product's normal training images in a worker thread and stores the
 * result as the product's next model version, together with the manifest of the data it saw.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiRequest } from '../api/contract.ts';
import { ApiError, EXTENDABLE_METHODS } from '../api/contract.ts';
import type { JobContext } from '../jobs/queue.ts';
import { checkBackbone } from './backbone-choices.ts';
import { withBackboneTaps } from '../methods/backbone-taps.ts';
import { ignoreMasksOf } from './ignore-regions.ts';
import { runWorkerTask } from '../jobs/worker-host.ts';
import type { WorkerTask } from '../jobs/worker-protocol.ts';
import { getMethod } from '../methods/index.ts';
import { MAX_CANVAS_SIDE, proposeInput, resolveAutoInput, type InputSetting } from '../methods/input-proposal.ts';
import type { TrainingScores } from '../methods/method.ts';
import { POSITION_NORM_MIN_IMAGES } from '../methods/position-norm.ts';
import { images, insideProject, jobs, models, products, type Project } from '../store/index.ts';
import { encodeTrainingRecord, recordAfterFit, TRAINING_RECORD_BLOB, trainingRecordOf, type ImageDescriptors } from './training-record.ts';

export type TrainParams = ApiRequest<'models.train'>;
/** A queued training: the request with its input made concrete, and what resize 'auto' chose, if asked. */
export type TrainJobParams = TrainParams & { readonly inputReason?: string };

/** The images a model of this product trains on: the train split, less anything labelled defective. */
export function trainingImages(p: Project, productId: number): images.Image[] {
  return images.list(p, { productId, split: 'train' }).filter((i) => i.verdict !== 'defective');
}

/** sha256 over the ordered image hashes and the configuration: same data and settings, same hash. */
export function dataManifestSha256(list: readonly images.Image[], config: unknown): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ config, images: list.map((i) => i.sha256) }));
  return h.digest('hex');
}

/**
 * Settings the station manages itself: a method's checkpoint file lives inside the project
 * (checkpoints/), never where a request points.
 */
export const STATION_SETTINGS: ReadonlySet<string> = new Set(['checkpoint']);

/** Where training state of a method that checkpoints is kept, per data manifest (see runTraining). */
export const CHECKPOINT_DIR = 'checkpoints';

/** Model input sizes a training request may ask for (a larger input multiplies memory and time). */
export const MIN_INPUT_SIDE = 32;
export const MAX_INPUT_SIDE = 1024;
/**
 * Resize 'auto' (the default for new models that name no input size) made concrete from the product's training images: the
 * request as it will be queued, and the one line saying what was chosen and why.
 */
export function resolveTrainInput(p: Project, params: TrainParams): { params: TrainParams; inputReason?: string } {
  // a request that sets an input size without a resize mode keeps the method's own mode (stretch)
  const sized = ['height', 'width'].some((k) => k in params.config);
  const config = { ...(sized ? {} : { resize: 'auto' }), ...params.config };
  if (config['resize'] !== 'auto') return { params };
  const method = getMethod(params.method);
  const sizes = trainingImages(p, params.productId).map((i) => ({ width: i.width, height: i.height }));
  try {
    const { config: resolved, reason } = resolveAutoInput(config, method.defaults as Record<string, unknown>, sizes);
    return { params: { ...params, config: resolved as TrainParams['config'] }, ...(reason ? { inputReason: reason } : {}) };
  } catch (err) {
    if (err instanceof RangeError) throw new ApiError('INVALID_REQUEST', `${params.method}: ${err.message}`);
    throw err;
  }
}

/** What resize 'auto' chooses for a product's training images with a method (the Train screen shows it). */
export function proposeTrainInput(p: Project, productId: number, method: TrainParams['method']): InputSetting & { reason: string } {
  products.get(p, productId);
  const sizes = trainingImages(p, productId).map((i) => ({ width: i.width, height: i.height }));
  const { setting, reason } = proposeInput(sizes, (getMethod(method).defaults as { height: number }).height);
  return { ...setting, reason };
}

/** Checks a training request before it is queued (so the screen hears about it at once). */
export function checkTrainRequest(p: Project, params: TrainParams): void {
  products.get(p, params.productId);
  const method = getMethod(params.method);
  const defaults = method.defaults as Record<string, unknown>;
  for (const [key, value] of Object.entries(params.config)) {
    // own settings only: 'constructor' or 'toString' are no settings of any method
    if (!Object.hasOwn(defaults, key) || STATION_SETTINGS.has(key)) {
      const settings = Object.keys(defaults).filter((k) => !STATION_SETTINGS.has(k));
      throw new ApiError('INVALID_REQUEST', `${params.method} has no setting '${key}' a request may set; settings: ${settings.join(', ')}`);
    }
    const expected = typeof defaults[key];
    if ((expected === 'number' || expected === 'boolean' || expected === 'string') && typeof value !== expected) {
      throw new ApiError('INVALID_REQUEST', `${params.method} setting '${key}' must be a ${expected}, received ${JSON.stringify(value)}`);
    }
    const list = Array.isArray(defaults[key]);
    if (list !== Array.isArray(value) || (list && !(defaults[key] as unknown[]).every((d) => typeof d === 'number'))) {
      throw new ApiError('INVALID_REQUEST', `${params.method} setting '${key}' must be ${list ? 'a list of numbers' : `a ${expected}`}, received ${JSON.stringify(value)}`);
    }
    const maxSide = params.config['resize'] === 'tile' ? MAX_CANVAS_SIDE : MAX_INPUT_SIDE;
    if ((key === 'height' || key === 'width') && !(Number.isInteger(value) && (value as number) >= MIN_INPUT_SIDE && (value as number) <= maxSide)) {
      throw new ApiError('INVALID_REQUEST', `${params.method} setting '${key}' must be a whole number of pixels from ${MIN_INPUT_SIDE} to ${maxSide}, received ${JSON.stringify(value)}`);
    }
  }
  try {
    method.validate?.({ ...method.defaults, ...params.config });
  } catch (err) {
    if (err instanceof RangeError) throw new ApiError('INVALID_REQUEST', `${params.method}: ${err.message}`);
    throw err;
  }
  if (params.backbone !== undefined) checkBackbone(params.method, params.backbone);
  const count = trainingImages(p, params.productId).length;
  if (count === 0) {
    throw new ApiError('BAD_INPUT', `product ${params.productId} has no training images (split 'train', not labelled defective)`);
  }
  if (params.config['positionNorm'] === true && count < POSITION_NORM_MIN_IMAGES) {
    throw new ApiError('BAD_INPUT', `per-position normalisation needs at least ${POSITION_NORM_MIN_IMAGES} normal training images; product ${params.productId} has ${count}`);
  }
}

/**
 * Params of an add-to-normal job (models.extend): a 'train' job, so it queues, shows and resumes like
 * a training, that adds the images to a PatchCore model's memory bank or to a PaDiM model's
 * statistics, as the next version.
 */
export interface ExtendParams {
  readonly productId: number;
  readonly method: string;
  readonly config: Record<string, never>;
  readonly extend: { readonly modelId: number; readonly imageIds: readonly number[] };
}

/**
 * Checks an add-to-normal request: a PatchCore model, or a PaDiM model that kept its sufficient
 * statistics (fitted by this version: its description says so), and images of its product not labelled defective.
 */
export function checkExtendRequest(p: Project, req: { modelId: number; imageIds: readonly number[] }): ExtendParams {
  const model = models.get(p, req.modelId);
  if (!EXTENDABLE_METHODS.includes(model.method)) {
    throw new ApiError('BAD_INPUT', `adding normal images without a retrain is for ${EXTENDABLE_METHODS.join(' and ')} models; model ${model.id} is ${model.method}: train a new version instead`);
  }
  const trained = ((model.config ?? {}) as { trained?: { sufficientStatistics?: unknown } }).trained;
  if (model.method === 'padim' && trained?.sufficientStatistics !== true) {
    throw new ApiError('BAD_INPUT', `PaDiM model ${model.id} (version ${model.version}) was stored before PaDiM kept the statistics that adding images needs: train a new version instead`);
  }
  for (const id of req.imageIds) {
    const image = images.get(p, id);
    if (image.productId !== model.productId) throw new ApiError('BAD_INPUT', `image ${id} belongs to another product than model ${model.id}`);
    if (image.verdict === 'defective') throw new ApiError('BAD_INPUT', `image ${id} is labelled defective: only normal images go into the memory bank`);
  }
  return { productId: model.productId, method: model.method, config: {}, extend: { modelId: model.id, imageIds: [...new Set(req.imageIds)] } };
}

type Fitted = {
  model: Uint8Array; description: Record<string, unknown>; backbone: { id: string; sha256: string }; trainingScores: TrainingScores | null;
  descriptors: ImageDescriptors | null;
};

/** The images a fit read, in order: the list less those it skipped as unreadable. */
function fittedIds(list: readonly images.Image[], skipped: ReadonlyArray<{ path: string }>, p: Project): number[] {
  const gone = new Set(skipped.map((s) => s.path));
  return list.filter((i) => !gone.has(images.filePath(p, i))).map((i) => i.id);
}

/** Runs a fit-like worker task, forwarding progress and skipped files; the fitted model or null when cancelled. */
async function fitInWorker(ctx: JobContext, task: WorkerTask, skipped: Array<{ path: string; problem: string }>): Promise<Fitted | null> {
  let fitted: Fitted | null = null;
  const run = runWorkerTask(task, (m) => {
    if (m.type === 'progress') {
      ctx.progress({ fraction: m.fraction, step: m.stage, message: `${m.stage}: ${m.done} / ${m.total}`, etaSeconds: m.etaSeconds, loss: m.loss });
    } else if (m.type === 'skipped') {
      skipped.push({ path: m.path, problem: m.problem });
    } else if (m.type === 'fitted') {
      fitted = m;
    }
  }, ctx.signal);
  await run.done;
  return ctx.signal.aborted ? null : fitted;
}

/** The add-to-normal job: the base model with the images' patches appended, stored as the next version. */
async function runExtension(p: Project, ctx: JobContext): Promise<models.Model | null> {
  const params = ctx.job.params as ExtendParams;
  const base = models.get(p, params.extend.modelId);
  const list = params.extend.imageIds.map((id) => images.get(p, id));
  const skipped: Array<{ path: string; problem: string }> = [];
  const result = await fitInWorker(ctx, {
    task: 'extend', model: new Uint8Array(models.readModelBlob(p, base, 'model')), images: list.map((i) => images.filePath(p, i)),
    ignore: list.map(ignoreMasksOf(p, base.productId)), batchSize: 8,
  }, skipped);
  if (!result) return null;
  // a PatchCore base without provenance numbers the new images from 0; a base of another method without a record cannot be followed
  const baseRecord = trainingRecordOf(p, base);
  const record = baseRecord || base.method === 'patchcore' ? recordAfterFit(baseRecord, fittedIds(list, skipped, p), result.descriptors) : null;
  const { trained: _, extendedFrom: earlier, ...settings } = (base.config ?? {}) as Record<string, unknown>;
  const extendedFrom = { modelId: base.id, version: base.version, imageIds: list.map((i) => i.id), earlier: earlier ?? null };
  const model = models.add(p, {
    productId: base.productId, method: base.method, backboneId: result.backbone.id, backboneSha256: result.backbone.sha256,
    config: { ...settings, trained: result.description, extendedFrom },
    dataManifestSha256: createHash('sha256').update(JSON.stringify({ base: base.dataManifestSha256, added: list.map((i) => i.sha256) })).digest('hex'),
    jobId: ctx.job.id,
    metrics: result.trainingScores ? { trainingScores: result.trainingScores } : null,
    blobs: { model: result.model, ...(record ? { [TRAINING_RECORD_BLOB]: encodeTrainingRecord(record) } : {}) },
  });
  jobs.setResult(p, ctx.job.id, { modelId: model.id, version: model.version, addedImages: list.length - skipped.length, extendedFrom: base.version, skipped });
  return model;
}

/** The train job's handler (also runs add-to-normal jobs, see ExtendParams). */
export async function runTraining(p: Project, ctx: JobContext): Promise<models.Model | null> {
  if ((ctx.job.params as Partial<ExtendParams>).extend) return runExtension(p, ctx);
  const params = ctx.job.params as TrainJobParams;
  const list = trainingImages(p, params.productId);
  const method = getMethod(params.method);
  const settings = withBackboneTaps({ ...method.defaults, ...params.config, ...(params.backbone ? { backbone: params.backbone } : {}) }, method.defaults);
  const manifest = dataManifestSha256(list, settings);
  // A method that checkpoints (SimpleNet) keeps its state per data manifest inside the project: an
  // interrupted or cancelled training of the same images and settings continues from its last epoch.
  let checkpoint: string | null = null;
  if (Object.hasOwn(method.defaults as object, 'checkpoint')) {
    mkdirSync(join(p.dir, CHECKPOINT_DIR), { recursive: true });
    checkpoint = insideProject(p.dir, `${CHECKPOINT_DIR}/${params.method}-${manifest}.ckpt`, 'training checkpoint');
  }
  const config = checkpoint ? { ...settings, checkpoint } : settings;
  const skipped: Array<{ path: string; problem: string }> = [];
  const ignoreOf = ignoreMasksOf(p, params.productId);
  const result = await fitInWorker(ctx, {
    task: 'fit', method: params.method, config, images: list.map((i) => images.filePath(p, i)), ignore: list.map(ignoreOf), batchSize: 8,
  }, skipped);
  if (!result) return null;
  const model = models.add(p, {
    productId: params.productId, method: params.method, backboneId: result.backbone.id, backboneSha256: result.backbone.sha256,
    config: { ...settings, ...(params.inputReason ? { inputChoice: params.inputReason } : {}), trained: result.description },
    dataManifestSha256: manifest, jobId: ctx.job.id,
    // in-sample score scales (methods/method.ts TrainingScores); evaluation adds held-out metrics beside them
    metrics: result.trainingScores ? { trainingScores: result.trainingScores } : null,
    blobs: { model: result.model, [TRAINING_RECORD_BLOB]: encodeTrainingRecord(recordAfterFit(null, fittedIds(list, skipped, p), result.descriptors)) },
  });
  jobs.setResult(p, ctx.job.id, { modelId: model.id, version: model.version, trainImages: list.length - skipped.length, ...(params.inputReason ? { input: params.inputReason } : {}), skipped });
  // the model is stored: its training state is no longer needed
  if (checkpoint) rmSync(checkpoint, { force: true });
  return model;
}
