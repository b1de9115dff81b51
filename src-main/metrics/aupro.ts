import { connectedComponents } from './connected-components.ts';
import { radixSortFloat32 } from './sorted.ts';
import { mapToUint8 } from '../util/arrays.ts';

/** One test image at evaluation resolution: anomaly map and binary ground-truth mask (non-zero = defect). */
export interface ScoredMask {
  readonly map: Float32Array;
  readonly mask: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Non-zero where the pixel lies in an ignore region: it counts for nothing, neither defect nor normal. */
  readonly ignore?: Uint8Array;
}

/** The ground truth without its ignored pixels (they belong to no region and are no normal pixel either). */
export function keptMask({ mask, ignore }: ScoredMask): Uint8Array {
  if (!ignore) return mask;
  return mapToUint8(mask, (m, p) => (ignore[p] !== 0 ? 0 : m));
}

export interface ProCurve {
  readonly fpr: Float64Array;
  readonly pro: Float64Array;
}

/**
 * Normalised area under the PRO curve up to `fprLimit`, as the MVTec AD evaluation package
 * (`compute_pro` + `trapezoid(x_max=limit)` / limit): the last segment is linearly interpolated
 * at the limit. Throws RangeError without any defect region or without any normal pixel.
 */
export function aupro(images: readonly ScoredMask[], fprLimit = 0.3): number {
  checkLimit(fprLimit);
  let area = 0;
  let prevFpr = 0;
  let prevPro = 0;
  walkProCurve(prepare(images), (fpr, pro) => {
    if (fpr <= fprLimit) {
      area += ((fpr - prevFpr) * (pro + prevPro)) / 2;
      prevFpr = fpr;
      prevPro = pro;
      return true;
    }
    if (prevFpr < fprLimit) {
      const proAtLimit = prevPro + ((pro - prevPro) * (fprLimit - prevFpr)) / (fpr - prevFpr);
      area += ((fprLimit - prevFpr) * (proAtLimit + prevPro)) / 2;
    }
    return false;
  });
  return area / fprLimit;
}

/**
 * The (FPR, PRO) curve of `compute_pro`: (0, 0), one point per distinct score from the highest
 * down (a pixel counts as detected when its score >= that score), then (1, 1). One point per
 * distinct score can be tens of millions, so points stop at the first one past `maxFpr`.
 */
export function proCurve(images: readonly ScoredMask[], maxFpr = 1): ProCurve {
  checkLimit(maxFpr);
  const fprs: number[] = [];
  const pros: number[] = [];
  walkProCurve(prepare(images), (fpr, pro) => {
    fprs.push(fpr);
    pros.push(pro);
    return fpr <= maxFpr;
  });
  return { fpr: Float64Array.from(fprs), pro: Float64Array.from(pros) };
}

function checkLimit(limit: number): void {
  if (!(limit > 0 && limit <= 1)) throw new RangeError(`FPR limit must be in (0, 1], got ${limit}`);
}

interface ProInputs {
  /** Scores of all pixels outside every defect region, sorted ascending. */
  readonly negatives: Float32Array;
  /** Scores of all region pixels, sorted ascending, and the region each belongs to. */
  readonly regionScores: Float32Array;
  readonly regionOf: Uint32Array;
  /** Per region: how much one of its pixels adds to PRO, 1 / (regionCount * regionSize). */
  readonly pixelWeight: Float64Array;
}

function prepare(images: readonly ScoredMask[]): ProInputs {
  let totalPixels = 0;
  let regionPixels = 0;
  for (const [i, { map, mask, width, height, ignore }] of images.entries()) {
    if (map.length !== width * height || mask.length !== width * height || (ignore && ignore.length !== width * height)) {
      throw new RangeError(`image ${i}: map, mask and ignore mask must all hold ${width}x${height} values`);
    }
    for (let p = 0; p < mask.length; p++) {
      if (ignore && ignore[p] !== 0) continue;
      totalPixels++;
      if (mask[p] !== 0) regionPixels++;
    }
  }
  if (regionPixels === 0) throw new RangeError('AUPRO is undefined: no defect regions in the ground truth');
  if (regionPixels === totalPixels) throw new RangeError('AUPRO is undefined: no normal pixels');

  const negatives = new Float32Array(totalPixels - regionPixels);
  const regionScores = new Float32Array(regionPixels);
  const regionOf = new Uint32Array(regionPixels);
  const regionSizes: number[] = [];
  let negativeCount = 0;
  let regionPixelCount = 0;
  for (const image of images) {
    const { map, width, height, ignore } = image;
    const { labels, count } = connectedComponents(keptMask(image), width, height);
    const firstRegion = regionSizes.length;
    for (let k = 0; k < count; k++) regionSizes.push(0);
    for (let p = 0; p < map.length; p++) {
      if (ignore && ignore[p] !== 0) continue;
      const score = map[p]!;
      if (Number.isNaN(score)) throw new RangeError('anomaly map contains NaN');
      const label = labels[p]!;
      if (label === 0) {
        negatives[negativeCount++] = score;
      } else {
        const region = firstRegion + label - 1;
        regionScores[regionPixelCount] = score;
        regionOf[regionPixelCount++] = region;
        regionSizes[region]!++;
      }
    }
  }
  radixSortFloat32(negatives);
  radixSortFloat32(regionScores, regionOf);
  const pixelWeight = Float64Array.from(regionSizes, (size) => 1 / (regionSizes.length * size));
  return { negatives, regionScores, regionOf, pixelWeight };
}

/** Calls `visit` with each curve point in order of increasing FPR until it returns false. */
function walkProCurve(inputs: ProInputs, visit: (fpr: number, pro: number) => boolean): void {
  const { negatives, regionScores, regionOf, pixelWeight } = inputs;
  if (!visit(0, 0)) return;
  let n = negatives.length - 1;
  let r = regionScores.length - 1;
  let pro = 0;
  while (n >= 0 || r >= 0) {
    const threshold = Math.max(n >= 0 ? negatives[n]! : -Infinity, r >= 0 ? regionScores[r]! : -Infinity);
    while (n >= 0 && negatives[n] === threshold) n--;
    while (r >= 0 && regionScores[r] === threshold) pro += pixelWeight[regionOf[r--]!]!;
    const fpr = (negatives.length - 1 - n) / negatives.length;
    if (!visit(fpr, Math.min(pro, 1))) return;
  }
  visit(1, 1);
}

/** Every pixel of the images outside ignore regions, map values and mask labels, one after another (for pixel AUROC / F1). */
export function pooledPixels(images: readonly ScoredMask[]): { scores: Float32Array; labels: Uint8Array } {
  const kept = (s: ScoredMask) => (s.ignore ? s.ignore.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) : s.map.length);
  const scores = new Float32Array(images.reduce((a, s) => a + kept(s), 0));
  const labels = new Uint8Array(scores.length);
  let offset = 0;
  for (const s of images) {
    if (!s.ignore) {
      scores.set(s.map, offset);
      labels.set(s.mask, offset);
      offset += s.map.length;
      continue;
    }
    for (let p = 0; p < s.map.length; p++) {
      if (s.ignore[p] !== 0) continue;
      scores[offset] = s.map[p]!;
      labels[offset++] = s.mask[p]!;
    }
  }
  return { scores, labels };
}
