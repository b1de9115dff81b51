/**
 * F2PAD refinement in the station: a job refines one inspection result, or every failing and review
 * result of an inspection, in a worker thread (refine/refine.ts), and stores per result the refined
 * mask, the anomaly magnitude and the repaired image beside the detector's own mask. Each refined
 * image is committed with the job's progress in one transaction, so a kill or a cancel keeps every
 * finished image and a resumed job refines only the rest.
 *
 * The pixel prior is fitted once per model on its training images and kept with the model (model
 * blob `pixel_prior`), so every later refinement with that model uses the same prior.
 */
import type { ApiRequest, RefinementSummary } from '../api/contract.ts';
import { ApiError, REFINABLE_METHODS } from '../api/contract.ts';
import type { JobContext } from '../jobs/queue.ts';
import { InOrder, runWorkerTask } from '../jobs/worker-host.ts';
import { images, jobs, models, refinements, results, thresholds, type Project } from '../store/index.ts';
import { encodeMap } from './anomaly-maps.ts';
import { suggestedPixelThreshold } from './model-evaluation.ts';
import { trainingImages } from './training.ts';

export type RefineParams = ApiRequest<'refine.run'>;

/** The model blob that holds the fitted pixel prior. */
export const PRIOR_BLOB = 'pixel_prior';

/** The map threshold the initial mask is cut at: the model's pixel threshold, else the suggested one. */
export function detectorThreshold(p: Project, model: models.Model): number | null {
  return thresholds.latest(p, model.id)?.pixelThreshold ?? suggestedPixelThreshold(model);
}

/** The results a request refines, with their model (checked: refinable, one model, results exist). */
export function refineTargets(p: Project, params: RefineParams): { model: models.Model; resultIds: number[] } {
  let resultIds: number[];
  let modelId: number;
  if (params.resultId !== undefined) {
    const r = results.get(p, params.resultId);
    if (r.verdict === 'pass') throw new ApiError('BAD_INPUT', `result ${r.id} passed: passing parts carry no defect outline to refine`);
    resultIds = [r.id];
    modelId = r.modelId;
  } else {
    const job = jobs.get(p, params.inspectionJobId!);
    if (job.kind !== 'inspect') throw new ApiError('BAD_INPUT', `job ${job.id} is a ${job.kind} job, not an inspection`);
    modelId = (job.params as { modelId: number }).modelId;
    // the inspection and its resumed continuations
    const lineage = new Set([job.id, ...jobs.list(p, {}).filter((j) => jobs.lineage(p, j.id).includes(job.id)).map((j) => j.id)]);
    resultIds = results.list(p, { modelId }).filter((r) => r.jobId !== null && lineage.has(r.jobId) && thresholds.outlined(r.verdict)).map((r) => r.id);
    if (resultIds.length === 0) throw new ApiError('BAD_INPUT', `inspection ${job.id} has no failing or review results to refine`);
  }
  const model = models.get(p, modelId);
  if (!REFINABLE_METHODS.includes(model.method)) {
    throw new ApiError('BAD_INPUT', `F2PAD refines ${REFINABLE_METHODS.join(', ')} results; model ${model.id} is ${model.method}`);
  }
  return { model, resultIds };
}

/** Checks a refinement request before it is queued. */
export function checkRefineRequest(p: Project, params: RefineParams): models.Model {
  const { model } = refineTargets(p, params);
  if (detectorThreshold(p, model) === null) {
    throw new ApiError('BAD_INPUT', `model ${model.id} has no pixel threshold to start the refinement from: set one on the Thresholds screen or evaluate the model`);
  }
  return model;
}

/** The refine job's handler. */
export async function runRefinement(p: Project, ctx: JobContext): Promise<RefinementSummary> {
  const params = ctx.job.params as RefineParams;
  const { model, resultIds } = refineTargets(p, params);
  const threshold = detectorThreshold(p, model);
  if (threshold === null) throw new ApiError('BAD_INPUT', `model ${model.id} has no pixel threshold to start the refinement from`);
  // a resumed refinement skips the results its earlier run already refined
  const earlier = new Set(jobs.lineage(p, ctx.job.id).slice(1));
  const todo = resultIds.map((id) => results.get(p, id)).filter((r) => {
    const done = earlier.size > 0 ? refinements.findFor(p, r.id) : undefined;
    return !(done && done.jobId !== null && earlier.has(done.jobId));
  });
  const summary: RefinementSummary = { refined: 0, resultIds: [], skipped: [] };
  if (todo.length === 0) return summary;
  const pathOf = new Map(todo.map((r) => [r.id, images.filePath(p, images.get(p, r.imageId))]));
  const training = trainingImages(p, model.productId).map((i) => images.filePath(p, i));
  const prior = model.blobs[PRIOR_BLOB] !== undefined ? models.readModelBlob(p, model, PRIOR_BLOB) : null;
  const inOrder = new InOrder();
  const run = runWorkerTask(
    {
      task: 'refine', model: new Uint8Array(models.readModelBlob(p, model, 'model')), prior: prior && new Uint8Array(prior), training,
      items: todo.map((r) => ({ resultId: r.id, path: pathOf.get(r.id)! })), threshold, options: params.settings, maxInFlight: 2,
    },
    (m) => {
      if (m.type === 'progress') {
        ctx.progress({ fraction: m.fraction, step: m.stage, message: m.stage === 'prepare' ? 'fitting the pixel prior and the refinement graph' : `${m.done} / ${m.total} images`, etaSeconds: m.etaSeconds });
      } else if (m.type === 'skipped') {
        summary.skipped.push({ path: m.path, problem: m.problem });
      } else if (m.type === 'prior') {
        if (models.get(p, model.id).blobs[PRIOR_BLOB] === undefined) models.addBlob(p, model.id, PRIOR_BLOB, m.prior);
      } else if (m.type === 'refined') {
        inOrder.add(() => run, () => {
          const it = m.item;
          summary.refined++;
          summary.resultIds.push(it.resultId);
          refinements.set(p, {
            resultId: it.resultId, jobId: ctx.job.id, mask: it.maskPng, repaired: it.repairedPng,
            magnitude: encodeMap({ width: it.width, height: it.height, data: it.magnitude }),
            defectAreaPx: it.defectAreaPx, detectorThreshold: threshold, iterations: it.iterations, seconds: it.seconds, options: params.settings,
          }, () => jobs.setResult(p, ctx.job.id, summary));
        });
      }
    },
    ctx.signal,
  );
  await run.done;
  await inOrder.settle();
  jobs.setResult(p, ctx.job.id, summary);
  return summary;
}
