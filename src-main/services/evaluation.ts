/**
 * Evaluation of a method on an MVTec-layout dataset: fit on train/good, score test/, compute the
 * standard metrics (METHODS.md §9) at the model's input resolution with nearest-resized masks.
 */
import { performance } from 'node:perf_hooks';
import { scanMvtec, evenlySpaced, type DatasetImage, type DatasetIssue } from '../datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../datasets/loader.ts';
import { getMethod } from '../methods/index.ts';
import type { FitProgress, FittedModel, InputSpec } from '../methods/method.ts';
import { aupro, auroc, bootstrapIntervals, f1Max, type MetricIntervals, pooledPixels, type ScoredMask } from '../metrics/index.ts';
import { activeProvider } from '../engine/session.ts';
import { cropMap, readMask, resizeMap, resizeMaskNearest, ImageReadError } from '../vision/index.ts';
import { readImage } from '../vision/image.ts';
import { resolveAutoInput, type ImageSize } from '../methods/input-proposal.ts';
import { withBackboneTaps } from '../methods/backbone-taps.ts';

export interface EvaluationOptions {
  readonly method: string;
  /** Overrides merged into the method's defaults. */
  readonly config?: Record<string, unknown>;
  readonly batchSize?: number;
  /** Cap on training images, evenly spaced over the sorted list (the reference used 120). */
  readonly maxTrain?: number;
  /** Cap on test images, evenly spaced (for quick checks). */
  readonly maxTest?: number;
  /**
   * Where pixel metrics are computed: 'model' (the model's input size, masks resized nearest — the
   * papers' and the reference's choice) or 'original' (maps resized back to each image's own size).
   */
  readonly pixelMetricsAt?: 'model' | 'original';
  readonly onProgress?: (p: EvaluationProgress) => void;
  /** Called with the fitted model before testing (e.g. to save it). */
  readonly onFitted?: (model: FittedModel) => void | Promise<void>;
}

export interface EvaluationProgress {
  readonly phase: 'fit' | 'test';
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** Training loss of the latest step, for methods that train. */
  readonly loss?: number;
}

export interface ImageResult {
  readonly path: string;
  readonly defectType: string;
  readonly defective: boolean;
  readonly score: number;
}

export interface EvaluationResult {
  readonly dataset: string;
  readonly root: string;
  readonly method: string;
  readonly nTrain: number;
  readonly nTest: number;
  readonly imageAuroc: number;
  readonly pixelAuroc: number;
  readonly aupro: number;
  readonly imageF1: { readonly f1: number; readonly threshold: number };
  readonly pixelF1: { readonly f1: number; readonly threshold: number };
  /** 95 % bootstrap confidence intervals over the test images (metrics/bootstrap.ts). */
  readonly intervals: MetricIntervals;
  readonly fitSeconds: number;
  /** Model time per test image (decode excluded) at `batchSize`. */
  readonly msPerImage: number;
  readonly batchSize: number;
  readonly provider: string;
  readonly model: Record<string, unknown>;
  /** What resize 'auto' chose and why (absent when the input was set explicitly). */
  readonly inputReason?: string;
  readonly images: readonly ImageResult[];
  readonly issues: readonly DatasetIssue[];
}

/** Metric value, or NaN with the reason recorded when the data cannot define it (e.g. no defects). */
function metric(name: string, issues: DatasetIssue[], f: () => number): number {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    issues.push({ path: '-', problem: `${name} undefined: ${err.message}` });
    return Number.NaN;
  }
}

async function groundTruth(entry: DatasetImage, original: { width: number; height: number }, width: number, height: number, issues: DatasetIssue[]): Promise<Uint8Array | undefined> {
  if (!entry.defective) return new Uint8Array(width * height);
  if (!entry.maskPath) return undefined;
  try {
    const mask = await readMask(entry.maskPath);
    if (mask.width !== original.width || mask.height !== original.height) {
      issues.push({ path: entry.maskPath, problem: `mask is ${mask.width}x${mask.height} but its image is ${original.width}x${original.height}: left out of pixel metrics` });
      return undefined;
    }
    return resizeMaskNearest(mask, width, height).data;
  } catch (err) {
    if (!(err instanceof ImageReadError)) throw err;
    issues.push({ path: entry.maskPath, problem: `unreadable mask, left out of pixel metrics: ${err.reason}` });
    return undefined;
  }
}

/** Images measured to resolve resize 'auto': evenly spaced, enough for a median. */
const SIZE_SAMPLE = 64;

/** The sizes of up to SIZE_SAMPLE evenly spaced images (unreadable ones are left out here and reported later). */
export async function sampleSizes(entries: readonly DatasetImage[]): Promise<ImageSize[]> {
  const sizes: ImageSize[] = [];
  for (const e of evenlySpaced(entries, SIZE_SAMPLE)) {
    try {
      const { width, height } = await readImage(e.path);
      sizes.push({ width, height });
    } catch (err) {
      if (!(err instanceof ImageReadError)) throw err;
    }
  }
  return sizes;
}

export async function evaluateDataset(root: string, options: EvaluationOptions): Promise<EvaluationResult> {
  const dataset = scanMvtec(root);
  const issues: DatasetIssue[] = [...dataset.issues];
  const method = getMethod(options.method);
  const batchSize = options.batchSize ?? 8;
  const train = options.maxTrain ? evenlySpaced(dataset.train, options.maxTrain) : dataset.train;
  const { config, reason: inputReason } = resolveAutoInput(withBackboneTaps({ ...method.defaults, ...(options.config ?? {}) }, method.defaults), method.defaults, await sampleSizes(train));
  method.validate?.(config);
  const input = method.input(config);
  const test = options.maxTest ? evenlySpaced(dataset.test, options.maxTest) : dataset.test;
  const skipped = new Set<string>();
  const onSkip = (issue: DatasetIssue) => {
    skipped.add(issue.path);
    issues.push(issue);
  };
  const progress = (phase: EvaluationProgress['phase']) => (p: FitProgress) => options.onProgress?.({ phase, ...p });

  const fitStart = performance.now();
  const model: FittedModel = await method.fit(imageBatches(loadBatches(train, input, { batchSize, onSkip })), train.length, config, { onProgress: progress('fit') });
  const fitSeconds = (performance.now() - fitStart) / 1000;
  await options.onFitted?.(model);

  const tested = await testModel(model, test, input, { batchSize, issues, onSkip, ...(options.pixelMetricsAt ? { pixelMetricsAt: options.pixelMetricsAt } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  return {
    dataset: dataset.name,
    root: dataset.root,
    method: method.name,
    nTrain: train.filter((t) => !skipped.has(t.path)).length,
    fitSeconds,
    batchSize,
    provider: activeProvider(),
    model: model.describe(),
    ...(inputReason ? { inputReason } : {}),
    ...tested,
    issues,
  };
}

export interface TestOptions {
  readonly batchSize: number;
  /** Problems found while testing are appended here (unreadable masks, undefined metrics). */
  readonly issues: DatasetIssue[];
  readonly onSkip?: (issue: DatasetIssue) => void;
  readonly pixelMetricsAt?: 'model' | 'original';
  readonly onProgress?: (p: EvaluationProgress) => void;
}

export type TestResult = Pick<EvaluationResult, 'nTest' | 'imageAuroc' | 'pixelAuroc' | 'aupro' | 'imageF1' | 'pixelF1' | 'intervals' | 'msPerImage' | 'images'>;

/**
 * Scores test images with any predictor (a fitted model, or a reference implementation's maps in the
 * same order) and computes the metrics of METHODS.md §9.
 */
export async function testModel(model: Pick<FittedModel, 'predict'>, test: readonly DatasetImage[], input: InputSpec, options: TestOptions): Promise<TestResult> {
  const { issues } = options;
  const images: ImageResult[] = [];
  const scored: ScoredMask[] = [];
  let modelMs = 0;
  for await (const loaded of loadBatches(test, input, { batchSize: options.batchSize, ...(options.onSkip ? { onSkip: options.onSkip } : {}) })) {
    const t = performance.now();
    const predictions = await model.predict(loaded.batch);
    modelMs += performance.now() - t;
    for (let i = 0; i < predictions.length; i++) {
      const entry = loaded.entries[i]!;
      const { score, map } = predictions[i]!;
      images.push({ path: entry.path, defectType: entry.defectType, defective: entry.defective, score });
      // over the picture only when it was letterboxed; at its own size when asked
      const box = loaded.content[i]!;
      const picture = cropMap(map, input.width, box.width, box.height);
      const size = options.pixelMetricsAt === 'original' ? loaded.sizes[i]! : box;
      const mask = await groundTruth(entry, loaded.sizes[i]!, size.width, size.height, issues);
      const scoredMap = size === box ? picture : resizeMap(picture, box.width, box.height, size.width, size.height);
      if (mask) scored.push({ map: scoredMap, mask, width: size.width, height: size.height });
    }
    options.onProgress?.({ phase: 'test', stage: 'inference', done: images.length, total: test.length });
  }

  const scores = Float64Array.from(images, (r) => r.score);
  const labels = Uint8Array.from(images, (r) => (r.defective ? 1 : 0));
  const { scores: pixelScores, labels: pixelLabels } = pooledPixels(scored);
  const noF1 = { f1: Number.NaN, threshold: Number.NaN };
  const imageF1 = images.length ? f1Max(scores, labels) : noF1;
  const pixelF1 = pixelScores.length && pixelLabels.includes(1) ? f1Max(pixelScores, pixelLabels) : noF1;
  return {
    nTest: images.length,
    imageAuroc: metric('image AUROC', issues, () => auroc(scores, labels)),
    pixelAuroc: metric('pixel AUROC', issues, () => auroc(pixelScores, pixelLabels)),
    aupro: metric('AUPRO', issues, () => aupro(scored)),
    imageF1: { f1: imageF1.f1, threshold: imageF1.threshold },
    pixelF1: { f1: pixelF1.f1, threshold: pixelF1.threshold },
    intervals: bootstrapIntervals({ scores, labels }, scored),
    msPerImage: images.length ? modelMs / images.length : Number.NaN,
    images,
  };
}
