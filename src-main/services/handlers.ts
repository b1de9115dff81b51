/**
 * The contract's methods, each mapped onto the store and the services. Requests arrive validated
 * (api/dispatch.ts); what is left to check here is what only the project knows (ids exist, belong
 * together, a job may change state).
 */
import type { Handlers } from '../api/dispatch.ts';
import { ApiError, type Model, type Product, type Refinement, type Result } from '../api/contract.ts';
import { f1Max } from '../metrics/index.ts';
import { decisions, defectTypes, evaluations, images, jobs, masks, models, products, refinements, reports, results, runs, thresholds, type Project } from '../store/index.ts';
import { decodeImageBuffer, ImageReadError } from '../vision/image.ts';
import { decodeMask } from '../vision/mask.ts';
import { pictureOrError } from './picture-errors.ts';
import { imagePicture, maskContent, repairedPicture, resultMap, resultMask, resultOverlay } from './pictures.ts';
import { checkRefineRequest } from './refinement.ts';
import { suggestedPixelThreshold } from './model-evaluation.ts';
import { compareEvaluations, latestEvaluation } from './evaluations.ts';
import { createReport, MEDIA_TYPES } from './reports.ts';
import { startInspection } from './inspection.ts';
import { backboneChoices } from './backbone-choices.ts';
import { labelFromResults } from './review.ts';
import { goodPercentile, goodReference } from './percentiles.ts';
import { checkExtendRequest, checkTrainRequest, proposeTrainInput, resolveTrainInput } from './training.ts';
import { exportModel } from './export.ts';
import { explainResult } from './explain.ts';
import { importUploaded } from './imports.ts';
import type { StationContext } from './station.ts';

function toProduct(p: Project, product: products.Product): Product {
  return { ...product, imageCount: images.count(p, product.id) };
}

function toModel(model: models.Model): Model {
  const { blobs: _blobs, ...rest } = model;
  return { ...rest, config: (rest.config ?? {}) as Record<string, unknown>, metrics: (rest.metrics ?? null) as Record<string, unknown> | null };
}

function toReport(p: Project, r: reports.Report): import('../api/contract.ts').Report {
  return {
    id: r.id, productId: r.productId, modelId: r.modelId, thresholdId: r.thresholdId, jobId: r.jobId, kind: r.kind, format: r.format, title: r.title,
    byteSize: reports.byteSize(p, r), sha256: r.sha256, manifestSha256: r.manifestSha256, createdAt: r.createdAt,
  };
}

/**
 * Sets a mask from PNG bytes. The store checks the PNG header's size against the image; a PNG of the
 * right size must also decode (a header with junk after it is BAD_INPUT, not a mask).
 */
async function setMask(p: Project, imageId: number, kind: masks.MaskKind, png: Buffer): Promise<masks.Mask> {
  const image = images.get(p, imageId);
  const size = masks.pngSize(png);
  if (size && size.width === image.width && size.height === image.height) {
    try {
      await decodeImageBuffer(png, `the ${kind} mask`);
    } catch (err) {
      if (err instanceof ImageReadError) throw new ApiError('BAD_INPUT', `the ${kind} mask for image ${imageId} is not a readable PNG: ${err.reason}`);
      throw err;
    }
  }
  if (kind === 'ignore') await checkedIgnoreRegion(png, `the ignore mask for image ${imageId}`);
  return masks.set(p, { imageId, kind, png });
}

/** An ignore region must decode and leave something of the part to inspect. */
async function checkedIgnoreRegion(png: Buffer, what: string): Promise<Buffer> {
  let mask;
  try {
    mask = await decodeMask(png, what);
  } catch (err) {
    if (err instanceof ImageReadError) throw new ApiError('BAD_INPUT', `${what} is not a readable PNG: ${err.reason}`);
    throw err;
  }
  if (!mask.data.includes(0)) throw new ApiError('BAD_INPUT', `${what} covers the whole image: nothing would be inspected; clear it instead`);
  return png;
}

function toRefinement(r: refinements.Refinement | undefined): Refinement | null {
  if (!r) return null;
  return {
    defectAreaPx: r.defectAreaPx, detectorThreshold: r.detectorThreshold, iterations: r.iterations, seconds: r.seconds,
    jobId: r.jobId, createdAt: r.createdAt, settings: (r.options ?? {}) as Record<string, unknown>,
  };
}

/** Result rows as the API gives them: with their refinement, latest decision and good-part percentile. */
function reviewItems(project: Project, modelId: number, rows: readonly results.ReviewRow[]): Result[] {
  const refined = refinements.forResults(project, rows.map((r) => r.id));
  const decided = decisions.latestFor(project, rows.map((r) => r.imageId));
  const good = goodReference(project, modelId);
  return rows.map(({ mapSha256, maskSha256: _m, ...r }) => ({
    ...r, hasMap: mapSha256 !== null, refinement: toRefinement(refined.get(r.id)), decision: decided.get(r.imageId) ?? null,
    goodPercentile: goodPercentile(good, r.score),
  }));
}

function toRun(project: Project, run: runs.Run): import('../api/contract.ts').Run {
  return {
    ...run, modelVersion: models.get(project, run.modelId).version,
    thresholdVersion: run.thresholdId === null ? null : thresholds.get(project, run.thresholdId).version,
    jobStatus: run.jobId === null ? null : (jobs.find(project, run.jobId)?.status ?? null),
  };
}

/**
 * The model a grid listing scores with: the one named (of the product), else for a score range the
 * product's newest model; none when neither applies.
 */
function gridModel(project: Project, req: { productId: number; modelId?: number | undefined; scoreMin?: number | undefined; scoreMax?: number | undefined }): { modelId?: number } {
  if (req.modelId !== undefined) {
    const model = models.get(project, req.modelId);
    if (model.productId !== req.productId) throw new ApiError('BAD_INPUT', `model ${model.id} belongs to product ${model.productId}, not to product ${req.productId}`);
    return { modelId: model.id };
  }
  if (req.scoreMin === undefined && req.scoreMax === undefined) return {};
  const newest = models.list(project, req.productId).reduce<models.Model | null>((a, m) => (a === null || m.version > a.version ? m : a), null);
  if (newest === null) throw new ApiError('BAD_INPUT', `product ${req.productId} has no model yet: train one before filtering by score`);
  return { modelId: newest.id };
}

export interface JobSubmitter {
  submit(kind: jobs.JobKind, params: unknown, productId: number | null, resumesJobId?: number | null): jobs.Job;
  cancel(jobId: number): boolean;
}

export function buildHandlers(station: StationContext & { openProject(dir: string, create?: { name: string }): Promise<import('../api/contract.ts').ProjectInfo>; closeProject(): Promise<void>; info(): import('../api/contract.ts').ProjectInfo | null; jobs(): JobSubmitter }): Handlers {
  const p = () => station.project();
  return {
    'project.create': ({ dir, name }) => station.openProject(dir, { name }),
    'project.open': ({ dir }) => station.openProject(dir),
    'project.close': async () => {
      await station.closeProject();
      return null;
    },
    'project.current': () => station.info(),

    'products.list': () => products.list(p()).map((x) => toProduct(p(), x)),
    'products.create': ({ name, description }) => toProduct(p(), products.add(p(), { name, description })),

    'images.import': (req) => {
      products.get(p(), req.productId);
      return station.jobs().submit('import', req, req.productId);
    },
    'images.list': (req) => {
      const project = p();
      products.get(project, req.productId);
      return images.page(project, { ...req, ...gridModel(project, req) });
    },
    'images.counts': ({ productId }) => images.facetCounts(p(), products.get(p(), productId).id),
    'images.upload': (req) => importUploaded(p(), req),
    'images.get': ({ id }) => images.listed(p(), id),
    'images.picture': ({ id, maxSide }) => pictureOrError(() => imagePicture(p(), id, maxSide)),
    'images.label': ({ ids, verdict, defectType }) => {
      const project = p();
      const changed = project.transaction(() => ids.map((id) => images.setLabel(project, id, { verdict, defectType: verdict === 'defective' ? defectType ?? null : null })));
      return changed.map((i) => images.listed(project, i.id));
    },
    'images.setSplit': ({ ids, split }) => ({ changed: images.setSplit(p(), ids, split) }),

    'defectTypes.list': ({ productId }) => defectTypes.list(p(), productId),
    'defectTypes.add': ({ productId, name, colour }) => defectTypes.add(p(), productId, { name, colour }),
    'defectTypes.rename': ({ id, name }) => defectTypes.rename(p(), id, name),
    'defectTypes.recolour': ({ id, colour }) => defectTypes.recolour(p(), id, colour),
    'defectTypes.remove': ({ id }) => {
      defectTypes.remove(p(), id);
      return { removed: true as const };
    },
    'defectTypes.reorder': ({ productId, ids }) => defectTypes.reorder(p(), productId, ids),

    'masks.set': ({ imageId, kind, png }) => setMask(p(), imageId, kind, Buffer.from(png, 'base64')),
    'masks.get': ({ imageId, kind }) => maskContent(p(), imageId, kind),
    'masks.delete': ({ imageId, kind }) => ({ deleted: masks.remove(p(), imageId, kind) }),
    'products.setIgnore': async ({ productId, png }) => {
      const project = p();
      const bytes = png === null ? null : await checkedIgnoreRegion(Buffer.from(png, 'base64'), `the ignore region of product ${productId}`);
      return toProduct(project, products.setIgnore(project, productId, bytes));
    },
    'products.ignore': ({ productId }) => {
      const project = p();
      const product = products.get(project, productId);
      const png = products.ignorePng(project, product);
      return png === null ? null : { png: png.toString('base64'), width: product.ignore!.width, height: product.ignore!.height };
    },

    'models.train': (req) => {
      const { params, inputReason } = resolveTrainInput(p(), req);
      checkTrainRequest(p(), params);
      return station.jobs().submit('train', { ...params, ...(inputReason ? { inputReason } : {}) }, req.productId);
    },
    'models.proposeInput': ({ productId, method }) => proposeTrainInput(p(), productId, method),
    'backbones.list': ({ method }) => backboneChoices(method),
    'models.list': ({ productId }) => models.list(p(), productId).map(toModel),
    'models.get': ({ id }) => toModel(models.get(p(), id)),
    'models.evaluate': ({ modelId }) => {
      const model = models.get(p(), modelId);
      return station.jobs().submit('evaluate', { modelId }, model.productId);
    },
    'models.export': async (req) => {
      const { out, manifest } = await exportModel(p(), req);
      return {
        out, method: manifest.method, precision: manifest.precision, files: manifest.files.length, tolerance: manifest.tolerance,
        goldenImages: manifest.golden.length, parity: manifest.parity.map((r) => ({ ...r, images: [...r.images] })),
        tiling: manifest.tiling && { canvas: manifest.tiling.canvas, tileSize: manifest.tiling.tileSize, tileOverlap: manifest.tiling.tileOverlap, tiles: manifest.tiling.tiles, left: [...manifest.tiling.left], top: [...manifest.tiling.top] },
      };
    },
    'models.scores': ({ modelId }) => {
      const project = p();
      models.get(project, modelId);
      const rows = results.scoresWithLabels(project, modelId);
      const labelled = rows.filter((r) => r.verdict !== 'unlabelled');
      const good = labelled.filter((r) => r.verdict === 'good').map((r) => r.score);
      const bad = labelled.filter((r) => r.verdict === 'defective').map((r) => r.score);
      const f1 = good.length > 0 && bad.length > 0 ? f1Max(labelled.map((r) => r.score), labelled.map((r) => (r.verdict === 'defective' ? 1 : 0))) : null;
      return {
        modelId, scores: rows, f1Threshold: f1?.threshold ?? null,
        maxGoodScore: good.length ? Math.max(...good) : null, minDefectiveScore: bad.length ? Math.min(...bad) : null,
        suggestedPixelThreshold: suggestedPixelThreshold(models.get(project, modelId)),
      };
    },

    'evaluations.latest': ({ modelId }) => latestEvaluation(p(), modelId),
    'evaluations.list': ({ productId, all }) => evaluations.list(p(), { productId: products.get(p(), productId).id, latestOnly: !all }).map((r) => ({ ...r, images: [...r.images] })),

    'evaluations.compare': ({ modelIds }) => compareEvaluations(p(), modelIds),

    'thresholds.list': ({ modelId }) => thresholds.list(p(), models.get(p(), modelId).id),
    'thresholds.set': (req) => thresholds.add(p(), { ...req, modelId: models.get(p(), req.modelId).id }),

    'inspection.run': (req) => {
      if (req.runId !== undefined) throw new ApiError('BAD_INPUT', 'runId is set by the station when it resumes a run; leave it out');
      return startInspection(p(), station.jobs(), req);
    },
    'runs.list': ({ productId, modelId }) => {
      const project = p();
      return runs.list(project, { productId: products.get(project, productId).id, modelId }).map((r) => toRun(project, r));
    },
    'runs.get': ({ id }) => toRun(p(), runs.get(p(), id)),
    'runs.stop': ({ id }) => {
      const project = p();
      const run = runs.get(project, id);
      // the job carrying the run (the newest one, when it was resumed) finishes the images in hand, then stops
      if (run.jobId !== null) station.jobs().cancel(run.jobId);
      runs.finish(project, id);
      return toRun(project, runs.get(project, id));
    },
    'results.list': (req) => {
      const project = p();
      const page = results.page(project, req);
      return { total: page.total, items: reviewItems(project, req.modelId, page.items) };
    },
    'results.get': ({ id }) => {
      const project = p();
      const r = results.get(project, id);
      const page = results.page(project, { modelId: r.modelId, offset: 0, limit: 1, onlyId: r.id });
      return reviewItems(project, r.modelId, page.items)[0]!;
    },
    'results.decide': (req) => decisions.record(p(), req),
    'models.extend': (req) => {
      const params = checkExtendRequest(p(), req);
      return station.jobs().submit('train', params, params.productId);
    },
    'results.decisions': ({ resultId }) => decisions.history(p(), results.get(p(), resultId).imageId),
    'results.label': ({ resultIds, as }) => labelFromResults(p(), resultIds, as),
    'results.overlay': ({ id, maxSide, layers }) => pictureOrError(() => resultOverlay(p(), id, maxSide, layers)),
    'results.map': ({ id }) => resultMap(p(), id),
    'results.explain': ({ resultId, maxSide }) => explainResult(p(), resultId, maxSide),
    'results.mask': ({ id, kind }) => resultMask(p(), id, kind),
    'results.repaired': ({ id, maxSide }) => pictureOrError(() => repairedPicture(p(), id, maxSide)),

    'refine.run': (req) => {
      const model = checkRefineRequest(p(), req);
      return station.jobs().submit('refine', req, model.productId);
    },

    'reports.create': async (req) => toReport(p(), await createReport(p(), req)),
    'reports.list': ({ productId }) => reports.list(p(), products.get(p(), productId).id).map((r) => toReport(p(), r)),
    'reports.content': ({ id }) => {
      const report = reports.get(p(), id);
      return { report: toReport(p(), report), mediaType: MEDIA_TYPES[report.format] ?? 'application/octet-stream', base64: reports.readBytes(p(), report).toString('base64') };
    },

    'jobs.list': ({ status }) => jobs.list(p(), status ? { status } : {}),
    'jobs.get': ({ id }) => jobs.get(p(), id),
    'jobs.cancel': ({ id }) => {
      jobs.get(p(), id);
      return { cancelled: station.jobs().cancel(id) };
    },
    'jobs.resume': ({ id }) => {
      const job = jobs.get(p(), id);
      if (job.status !== 'interrupted') throw new ApiError('CONFLICT', `job ${id} is ${job.status}; only interrupted jobs can be resumed`);
      const continuation = jobs.resumedBy(p(), id);
      if (continuation) throw new ApiError('CONFLICT', `job ${id} was already resumed by job ${continuation.id} (${continuation.status})`);
      if (job.kind !== 'import' && job.kind !== 'inspect' && job.kind !== 'train' && job.kind !== 'evaluate' && job.kind !== 'refine') {
        throw new ApiError('CONFLICT', `${job.kind} jobs cannot be resumed`);
      }
      return station.jobs().submit(job.kind, job.params, job.productId, job.id);
    },
  };
}
