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
 * From Σy [P, d] and Σyyᵀ [P, d, d] over n samples (y = x − shift): mean and the whitening factor of
 * the unbiased covariance plus epsilon·I.
 */
export function gaussiansFromMoments(sum: Float64Array, cross: Float64Array, shift: Float32Array, n: number, d: number, epsilon: number): GaussianStats {
  const P = sum.length / d;
  const stats = { mean: new Float32Array(P * d), whitening: new Float32Array(P * d * d) };
  gaussiansForPositions({ sum, cross, shift, n, d, epsilon, from: 0, to: P, ...stats });
  return stats;
}

/** One slice of the work of gaussiansFromMoments: positions [from, to), written into mean and whitening. */
export interface PositionRange {
  readonly sum: Float64Array;
  readonly cross: Float64Array;
  readonly shift: Float32Array;
  readonly n: number;
  readonly d: number;
  readonly epsilon: number;
  readonly from: number;
  readonly to: number;
  readonly mean: Float32Array;
  readonly whitening: Float32Array;
}

export function gaussiansForPositions(r: PositionRange): void {
  const { sum, cross, shift, n, d, epsilon, mean, whitening } = r;
  if (n < 2) throw new RangeError(`PaDiM needs at least 2 training images, received ${n}`);
  const cov = new Float64Array(d * d);
  const my = new Float64Array(d);
  for (let p = r.from; p < r.to; p++) {
    for (let i = 0; i < d; i++) {
      my[i] = sum[p * d + i]! / n;
      mean[p * d + i] = shift[p * d + i]! + my[i]!;
    }
    const base = p * d * d;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) cov[i * d + j] = (cross[base + i * d + j]! - n * my[i]! * my[j]!) / (n - 1);
      cov[i * d + i]! += epsilon;
    }
    whiteningFactor(cov, d, whitening, base);
  }
}
