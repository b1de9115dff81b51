/**
 * scipy.ndimage.gaussian_filter for a 2-D float map (order 0, mode 'reflect', cval unused).
 *
 *  - radius r = int(truncate * sigma + 0.5); weights w_k = exp(-k^2 / (2 sigma^2)), k = -r..r, normalised
 *    to sum 1 (scipy's _gaussian_kernel1d);
 *  - separable: first along axis 0 (columns, i.e. vertically), then along axis 1 (rows), like scipy;
 *  - mode 'reflect' = half-sample symmetric: ... c b a | a b c ... x y z | z y x ... The extension is
 *    periodic with period 2n, so maps shorter than the radius are reflected repeatedly, as scipy does;
 *  - sigma <= 1e-15 leaves the map unchanged (scipy skips such axes).
 * Accumulation is in float64; the result is float32.
 */

/** Normalised 1-D Gaussian weights for k = -radius..radius. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  const radius = Math.trunc(truncate * sigma + 0.5);
  const w = new Float64Array(2 * radius + 1);
  const c = -0.5 / (sigma * sigma);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const v = Math.exp(c * k * k);
    w[k + radius] = v;
    sum += v;
  }
  for (let i = 0; i < w.length; i++) w[i]! /= sum;
  return w;
}

/** Source index for position i (possibly outside [0, n)) under half-sample-symmetric reflection. */
export function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  let j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - 1 - j;
}

export function gaussianFilter(
  map: Float32Array,
  width: number,
  height: number,
  sigma: number,
  truncate = 4,
): Float32Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`gaussianFilter: size must be positive integers, got ${width}x${height}`);
  }
  if (map.length !== width * height) {
    throw new RangeError(`gaussianFilter: map length ${map.length} does not match ${width}x${height}`);
  }
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`gaussianFilter: invalid sigma ${sigma}`);
  if (!(truncate >= 0) || !Number.isFinite(truncate)) {
    throw new RangeError(`gaussianFilter: invalid truncate ${truncate}`);
  }
  if (sigma <= 1e-15) return map.slice();
  const w = gaussianKernel1d(sigma, truncate);
  const r = (w.length - 1) >> 1; // integer (keeps the index arithmetic in small ints)

  // The kernel is symmetric: w[r-k] = w[r+k], so each pair of taps shares one multiplication.
  const w0 = w[r]!;

  // Pass 1, along y: each output row is a weighted sum of whole (reflected) input rows.
  const tmp = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) tmp[o + x] = w0 * map[o + x]!;
    for (let k = 1; k <= r; k++) {
      const wk = w[r + k]!;
      const a = reflectIndex(y - k, height) * width;
      const b = reflectIndex(y + k, height) * width;
      for (let x = 0; x < width; x++) tmp[o + x]! += wk * (map[a + x]! + map[b + x]!);
    }
  }

  // Pass 2, along x: pad each row by reflection, then convolve.
  const out = new Float32Array(width * height);
  const line = new Float64Array(width + 2 * r);
  const padIdx = new Int32Array(width + 2 * r);
  for (let i = 0; i < padIdx.length; i++) padIdx[i] = reflectIndex(i - r, width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let i = 0; i < line.length; i++) line[i] = tmp[o + padIdx[i]!]!;
    for (let x = 0; x < width; x++) {
      const c = x + r;
      let acc = w0 * line[c]!;
      for (let k = 1; k <= r; k++) acc += w[r + k]! * (line[c - k]! + line[c + k]!);
      out[o + x] = acc;
    }
  }
  return out;
}
