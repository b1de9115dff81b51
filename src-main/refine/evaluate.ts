/**
 * The F2PAD evaluation of the seed (§IV-A): a cut-paste set per dataset, the detector fitted on the
 * rest of train/good, its map thresholded at the F1-optimal pixel threshold over the set, and IoU and
 * DICE (×100, mean over images, at each image's original resolution) of the detector's mask and of the
 * F2PAD mask. Used by `argus f2pad-eval`.
 */
import { evenlySpaced, scanMvtec } from '../datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../datasets/loader.ts';
import { getMethod } from '../methods/index.ts';
import { resolveAutoInput } from '../methods/input-proposal.ts';
import { withBackboneTaps } from '../methods/backbone-taps.ts';
import { sampleSizes } from '../services/evaluation.ts';
import type { FittedModel } from '../methods/method.ts';
import { f1Max } from '../metrics/f1max.ts';
import { concatenated } from '../util/arrays.ts';
import { cropMap } from '../vision/index.ts';
import { resizeMaskNearest } from '../vision/mask.ts';
import { buildCutPasteSet, type CutPasteOptions, type CutPasteSample } from './cutpaste.ts';
import type { PlanarImage } from './inpaint.ts';
import { loadTrainingImages } from './training-images.ts';
import { createRefiner, type Ablation, type Refiner, type RefineOptions } from './refine.ts';

export interface Overlap {
  readonly iou: number;
  readonly dice: number;
  /** Share of predicted pixels that are defect, and of defect pixels predicted (diagnostics). */
  readonly precision?: number;
  readonly recall?: number;
}

/** IoU and DICE of two binary masks (1 when both are empty). */
export function overlap(pred: Uint8Array, truth: Uint8Array): Overlap {
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = pred[i] ? 1 : 0;
    const b = truth[i] ? 1 : 0;
    inter += a & b;
    p += a;
    t += b;
  }
  const union = p + t - inter;
  return { iou: union === 0 ? 1 : inter / union, dice: p + t === 0 ? 1 : (2 * inter) / (p + t), precision: p === 0 ? 1 : inter / p, recall: t === 0 ? 1 : inter / t };
}

export interface AblationResult {
  readonly ablation: Ablation;
  readonly f2pad: Overlap;
  readonly secondsPerImage: number;
  readonly secondsMedian: number;
  readonly secondsWorst: number;
  readonly iterationsMedian: number;
  readonly perImage: ReadonlyArray<{ readonly name: string; readonly iou: number; readonly dice: number; readonly seconds: number; readonly iterations: number }>;
}

export interface DatasetF2padResult {
  readonly name: string;
  readonly detectorName: string;
  readonly count: number;
  readonly threshold: number;
  readonly detector: Overlap;
  /** The first ablation's (normally 'none', the full method). */
  readonly f2pad: Overlap;
  readonly secondsPerImage: number;
  readonly ablations: readonly AblationResult[];
  readonly fitImages: number;
  readonly fitSeconds: number;
}

export type F2padDetector = 'patchcore' | 'padim' | 'cflow';
export const F2PAD_DETECTORS: readonly F2padDetector[] = ['patchcore', 'padim', 'cflow'];

export interface F2padEvalOptions {
  readonly detector: F2padDetector;
  /** Settings of the detector over its method's defaults (e.g. CFLOW-AD's epochs). */
  readonly detectorSettings?: Readonly<Record<string, unknown>>;
  readonly cutpaste: Partial<CutPasteOptions>;
  readonly refine: Partial<RefineOptions>;
  readonly ablations: readonly Ablation[];
  /** Cap on fitting images (evenly spaced), for large datasets. */
  readonly maxFit?: number;
  readonly onImage?: (message: string) => void;
}

const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);
const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Fits the detector (its method's defaults, `settings` over them) on the images and collects them at
 * the model size (prior and inpainting donors).
 */
export async function fitDetector(detector: F2padDetector, entries: Parameters<typeof loadBatches>[0], settings: Readonly<Record<string, unknown>> = {}): Promise<{ model: FittedModel; images: PlanarImage[]; seconds: number }> {
  const method = getMethod(detector);
  const defaults = method.defaults as Record<string, unknown>;
  for (const key of Object.keys(settings)) if (!(key in defaults)) throw new RangeError(`${detector} has no setting '${key}'`);
  // resize 'auto' is chosen from the fitting images' sizes, as for `argus eval`
  const { config } = resolveAutoInput(withBackboneTaps({ ...method.defaults, ...settings } as typeof method.defaults, defaults), method.defaults, await sampleSizes(entries));
  method.validate?.(config);
  const input = method.input(config);
  const start = performance.now();
  const model = await method.fit(imageBatches(loadBatches(entries, input, { batchSize: 8 })), entries.length, config);
  const seconds = (performance.now() - start) / 1000;
  return { model, images: await loadTrainingImages(entries, input), seconds };
}

/**
 * The detector's map of every sample (at the model input size) and its F1-optimal pixel threshold over
 * the whole set (as the seed, following PaDiM), counting the picture's pixels only (not a letterboxed
 * canvas's padding).
 */
export async function detectorMapsAndThreshold(refiner: Refiner, samples: readonly CutPasteSample[]): Promise<{ maps: Float32Array[]; threshold: number }> {
  const { width: W } = refiner.model.input;
  const maps: Float32Array[] = [];
  const pictures: Float32Array[] = [];
  const truths: Uint8Array[] = [];
  for (const s of samples) {
    const x = refiner.modelInput(s.image);
    const map = await refiner.detectorMap(x);
    maps.push(map);
    pictures.push(cropMap(map, W, x.content.width, x.content.height));
    truths.push(resizeMaskNearest(s.mask, x.content.width, x.content.height).data);
  }
  const scores = concatenated(pictures, (n) => new Float32Array(n));
  const labels = concatenated(truths, (n) => new Uint8Array(n));
  return { maps, threshold: f1Max(scores, labels).threshold };
}

export async function evaluateF2pad(dataDir: string, options: F2padEvalOptions): Promise<DatasetF2padResult> {
  const dataset = scanMvtec(dataDir);
  const { split, samples } = await buildCutPasteSet(dataset, options.cutpaste);
  const fitEntries = options.maxFit ? evenlySpaced(split.fit, options.maxFit) : split.fit;
  const { model, images, seconds: fitSeconds } = await fitDetector(options.detector, fitEntries, options.detectorSettings);
  const refiner = await createRefiner(model, { images });
  try {
    const { maps, threshold } = await detectorMapsAndThreshold(refiner, samples);
    const detectorOverlaps: Overlap[] = [];
    const ablations: AblationResult[] = [];
    for (const ablation of options.ablations) {
      const per: Array<{ name: string; iou: number; dice: number; seconds: number; iterations: number }> = [];
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        const r = await refiner.refine(s.image, threshold, { ...options.refine, ablation }, maps[i]);
        const o = overlap(r.mask.data, s.mask.data);
        if (ablations.length === 0) detectorOverlaps.push(overlap(r.detectorMask.data, s.mask.data));
        per.push({ name: s.name, ...o, seconds: r.seconds, iterations: r.iterations });
        options.onImage?.(`${dataset.name} ${options.detector} ${ablation} ${s.name}: IoU ${(100 * (detectorOverlaps[i]?.iou ?? NaN)).toFixed(1)} -> ${(100 * o.iou).toFixed(1)} (P ${(100 * o.precision!).toFixed(0)} R ${(100 * o.recall!).toFixed(0)}; det P ${(100 * (detectorOverlaps[i]?.precision ?? NaN)).toFixed(0)} R ${(100 * (detectorOverlaps[i]?.recall ?? NaN)).toFixed(0)})  ${r.seconds.toFixed(2)} s  ${r.iterations}+${r.reestimateIterations} it`);
      }
      const secs = per.map((p) => p.seconds);
      ablations.push({
        ablation,
        f2pad: { iou: 100 * mean(per.map((p) => p.iou)), dice: 100 * mean(per.map((p) => p.dice)) },
        secondsPerImage: mean(secs),
        secondsMedian: median(secs),
        secondsWorst: Math.max(...secs),
        iterationsMedian: median(per.map((p) => p.iterations)),
        perImage: per,
      });
    }
    const first = ablations[0]!;
    return {
      name: dataset.name,
      detectorName: options.detector,
      count: samples.length,
      threshold,
      detector: { iou: 100 * mean(detectorOverlaps.map((d) => d.iou)), dice: 100 * mean(detectorOverlaps.map((d) => d.dice)) },
      f2pad: first.f2pad,
      secondsPerImage: first.secondsPerImage,
      ablations,
      fitImages: fitEntries.length,
      fitSeconds,
    };
  } finally {
    await refiner.release();
  }
}

