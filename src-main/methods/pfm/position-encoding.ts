/**
 * The 2-D sinusoidal position encoding PE(D, H, W) of METHODS.md §1.7 (PEFM; CFLOW uses the same
 * function), laid out as the mapping networks read features: one row of D channels per grid position,
 * row y·W + x. With D' = D/2 and ω_k = exp(−2k·ln(10000)/D'), k < D'/2: channel 2k = sin(x·ω_k),
 * 2k+1 = cos(x·ω_k), D'+2k = sin(y·ω_k), D'+2k+1 = cos(y·ω_k); x, y are integer grid indices.
 */
export function positionEncodingRows(channels: number, height: number, width: number): Float32Array {
  if (channels % 4 !== 0) throw new RangeError(`position encoding needs a channel count divisible by 4, received ${channels}`);
  const half = channels / 2;
  const omega = Float64Array.from({ length: half / 2 }, (_, k) => Math.exp((-2 * k * Math.log(10000)) / half));
  const out = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const row = (y * width + x) * channels;
      for (let k = 0; k < omega.length; k++) {
        out[row + 2 * k] = Math.sin(x * omega[k]!);
        out[row + 2 * k + 1] = Math.cos(x * omega[k]!);
        out[row + half + 2 * k] = Math.sin(y * omega[k]!);
        out[row + half + 2 * k + 1] = Math.cos(y * omega[k]!);
      }
    }
  }
  return out;
}
