/**
 * 95 % confidence intervals of the evaluation metrics by the percentile bootstrap over images: the test
 * images are drawn again with replacement (good and defective images separately, so every resample has
 * both classes in their original numbers) and each metric is recomputed on every resample.
 *
 * Image AUROC and image F1-max are recomputed exactly. The pixel metrics (pixel AUROC, pixel F1-max,
 * AUPRO) would need millions of pixels sorted per resample, so each image is first reduced to
 * histograms over shared score bins (the quantiles of the pooled pixel scores): its normal pixels, its
 * defect pixels, and for AUPRO the summed overlap of its defect regions above each bin edge. A resample
 * is then a weighted sum of those per-image vectors. Binning shifts a pixel metric by far less than
 * the interval's width (tested against the exact metrics).
 *
 * pairedBootstrap compares models on the same images the same way, drawing each resample once for all
 * of them (the differences' intervals).
 */
import { aupro, keptMask, pooledPixels, type ScoredMask } from './aupro.ts';
import { auroc } from './auroc.ts';
import { connectedComponents } from './connected-components.ts';
import { f1Max } from './f1max.ts';
import { Random } from '../util/random.ts';

export interface Interval {
  readonly low: number;
  readonly high: number;
}

export interface MetricIntervals {
  readonly imageAuroc: Interval | null;
  readonly imageF1: Interval | null;
  readonly pixelAuroc: Interval | null;
  readonly pixelF1: Interval | null;
  readonly aupro: Interval | null;
  readonly resamples: number;
  readonly level: number;
}

export interface BootstrapOptions {
  readonly resamples?: number;
  readonly level?: number;
  readonly seed?: number;
  /** Score bins of the pixel metrics. */
  readonly bins?: number;
  readonly fprLimit?: number;
}

/** Per-image vectors over the bins, highest bin first (index b: scores at or above edge b count). */
interface PixelImage {
  readonly negatives: Float64Array;
  readonly positives: Float64Array;
  /** Σ over the image's regions of (region pixels in bin b) / region size. */
  readonly overlap: Float64Array;
  readonly regions: number;
  readonly defective: boolean;
}

export function bootstrapIntervals(
  image: { readonly scores: ArrayLike<number>; readonly labels: ArrayLike<number> },
  pixels: readonly ScoredMask[],
  options: BootstrapOptions = {},
): MetricIntervals {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const draw = drawer(options.seed ?? 0);
  const fprLimit = options.fprLimit ?? 0.3;
  const interval = (values: number[]) => percentileInterval(values, resamples, level);

  // image level
  const n = image.scores.length;
  const goodIdx: number[] = [];
  const badIdx: number[] = [];
  for (let i = 0; i < n; i++) (image.labels[i] ? badIdx : goodIdx).push(i);
  const imageAurocs: number[] = [];
  const imageF1s: number[] = [];
  if (goodIdx.length > 0 && badIdx.length > 0) {
    for (let r = 0; r < resamples; r++) {
      const idx = draw([goodIdx, badIdx]);
      const s = Float64Array.from(idx, (i) => image.scores[i]!);
      const l = Uint8Array.from(idx, (i) => image.labels[i]!);
      imageAurocs.push(auroc(s, l));
      imageF1s.push(f1Max(s, l).f1);
    }
  }

  // pixel level
  const binned = binPixels(pixels, options.bins ?? 1024);
  const pixelAurocs: number[] = [];
  const pixelF1s: number[] = [];
  const aupros: number[] = [];
  if (binned && binned.some((b) => b.defective) && binned.some((b) => !b.defective || sum(b.negatives) > 0)) {
    const withDefect = binned.flatMap((b, i) => (b.defective ? [i] : []));
    const without = binned.flatMap((b, i) => (b.defective ? [] : [i]));
    for (let r = 0; r < resamples; r++) {
      const curves = fromHistograms(summed(binned, draw([withDefect, without])), fprLimit);
      pixelAurocs.push(curves.auroc);
      pixelF1s.push(curves.f1);
      aupros.push(curves.aupro);
    }
  }
  return {
    imageAuroc: interval(imageAurocs), imageF1: interval(imageF1s),
    pixelAuroc: interval(pixelAurocs), pixelF1: interval(pixelF1s), aupro: interval(aupros),
    resamples, level,
  };
}

/** One metric's difference between two models on the same images, with its paired bootstrap interval. */
export interface PairedDifference {
  /** metric(model) − metric(baseline), exactly, on all the shared images. */
  readonly difference: number;
  readonly low: number;
  readonly high: number;
  /** The interval lies wholly above or wholly below zero: the models differ beyond resampling noise. */
  readonly excludesZero: boolean;
}

export const COMPARED_METRICS = ['imageAuroc', 'imageF1', 'pixelAuroc', 'pixelF1', 'aupro'] as const;
export type ComparedMetric = (typeof COMPARED_METRICS)[number];
export type PairedDifferences = Record<ComparedMetric, PairedDifference | null>;

export interface PairedComparison {
  /** Each model's exact metrics on the shared images (null where undefined). */
  readonly metrics: Record<ComparedMetric, number | null>[];
  /** For each model after the first, its differences from the first. */
  readonly differences: PairedDifferences[];
  readonly resamples: number;
  readonly level: number;
}

/** One model's side of a paired comparison. */
export interface PairedModel {
  /** Image scores, in the order of the shared labels. */
  readonly scores: ArrayLike<number>;
  /**
   * Maps with ground truth of the images that have it, in one order for every model (each model at
   * its own map size); empty to leave the pixel metrics out.
   */
  readonly pixels: readonly ScoredMask[];
}

/**
 * Paired percentile bootstrap of the differences between models evaluated on the same images: each
 * resample draws the images once (good and defective separately, pixel images by whether they hold a
 * defect) and every model is measured on that same draw, so what is hard or easy about the images
 * cancels out of the differences. Returns, for each model after the first, its differences from the
 * first (the baseline), and each model's exact metrics. The pixel metrics of a resample come from the per-image histograms of
 * bootstrapIntervals, each model over its own bins; the point differences are the exact metrics.
 */
export function pairedBootstrap(labels: ArrayLike<number>, models: readonly PairedModel[], options: BootstrapOptions = {}): PairedComparison {
  if (models.length < 2) throw new RangeError(`a comparison needs at least 2 models, got ${models.length}`);
  for (const [k, m] of models.entries()) {
    if (m.scores.length !== labels.length) throw new RangeError(`model ${k}: ${m.scores.length} scores for ${labels.length} labels`);
    if (m.pixels.length !== models[0]!.pixels.length) throw new RangeError(`model ${k}: ${m.pixels.length} pixel images, the first model has ${models[0]!.pixels.length}`);
  }
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const draw = drawer(options.seed ?? 0);
  const fprLimit = options.fprLimit ?? 0.3;
  const bins = options.bins ?? 1024;
  const undefinedAsNull = (f: () => number): number | null => {
    try {
      const v = f();
      return Number.isFinite(v) ? v : null;
    } catch (err) {
      if (err instanceof RangeError) return null;
      throw err;
    }
  };

  // the exact metrics of each model on all the images
  const exact = models.map(({ scores, pixels }) => {
    const pooled = pixels.length > 0 ? pooledPixels(pixels) : null;
    return {
      imageAuroc: undefinedAsNull(() => auroc(scores, labels)),
      imageF1: undefinedAsNull(() => f1Max(scores, labels).f1),
      pixelAuroc: pooled && undefinedAsNull(() => auroc(pooled.scores, pooled.labels)),
      pixelF1: pooled && undefinedAsNull(() => f1Max(pooled.scores, pooled.labels).f1),
      aupro: pooled && undefinedAsNull(() => aupro(pixels, fprLimit)),
    } satisfies Record<ComparedMetric, number | null>;
  });

  // resampled differences from the baseline, per model after it and per metric
  const diffs = models.slice(1).map(() => Object.fromEntries(COMPARED_METRICS.map((k) => [k, [] as number[]])) as Record<ComparedMetric, number[]>);
  const push = (values: readonly Record<string, number>[], keys: readonly ComparedMetric[]) => {
    for (let k = 1; k < values.length; k++) for (const key of keys) diffs[k - 1]![key].push(values[k]![key]! - values[0]![key]!);
  };

  const goodIdx: number[] = [];
  const badIdx: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] ? badIdx : goodIdx).push(i);
  if (goodIdx.length > 0 && badIdx.length > 0) {
    for (let r = 0; r < resamples; r++) {
      const idx = draw([goodIdx, badIdx]);
      const l = Uint8Array.from(idx, (i) => labels[i]!);
      push(models.map(({ scores }) => {
        const s = Float64Array.from(idx, (i) => scores[i]!);
        return { imageAuroc: auroc(s, l), imageF1: f1Max(s, l).f1 };
      }), ['imageAuroc', 'imageF1']);
    }
  }

  const binned = models.map(({ pixels }) => binPixels(pixels, bins));
  const first = binned[0];
  if (first && first.some((b) => b.defective) && first.some((b) => !b.defective || sum(b.negatives) > 0)) {
    const withDefect = first.flatMap((b, i) => (b.defective ? [i] : []));
    const without = first.flatMap((b, i) => (b.defective ? [] : [i]));
    for (let r = 0; r < resamples; r++) {
      const idx = draw([withDefect, without]);
      push(binned.map((b) => {
        const m = fromHistograms(summed(b!, idx), fprLimit);
        return { pixelAuroc: m.auroc, pixelF1: m.f1, aupro: m.aupro };
      }), ['pixelAuroc', 'pixelF1', 'aupro']);
    }
  }

  const differences = diffs.map((perMetric, k) => Object.fromEntries(COMPARED_METRICS.map((key) => {
    const a = exact[0]![key];
    const b = exact[k + 1]![key];
    const interval = percentileInterval(perMetric[key], resamples, level);
    if (a === null || b === null || interval === null) return [key, null];
    return [key, { difference: b - a, low: interval.low, high: interval.high, excludesZero: interval.low > 0 || interval.high < 0 }];
  })) as PairedDifferences);
  return { metrics: exact, differences, resamples, level };
}

/** The central `level` share of the finite values (null when fewer than half of the resamples are finite). */
function percentileInterval(values: readonly number[], resamples: number, level: number): Interval | null {
  const tail = (1 - level) / 2;
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length < resamples / 2) return null;
  const at = (q: number) => finite[Math.min(finite.length - 1, Math.max(0, Math.round(q * (finite.length - 1))))]!;
  return { low: at(tail), high: at(1 - tail) };
}

/** Draws indices with replacement within each class (so every resample keeps the class sizes). */
function drawer(seed: number): (classes: readonly (readonly number[])[]) => number[] {
  const rng = new Random(seed);
  return (classes) => classes.flatMap((members) => members.map(() => members[Math.floor(rng.next() * members.length)]!));
}

function sum(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x;
  return s;
}

/** Shared bin edges (quantiles of a sample of every pixel score) and each image's histograms. */
function binPixels(images: readonly ScoredMask[], bins: number): PixelImage[] | null {
  if (images.length === 0) return null;
  const total = images.reduce((a, m) => a + m.map.length, 0);
  const stride = Math.max(1, Math.floor(total / 200_000));
  const sample: number[] = [];
  let at = 0;
  for (const m of images) {
    for (; at < m.map.length; at += stride) sample.push(m.map[at]!);
    at -= m.map.length;
  }
  sample.sort((a, b) => b - a);
  // descending edges: bin b holds scores in [edge b, edge b-1)
  const edges = Float64Array.from({ length: bins }, (_, b) => sample[Math.min(sample.length - 1, Math.floor(((b + 1) * sample.length) / bins))]!);
  edges[bins - 1] = -Infinity;
  const binOf = (v: number): number => {
    let lo = 0;
    let hi = bins - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v >= edges[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return images.map((image) => {
    const { map, width, height, ignore } = image;
    const negatives = new Float64Array(bins);
    const positives = new Float64Array(bins);
    const overlap = new Float64Array(bins);
    const { labels, count } = connectedComponents(keptMask(image), width, height);
    const size = new Float64Array(count + 1);
    for (let p = 0; p < labels.length; p++) size[labels[p]!]!++;
    for (let p = 0; p < map.length; p++) {
      if (ignore && ignore[p] !== 0) continue;
      const b = binOf(map[p]!);
      const region = labels[p]!;
      if (region === 0) negatives[b]!++;
      else {
        positives[b]!++;
        overlap[b]! += 1 / size[region]!;
      }
    }
    return { negatives, positives, overlap, regions: count, defective: count > 0 };
  });
}

interface Summed {
  readonly neg: Float64Array;
  readonly pos: Float64Array;
  readonly ov: Float64Array;
  readonly regions: number;
}

/** The histograms of the images at `indices` (repeats count again), summed. */
function summed(binned: readonly PixelImage[], indices: Iterable<number>): Summed {
  const bins = binned[0]!.negatives.length;
  const neg = new Float64Array(bins);
  const pos = new Float64Array(bins);
  const ov = new Float64Array(bins);
  let regions = 0;
  for (const i of indices) {
    const b = binned[i]!;
    for (let k = 0; k < bins; k++) {
      neg[k]! += b.negatives[k]!;
      pos[k]! += b.positives[k]!;
      ov[k]! += b.overlap[k]!;
    }
    regions += b.regions;
  }
  return { neg, pos, ov, regions };
}

/** Pixel AUROC, pixel F1-max and AUPRO (to fprLimit) from summed histograms (highest bin first). */
function fromHistograms({ neg, pos, ov, regions }: Summed, fprLimit: number): { auroc: number; f1: number; aupro: number } {
  const N = sum(neg);
  const P = sum(pos);
  let tp = 0;
  let fp = 0;
  let cover = 0;
  let aurocArea = 0;
  let f1 = 0;
  let proArea = 0;
  let prevFpr = 0;
  let prevPro = 0;
  let proDone = false;
  for (let b = 0; b < neg.length; b++) {
    // ties within a bin count half, as AUROC's rank formula does for equal scores
    aurocArea += pos[b]! * (fp + neg[b]! / 2);
    tp += pos[b]!;
    fp += neg[b]!;
    cover += ov[b]!;
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = P > 0 ? tp / P : 0;
    if (precision + recall > 0) f1 = Math.max(f1, (2 * precision * recall) / (precision + recall));
    if (!proDone) {
      const fpr = fp / N;
      const pro = cover / regions;
      if (fpr <= fprLimit) {
        proArea += ((fpr - prevFpr) * (pro + prevPro)) / 2;
        [prevFpr, prevPro] = [fpr, pro];
      } else {
        const proAtLimit = prevPro + ((pro - prevPro) * (fprLimit - prevFpr)) / (fpr - prevFpr);
        proArea += ((fprLimit - prevFpr) * (proAtLimit + prevPro)) / 2;
        proDone = true;
      }
    }
  }
  // auroc: P(score_pos > score_neg) = 1 − Σ pos·(neg at or above)/(P·N)
  return { auroc: N > 0 && P > 0 ? 1 - aurocArea / (P * N) : Number.NaN, f1, aupro: regions > 0 && N > 0 ? proArea / fprLimit : Number.NaN };
}

/** The binned pixel metrics of all images once (no resampling): what the tests compare with the exact ones. */
export function binnedPixelMetrics(images: readonly ScoredMask[], bins = 1024, fprLimit = 0.3): { auroc: number; f1: number; aupro: number } {
  const binned = binPixels(images, bins)!;
  return fromHistograms(summed(binned, binned.keys()), fprLimit);
}

