/**
 * Per-position Gaussian statistics from streamed moments, in float64.
 * Moments are of y = x − shift (shift = the first image's features), which keeps the
 * single-pass covariance free of catastrophic cancellation.
 */

/** Inverts a symmetric positive-definite d×d matrix (float64, row-major) by Cholesky; writes float32. */
export function invertSpd(a: Float64Array, d: number, out: Float32Array, outOffset: number): void {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        if (s <= 0) throw new RangeError('covariance is not positive definite; raise epsilon');
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  // M = L⁻¹ (lower triangular)
  const M = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    M[i * d + i] = 1 / L[i * d + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * d + k]! * M[k * d + j]!;
      M[i * d + j] = s / L[i * d + i]!;
    }
  }
  // A⁻¹ = Mᵀ M
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < d; k++) s += M[k * d + i]! * M[k * d + j]!;
      out[outOffset + i * d + j] = s;
      out[outOffset + j * d + i] = s;
    }
  }
}

export interface GaussianStats {
  /** [P, d] */
  readonly mean: Float32Array;
  /** [P, d, d] inverse covariances */
  readonly precision: Float32Array;
}

/**
 * From Σy [P, d] and Σyyᵀ [P, d, d] over n samples (y = x − shift): mean and the inverse of the
 * unbiased covariance plus epsilon·I.
 */
export function gaussiansFromMoments(sum: Float64Array, cross: Float64Array, shift: Float32Array, n: number, d: number, epsilon: number): GaussianStats {
  if (n < 2) throw new RangeError(`PaDiM needs at least 2 training images, received ${n}`);
  const P = sum.length / d;
  const mean = new Float32Array(P * d);
  const precision = new Float32Array(P * d * d);
  const cov = new Float64Array(d * d);
  const my = new Float64Array(d);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < d; i++) {
      my[i] = sum[p * d + i]! / n;
      mean[p * d + i] = shift[p * d + i]! + my[i]!;
    }
    const base = p * d * d;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) cov[i * d + j] = (cross[base + i * d + j]! - n * my[i]! * my[j]!) / (n - 1);
      cov[i * d + i]! += epsilon;
    }
    invertSpd(cov, d, precision, base);
  }
  return { mean, precision };
}
