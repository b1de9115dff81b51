/**
 * The F2PAD pixel prior (METHODS.md §8.4, seed eq. 9-10): a K-component Gaussian mixture over RGB
 * pixel values of the normal training images, fitted by EM (the seed uses variational Bayes; §8.4 allows
 * EM). The refinement uses it with equal component weights: R_MOG(y) = min_k (y − μ_k)ᵀ Σ_k⁻¹ (y − μ_k).
 *
 * Pixels are RGB in [0, 1] (the backbone input scale). This is set-up work on a few thousand
 * pixels, not per-iteration work, so it runs in plain JS.
 */
import { Random } from '../util/random.ts';

export interface MixturePrior {
  readonly k: number;
  /** [k] mixture weights (fitted; the refinement ignores them, as the seed). */
  readonly weights: Float64Array;
  /** [k, 3] means. */
  readonly means: Float64Array;
  /** [k, 3, 3] covariances (row-major). */
  readonly covariances: Float64Array;
  /** Mean log-likelihood per pixel after each EM iteration (non-decreasing). */
  readonly logLikelihood: readonly number[];
}

export interface MixtureOptions {
  readonly k: number;
  readonly iterations?: number;
  readonly seed?: number;
  /**
   * Variance floor added to every covariance (ours: 1e-4, i.e. a standard deviation of 0.01 = 2.6 grey
   * levels), so grey images (R = G = B, a rank-1 covariance) still give an invertible Σ.
   */
  readonly ridge?: number;
  /** Stop when the mean log-likelihood improves by less than this. */
  readonly tolerance?: number;
}

/** Fits the mixture to n pixels given as [n, 3] row-major values. */
export function fitMixture(pixels: Float32Array | Float64Array, options: MixtureOptions): MixturePrior {
  const n = pixels.length / 3;
  const K = options.k;
  if (!Number.isInteger(n) || n < K) throw new RangeError(`fitMixture needs at least ${K} pixels of 3 values, received ${pixels.length} values`);
  const ridge = options.ridge ?? 1e-4;
  const iterations = options.iterations ?? 100;
  const tolerance = options.tolerance ?? 1e-6;
  const rng = new Random(options.seed ?? 0);

  // k-means++ style seeding: spread-out starting means
  const means = new Float64Array(K * 3);
  const first = rng.int(n);
  for (let c = 0; c < 3; c++) means[c] = pixels[first * 3 + c]!;
  const nearest = new Float64Array(n).fill(Infinity);
  for (let j = 1; j < K; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += (pixels[i * 3 + c]! - means[(j - 1) * 3 + c]!) ** 2;
      nearest[i] = Math.min(nearest[i]!, d);
      total += nearest[i]!;
    }
    let pick = rng.next() * total;
    let chosen = n - 1;
    for (let i = 0; i < n; i++) {
      pick -= nearest[i]!;
      if (pick <= 0) { chosen = i; break; }
    }
    for (let c = 0; c < 3; c++) means[j * 3 + c] = pixels[chosen * 3 + c]! + 1e-3 * j; // distinct even for duplicate pixels
  }
  let variance = 0;
  for (let i = 0; i < n * 3; i++) variance += (pixels[i]! - means[i % 3]!) ** 2;
  variance = Math.max(variance / (n * 3), ridge);
  const cov = new Float64Array(K * 9);
  for (let j = 0; j < K; j++) for (let c = 0; c < 3; c++) cov[j * 9 + c * 4] = variance;
  const weights = new Float64Array(K).fill(1 / K);
  const resp = new Float64Array(n * K);
  const history: number[] = [];

  for (let it = 0; it < iterations; it++) {
    // E step (log-sum-exp per pixel)
    const comps = Array.from({ length: K }, (_, j) => gaussianTerms(cov.subarray(j * 9, j * 9 + 9)));
    let ll = 0;
    for (let i = 0; i < n; i++) {
      let top = -Infinity;
      for (let j = 0; j < K; j++) {
        const { inv, logNorm } = comps[j]!;
        const d0 = pixels[i * 3]! - means[j * 3]!;
        const d1 = pixels[i * 3 + 1]! - means[j * 3 + 1]!;
        const d2 = pixels[i * 3 + 2]! - means[j * 3 + 2]!;
        const q = d0 * (inv[0]! * d0 + inv[1]! * d1 + inv[2]! * d2) + d1 * (inv[3]! * d0 + inv[4]! * d1 + inv[5]! * d2) + d2 * (inv[6]! * d0 + inv[7]! * d1 + inv[8]! * d2);
        const l = Math.log(weights[j]!) + logNorm - 0.5 * q;
        resp[i * K + j] = l;
        if (l > top) top = l;
      }
      let s = 0;
      for (let j = 0; j < K; j++) s += Math.exp(resp[i * K + j]! - top);
      const lse = top + Math.log(s);
      ll += lse;
      for (let j = 0; j < K; j++) resp[i * K + j] = Math.exp(resp[i * K + j]! - lse);
    }
    history.push(ll / n);
    if (history.length > 1 && history[history.length - 1]! - history[history.length - 2]! < tolerance) break;
    // M step
    for (let j = 0; j < K; j++) {
      let w = 0;
      const mu = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + j]!;
        w += r;
        for (let c = 0; c < 3; c++) mu[c]! += r * pixels[i * 3 + c]!;
      }
      const wSafe = Math.max(w, 1e-12);
      for (let c = 0; c < 3; c++) means[j * 3 + c] = mu[c]! / wSafe;
      const s = new Float64Array(9);
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + j]!;
        if (r < 1e-12) continue;
        const d = [pixels[i * 3]! - means[j * 3]!, pixels[i * 3 + 1]! - means[j * 3 + 1]!, pixels[i * 3 + 2]! - means[j * 3 + 2]!];
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) s[a * 3 + b]! += r * d[a]! * d[b]!;
      }
      for (let e = 0; e < 9; e++) cov[j * 9 + e] = s[e]! / wSafe + (e % 4 === 0 ? ridge : 0);
      weights[j] = Math.max(w / n, 1e-12);
    }
  }
  return { k: K, weights, means, covariances: cov, logLikelihood: history };
}

/** Inverse and log normalising constant of a 3×3 covariance. */
function gaussianTerms(c: Float64Array): { inv: Float64Array; logNorm: number } {
  const inv = invert3(c);
  const det = det3(c);
  return { inv, logNorm: -1.5 * Math.log(2 * Math.PI) - 0.5 * Math.log(Math.max(det, 1e-300)) };
}

export function det3(m: ArrayLike<number>): number {
  return m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
}

export function invert3(m: ArrayLike<number>): Float64Array {
  const d = det3(m);
  const r = new Float64Array(9);
  r[0] = (m[4]! * m[8]! - m[5]! * m[7]!) / d;
  r[1] = (m[2]! * m[7]! - m[1]! * m[8]!) / d;
  r[2] = (m[1]! * m[5]! - m[2]! * m[4]!) / d;
  r[3] = (m[5]! * m[6]! - m[3]! * m[8]!) / d;
  r[4] = (m[0]! * m[8]! - m[2]! * m[6]!) / d;
  r[5] = (m[2]! * m[3]! - m[0]! * m[5]!) / d;
  r[6] = (m[3]! * m[7]! - m[4]! * m[6]!) / d;
  r[7] = (m[1]! * m[6]! - m[0]! * m[7]!) / d;
  r[8] = (m[0]! * m[4]! - m[1]! * m[3]!) / d;
  return r;
}

/**
 * Per component, the upper-triangular factor P_k with P_kᵀP_k = Σ_k⁻¹ (Cholesky of the inverse), so that
 * (y − μ)ᵀ Σ⁻¹ (y − μ) = ‖P_k (y − μ)‖²: one 1×1 convolution in the graph. Returned [k·3, 3].
 */
export function whiteningFactors(prior: MixturePrior): Float32Array {
  const out = new Float32Array(prior.k * 9);
  for (let j = 0; j < prior.k; j++) {
    const inv = invert3(prior.covariances.subarray(j * 9, j * 9 + 9));
    // Cholesky inv = L Lᵀ, then P = Lᵀ
    const L = new Float64Array(9);
    for (let i = 0; i < 3; i++) {
      for (let c = 0; c <= i; c++) {
        let s = inv[i * 3 + c]!;
        for (let q = 0; q < c; q++) s -= L[i * 3 + q]! * L[c * 3 + q]!;
        L[i * 3 + c] = i === c ? Math.sqrt(Math.max(s, 1e-12)) : s / L[c * 3 + c]!;
      }
    }
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[j * 9 + r * 3 + c] = L[c * 3 + r]!;
  }
  return out;
}

/** R_MOG of one pixel (equal weights: the smallest squared Mahalanobis distance). */
export function mixtureDistance(prior: MixturePrior, y: readonly [number, number, number]): number {
  let best = Infinity;
  for (let j = 0; j < prior.k; j++) {
    const inv = invert3(prior.covariances.subarray(j * 9, j * 9 + 9));
    const d = [y[0] - prior.means[j * 3]!, y[1] - prior.means[j * 3 + 1]!, y[2] - prior.means[j * 3 + 2]!];
    let q = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) q += d[a]! * inv[a * 3 + b]! * d[b]!;
    best = Math.min(best, q);
  }
  return best;
}

/** The prior as JSON bytes (stored with a model as its `pixel_prior` blob). */
export function encodePrior(prior: MixturePrior): Uint8Array {
  const json = { kind: 'argus-pixel-prior', k: prior.k, weights: [...prior.weights], means: [...prior.means], covariances: [...prior.covariances], logLikelihood: [...prior.logLikelihood] };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Reads encodePrior's bytes back; throws RangeError naming what is wrong. */
export function decodePrior(bytes: Uint8Array, source: string): MixturePrior {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RangeError(`${source} is not a pixel prior (not JSON)`);
  }
  const o = json as { kind?: unknown; k?: unknown; weights?: unknown; means?: unknown; covariances?: unknown; logLikelihood?: unknown };
  const numbers = (v: unknown, n: number, name: string): Float64Array => {
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new RangeError(`${source}: ${name} must be ${n} finite numbers`);
    return Float64Array.from(v as number[]);
  };
  if (o.kind !== 'argus-pixel-prior') throw new RangeError(`${source} is not a pixel prior`);
  if (!Number.isInteger(o.k) || (o.k as number) < 1 || (o.k as number) > 64) throw new RangeError(`${source}: k must be an integer in [1, 64]`);
  const k = o.k as number;
  const logLikelihood = Array.isArray(o.logLikelihood) ? (o.logLikelihood as unknown[]).filter((x): x is number => typeof x === 'number') : [];
  return { k, weights: numbers(o.weights, k, 'weights'), means: numbers(o.means, 3 * k, 'means'), covariances: numbers(o.covariances, 9 * k, 'covariances'), logLikelihood };
}
