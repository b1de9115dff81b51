/**
 * Compute worker: fits a method or scores images off the main thread, so the station stays
 * responsive while ONNX Runtime works. Started by jobs/worker-host.ts with one WorkerTask.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { imageBatches, loadBatches } from '../datasets/loader.ts';
import type { DatasetImage } from '../datasets/mvtec.ts';
import { getMethod } from '../methods/index.ts';
import { decodeModel, encodeModel } from '../methods/persistence.ts';
import { flaggedPatch } from '../methods/patchcore/flagged-patch.ts';
import { mapModelOf } from '../methods/score-scale.ts';
import { describeImages, descriptorSpec, nearestDescriptor } from '../features/image-descriptor.ts';
import type { ImageBatch } from '../methods/method.ts';
import type { ImageDescriptors } from '../services/training-record.ts';
import { createRefiner } from '../refine/refine.ts';
import { decodePrior, encodePrior } from '../refine/prior.ts';
import { loadTrainingImages } from '../refine/training-images.ts';
import { cropMap, encodePng, toBytes } from '../vision/index.ts';
import { ImageReadError, readImage } from '../vision/image.ts';
import { ignoringRegions } from '../methods/anomaly-map.ts';
import { setIntraOpThreads } from '../engine/session.ts';
import type { ExplainTask, ExtendTask, FitTask, FromWorker, PredictTask, RefineTask, ScoredImage, ToWorker, WorkerTask } from './worker-protocol.ts';

const port = parentPort!;
let cancelled = false;
let acks = 0;
let ackWaiter: (() => void) | null = null;
port.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') cancelled = true;
  if (m.type === 'ack') acks++;
  ackWaiter?.();
});

class Cancelled extends Error {}

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function checkCancelled(): void {
  if (cancelled) throw new Cancelled('cancelled');
}

function entry(path: string, ignore?: readonly Uint8Array[]): DatasetImage {
  return { path, split: 'test', defectType: '', defective: false, ...(ignore?.length ? { ignore } : {}) };
}

/**
 * Descriptors of the images a fit reads, as they pass (features/image-descriptor.ts), for methods
 * explained by their most similar training image; PatchCore explains by patches and needs none.
 */
function descriptorCollector(method: string, backboneId: string) {
  if (method === 'patchcore') return null;
  const spec = descriptorSpec(backboneId);
  const parts: Float32Array[] = [];
  let dim = 0;
  return {
    async add(batch: ImageBatch): Promise<void> {
      const d = await describeImages(spec, batch);
      parts.push(d.data);
      dim = d.dim;
    },
    result(): ImageDescriptors | null {
      if (parts.length === 0) return null;
      const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      return { spec, dim, data };
    },
  };
}

async function fit(t: FitTask): Promise<void> {
  const method = getMethod(t.method);
  const config = { ...method.defaults, ...t.config };
  const input = method.input(config);
  const start = performance.now();
  const onSkip = (issue: { path: string; problem: string }) => post({ type: 'skipped', path: issue.path, problem: issue.problem, imageId: null });
  let fraction = 0;
  const overall = (stage: string, done: number, total: number): number => {
    let before = 0;
    for (const s of method.fitStages) {
      if (stage === s.stage || stage.startsWith(`${s.stage} `)) return before + s.share * (total > 0 ? Math.min(1, done / total) : 0);
      before += s.share;
    }
    return fraction; // a stage the method did not declare: hold the bar where it is
  };
  const descriptors = descriptorCollector(t.method, String(config.backbone));
  async function* checked() {
    for await (const batch of imageBatches(loadBatches(t.images.map((path, i) => entry(path, t.ignore?.[i])), input, { batchSize: t.batchSize, onSkip }))) {
      checkCancelled();
      await descriptors?.add(batch);
      yield batch;
    }
  }
  const model = await method.fit(checked(), t.images.length, config, {
    onProgress: (p) => {
      checkCancelled();
      const elapsed = (performance.now() - start) / 1000;
      fraction = Math.max(fraction, overall(p.stage, p.done, p.total));
      const eta = p.etaSeconds ?? (fraction > 0 ? (elapsed / fraction) * (1 - fraction) : null);
      post({ type: 'progress', done: p.done, total: p.total, stage: p.stage, fraction, loss: p.loss ?? null, etaSeconds: eta });
    },
  });
  checkCancelled();
  const bytes = encodeModel(model);
  const described = descriptors?.result() ?? null;
  post({ type: 'fitted', model: bytes, description: model.describe(), backbone: model.backbone, trainCount: t.images.length, trainingScores: model.trainingScores ?? null, descriptors: described }, [bytes.buffer as ArrayBuffer, ...(described ? [described.data.buffer as ArrayBuffer] : [])]);
}

async function extend(t: ExtendTask): Promise<void> {
  const base = await decodeModel(t.model);
  if (!base.extended) throw new RangeError(`adding normal images without a retrain is not possible for ${base.method} models: train a new version instead`);
  const onSkip = (issue: { path: string; problem: string }) => post({ type: 'skipped', path: issue.path, problem: issue.problem, imageId: null });
  const descriptors = descriptorCollector(base.method, base.backbone.id);
  async function* checked() {
    for await (const batch of imageBatches(loadBatches(t.images.map((path, i) => entry(path, t.ignore?.[i])), base.input, { batchSize: t.batchSize, onSkip }))) {
      checkCancelled();
      await descriptors?.add(batch);
      yield batch;
    }
  }
  const model = await base.extended(checked(), {
    onProgress: (p) => post({ type: 'progress', done: p.done, total: p.total, stage: p.stage, fraction: p.stage === 'features' ? 0.5 * (p.done / t.images.length) : 0.5 + 0.5 * (p.done / Math.max(1, p.total)), loss: null, etaSeconds: null }),
  });
  checkCancelled();
  const bytes = encodeModel(model);
  const described = descriptors?.result() ?? null;
  post({ type: 'fitted', model: bytes, description: model.describe(), backbone: model.backbone, trainCount: t.images.length, trainingScores: model.trainingScores ?? null, descriptors: described }, [bytes.buffer as ArrayBuffer, ...(described ? [described.data.buffer as ArrayBuffer] : [])]);
}

/** Reads the one image as the model does (ignore regions included) and finds what explains its score (ExplainTask). */
async function explain(t: ExplainTask): Promise<void> {
  const model = await decodeModel(t.model);
  // the patch is the map model's: a two-scale model's score canvas is not read
  const input = mapModelOf(model).input;
  let loaded;
  for await (const l of loadBatches([entry(t.image.path, t.image.ignore)], input, { batchSize: 1 })) loaded = l;
  if (!loaded) throw new RangeError(`the image ${t.image.path} could not be read`);
  const batch = loaded.batch;
  const patch = await flaggedPatch(model, batch);
  let image = null;
  if (!patch && t.descriptors) {
    const own = await describeImages(t.descriptors.spec, batch);
    const nearest = nearestDescriptor(t.descriptors.data, t.descriptors.dim, own.data);
    image = { ordinal: nearest.row, distance: nearest.distance };
  }
  post({
    type: 'explained',
    explained: { input: { width: input.width, height: input.height, resize: input.resize }, size: loaded.sizes[0]!, content: loaded.content[0]!, patch, image },
  });
}

async function waitForAcks(sent: number, maxInFlight: number): Promise<void> {
  while (sent - acks >= maxInFlight && !cancelled) await new Promise<void>((resolve) => (ackWaiter = resolve));
  ackWaiter = null;
}

async function predict(t: PredictTask): Promise<void> {
  if (t.threads !== undefined) setIntraOpThreads(t.threads);
  const model = await decodeModel(t.model);
  const byPath = new Map(t.images.map((i) => [i.path, i.id]));
  const onSkip = (issue: { path: string; problem: string }) => post({ type: 'skipped', path: issue.path, problem: issue.problem, imageId: byPath.get(issue.path) ?? null });
  const start = performance.now();
  let done = 0;
  let sent = 0;
  for await (const loaded of loadBatches(t.images.map((i) => entry(i.path, i.ignore)), model.input, { batchSize: t.batchSize, onSkip })) {
    checkCancelled();
    const predictions = await model.predict(loaded.batch);
    const plane = model.input.width * model.input.height;
    const items: ScoredImage[] = predictions.map((p, i) => {
      const box = loaded.content[i]!;
      const size = loaded.sizes[i]!;
      const path = loaded.entries[i]!.path;
      let map = cropMap(p.map, model.input.width, box.width, box.height);
      let score = p.score;
      const all = loaded.batch.ignore?.subarray(i * plane, (i + 1) * plane);
      const ignore = all && all.includes(1) ? cropMap(all.slice(), model.input.width, box.width, box.height) : undefined;
      if (ignore) ({ score, map } = ignoringRegions(p, map, box.width, box.height, ignore, model.input.width, model.input.height));
      return {
        imageId: byPath.get(path)!, score, map, mapWidth: box.width, mapHeight: box.height, ...(ignore ? { ignore } : {}),
        width: size.width, height: size.height,
      };
    });
    await waitForAcks(sent, t.maxInFlight);
    checkCancelled();
    post({ type: 'scored', items }, items.flatMap((it) => [it.map.buffer as ArrayBuffer, ...(it.ignore ? [it.ignore.buffer as ArrayBuffer] : [])]));
    sent++;
    done += items.length;
    const elapsed = (performance.now() - start) / 1000;
    post({ type: 'progress', done, total: t.images.length, stage: 'inspect', fraction: done / t.images.length, loss: null, etaSeconds: (elapsed / done) * (t.images.length - done) });
  }
}

async function refine(t: RefineTask): Promise<void> {
  const model = await decodeModel(t.model);
  const onSkip = (issue: { path: string; problem: string }) => post({ type: 'skipped', path: issue.path, problem: issue.problem, imageId: null });
  post({ type: 'progress', done: 0, total: t.items.length, stage: 'prepare', fraction: 0, loss: null, etaSeconds: null });
  const training = await loadTrainingImages(t.training.map((path) => entry(path)), model.input, undefined, onSkip);
  if (training.length === 0) throw new RangeError('F2PAD needs normal training images of the model (none could be read)');
  checkCancelled();
  const prior = t.prior ? decodePrior(t.prior, 'the model\'s pixel prior') : undefined;
  const refiner = await createRefiner(model, { images: training }, prior ? { prior } : {});
  if (!prior) post({ type: 'prior', prior: encodePrior(refiner.prior) });
  try {
    const start = performance.now();
    let sent = 0;
    for (const [done, item] of t.items.entries()) {
      checkCancelled();
      let image;
      try {
        image = await readImage(item.path);
      } catch (err) {
        if (!(err instanceof ImageReadError)) throw err;
        onSkip({ path: item.path, problem: `unreadable image, skipped: ${err.reason}` });
        continue;
      }
      const r = await refiner.refine(image, t.threshold, t.options);
      const { width, height } = r.mask;
      const maskPixels = new Uint8Array(width * height);
      let area = 0;
      for (let i = 0; i < maskPixels.length; i++) if (r.mask.data[i]) { maskPixels[i] = 255; area++; }
      const maskPng = (await encodePng(maskPixels, width, height, 1)).png;
      const repairedPng = (await encodePng(toBytes(r.repaired), width, height, 3)).png;
      await waitForAcks(sent, t.maxInFlight);
      checkCancelled();
      const refined = { resultId: item.resultId, width, height, maskPng, magnitude: r.magnitude, repairedPng, defectAreaPx: area, iterations: r.iterations, seconds: r.seconds };
      post({ type: 'refined', item: refined }, [r.magnitude.buffer as ArrayBuffer]);
      sent++;
      const elapsed = (performance.now() - start) / 1000;
      post({ type: 'progress', done: done + 1, total: t.items.length, stage: 'refine', fraction: (done + 1) / t.items.length, loss: null, etaSeconds: (elapsed / (done + 1)) * (t.items.length - done - 1) });
    }
  } finally {
    await refiner.release();
  }
}

async function main(task: WorkerTask): Promise<void> {
  try {
    if (task.task === 'fit') await fit(task);
    else if (task.task === 'refine') await refine(task);
    else if (task.task === 'extend') await extend(task);
    else if (task.task === 'explain') await explain(task);
    else await predict(task);
    post({ type: 'done' });
  } catch (err) {
    if (err instanceof Cancelled) post({ type: 'done' });
    else post({ type: 'error', message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' });
  }
  port.close();
}

void main(workerData as WorkerTask);
