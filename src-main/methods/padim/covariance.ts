/**
 * Per-position Gaussian statistics from streamed moments, in float64.
 * Moments are of y = x − shift (shift = the first image's features), which keeps the
 * single-pass covariance free of catastrophic cancellation.
 */

/**
 * Whitening factor of a symmetric positive-definite d×d matrix A (float64, row-major): with
 * A = L·Lᵀ (Cholesky) and M = L⁻¹, writes Mᵀ (float32) so that xᵀA⁻¹x = ‖M·x‖² = ‖xᵀ·Mᵀ‖².
 * Half the work of a full inverse, and better conditioned.
 */
export function whiteningFactor(a: Float64Array, d: number, out: Float32Array, outOffset: number): void {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let j = 0; j <= i; j++) {
      const rj = j * d;
      // four partial sums: independent chains run faster than one in V8
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k + 3 < j; k += 4) {
        s0 += L[ri + k]! * L[rj + k]!;
        s1 += L[ri + k + 1]! * L[rj + k + 1]!;
        s2 += L[ri + k + 2]! * L[rj + k + 2]!;
        s3 += L[ri + k + 3]! * L[rj + k + 3]!;
      }
      for (; k < j; k++) s0 += L[ri + k]! * L[rj + k]!;
      const s = a[ri + j]! - (s0 + s1 + s2 + s3);
      if (i === j) {
        if (s <= 0) throw new RangeError('covariance is not positive definite; raise epsilon');
        L[ri + i] = Math.sqrt(s);
      } else L[ri + j] = s / L[rj + j]!;
    }
  }
  // rows of M = L⁻¹ by forward substitution: M[i] = (e_i − Σ_{k<i} L[i][k]·M[k]) / L[i][i]
  const M = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const row = i * d;
    M[row + i] = 1;
    for (let k = 0; k < i; k++) {
      const l = L[row + k]!;
      for (let j = 0; j <= k; j++) M[row + j]! -= l * M[k * d + j]!;
    }
    const inv = 1 / L[row + i]!;
    for (let j = 0; j <= i; j++) M[row + j]! *= inv;
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[outOffset + j * d + i] = M[i * d + j]!;
}

export interface GaussianStats {
  /** [P, d] */
  readonly mean: Float32Array;
  /** [P, d, d] whitening factors Mᵀ (Σ⁻¹ = Mᵀ·M); see whiteningFactor */
  readonly whitening: Float32Array;
}

/**
 * Streamed moments of y = x − shift per position: Σy [P, d], Σyyᵀ [P, d, d] over counts[p] samples
 * (positions differ where training images' ignore regions left some out).
 */
export interface Moments {
  readonly sum: Float64Array;
  readonly cross: Float64Array;
  readonly shift: Float32Array;
  readonly counts: Float64Array;
  readonly d: number;
}

/** One Gaussian in float64: mean [d] and unbiased covariance [d, d] (no epsilon). */
export interface PooledGaussian {
  readonly mean: Float64Array;
  readonly cov: Float64Array;
}

/** Positions kept in fewer than this many training images have no covariance of their own. */
export const MIN_POSITION_SAMPLES = 2;

/**
 * The Gaussian of every kept feature at every position together (the law of total covariance over
 * the positions' own means and scatters): what a position kept in fewer than MIN_POSITION_SAMPLES
 * images scores against, since it has no statistics of its own. Null when no position needs it.
 */
export function pooledFallback(m: Moments): PooledGaussian | null {
  const { sum, cross, shift, counts, d } = m;
  const P = counts.length;
  if (counts.every((n) => n >= MIN_POSITION_SAMPLES)) return null;
  const total = counts.reduce((a, n) => a + n, 0);
  if (total < 2) throw new RangeError('PaDiM needs at least 2 training features outside ignore regions');
  const mean = new Float64Array(d);
  for (let p = 0; p < P; p++) for (let i = 0; i < d; i++) mean[i]! += counts[p]! * shift[p * d + i]! + sum[p * d + i]!;
  for (let i = 0; i < d; i++) mean[i]! /= total;
  // Σ over all samples of (x − m)(x − m)ᵀ = Σ_p [Σyyᵀ + δ·Σyᵀ + Σy·δᵀ + n·δδᵀ], δ = shift_p − m
  const cov = new Float64Array(d * d);
  const delta = new Float64Array(d);
  for (let p = 0; p < P; p++) {
    const n = counts[p]!;
    if (n === 0) continue;
    for (let i = 0; i < d; i++) delta[i] = shift[p * d + i]! - mean[i]!;
    const base = p * d * d;
    for (let i = 0; i < d; i++) {
      const si = sum[p * d + i]!;
      for (let j = 0; j < d; j++) cov[i * d + j]! += cross[base + i * d + j]! + delta[i]! * sum[p * d + j]! + si * delta[j]! + n * delta[i]! * delta[j]!;
    }
  }
  for (let k = 0; k < d * d; k++) cov[k]! /= total - 1;
  return { mean, cov };
}

/** Mean and the whitening factor of the unbiased covariance plus epsilon·I, per position. */
export function gaussiansFromMoments(m: Moments, epsilon: number): GaussianStats {
  const P = m.counts.length;
  const stats = { mean: new Float32Array(P * m.d), whitening: new Float32Array(P * m.d * m.d) };
  gaussiansForPositions({ ...m, epsilon, fallback: pooledFallback(m), from: 0, to: P, ...stats });
  return stats;
}

/** One slice of the work of gaussiansFromMoments: positions [from, to), written into mean and whitening. */
export interface PositionRange extends Moments {
  readonly epsilon: number;
  readonly fallback: PooledGaussian | null;
  readonly from: number;
  readonly to: number;
  readonly mean: Float32Array;
  readonly whitening: Float32Array;
}

export function gaussiansForPositions(r: PositionRange): void {
  const { sum, cross, shift, counts, d, epsilon, mean, whitening, fallback } = r;
  const cov = new Float64Array(d * d);
  const my = new Float64Array(d);
  for (let p = r.from; p < r.to; p++) {
    const n = counts[p]!;
    const base = p * d * d;
    if (n < MIN_POSITION_SAMPLES) {
      if (!fallback) throw new RangeError(`PaDiM needs at least ${MIN_POSITION_SAMPLES} training images, received ${n}`);
      for (let i = 0; i < d; i++) mean[p * d + i] = fallback.mean[i]!;
      for (let k = 0; k < d * d; k++) cov[k] = fallback.cov[k]!;
    } else {
      for (let i = 0; i < d; i++) {
        my[i] = sum[p * d + i]! / n;
        mean[p * d + i] = shift[p * d + i]! + my[i]!;
      }
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j] = (cross[base + i * d + j]! - n * my[i]! * my[j]!) / (n - 1);
    }
    for (let i = 0; i < d; i++) cov[i * d + i]! += epsilon;
    whiteningFactor(cov, d, whitening, base);
  }
}

/**
 * What a fitted PaDiM keeps so that more normal images can be added exactly (PadimModel.extended):
 * per position its sample count, the mean of its samples and their scatter Σ(x − mean)(x − mean)ᵀ,
 * the upper triangle row by row (d·(d+1)/2 values), in float32.
 */
export interface SufficientStats {
  readonly counts: Float32Array;
  readonly mean: Float32Array;
  readonly scatter: Float32Array;
}

export const packedSize = (d: number) => (d * (d + 1)) / 2;

export function sufficientStatistics(m: Moments): SufficientStats {
  const { sum, cross, shift, counts, d } = m;
  const P = counts.length;
  const T = packedSize(d);
  const out = { counts: Float32Array.from(counts), mean: new Float32Array(P * d), scatter: new Float32Array(P * T) };
  const my = new Float64Array(d);
  for (let p = 0; p < P; p++) {
    const n = counts[p]!;
    for (let i = 0; i < d; i++) {
      my[i] = n > 0 ? sum[p * d + i]! / n : 0;
      out.mean[p * d + i] = shift[p * d + i]! + my[i]!;
    }
    let k = p * T;
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) out.scatter[k++] = cross[(p * d + i) * d + j]! - n * my[i]! * my[j]!;
  }
  return out;
}

/**
 * Moments equal to stored sufficient statistics (shift = their means, Σy = 0, Σyyᵀ = the scatter), to
 * which more samples can be added: the result is as if every sample had been streamed in one fit.
 */
export function momentsFrom(stats: SufficientStats, d: number, shared: (length: number) => Float64Array): Moments {
  const P = stats.counts.length;
  const T = packedSize(d);
  const cross = shared(P * d * d);
  for (let p = 0; p < P; p++) {
    let k = p * T;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = stats.scatter[k++]!;
        cross[(p * d + i) * d + j] = v;
        cross[(p * d + j) * d + i] = v;
      }
    }
  }
  return { sum: shared(P * d), cross, shift: Float32Array.from(stats.mean), counts: Float64Array.from(stats.counts), d };
}
