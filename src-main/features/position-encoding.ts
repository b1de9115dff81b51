/**
 * The 2-D sinusoidal position encoding PE(D, H, W) of METHODS.md §1.7, shared by PEFM and CFLOW-AD.
 * With D' = D/2 and ω_k = exp(−2k·ln(10000)/D'), k < D'/2, at integer grid indices x, y:
 * channel 2k = sin(x·ω_k), 2k+1 = cos(x·ω_k), D'+2k = sin(y·ω_k), D'+2k+1 = cos(y·ω_k).
 */

/** PE(D, H, W) as a D×H×W array (channel-major, element (d, y, x) at d·H·W + y·W + x). */
export function positionEncoding(channels: number, height: number, width: number): Float32Array {
  if (!Number.isInteger(channels) || channels <= 0 || channels % 4 !== 0) {
    throw new RangeError(`position encoding needs a positive channel count divisible by 4, received ${channels}`);
  }
  const half = channels / 2;
  const plane = height * width;
  const out = new Float32Array(channels * plane);
  for (let k = 0; k < half / 2; k++) {
    const omega = Math.exp((-2 * k * Math.log(10000)) / half);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = y * width + x;
        out[2 * k * plane + at] = Math.sin(x * omega);
        out[(2 * k + 1) * plane + at] = Math.cos(x * omega);
        out[(half + 2 * k) * plane + at] = Math.sin(y * omega);
        out[(half + 2 * k + 1) * plane + at] = Math.cos(y * omega);
      }
    }
  }
  return out;
}

/** The same encoding with one row of D channels per grid position (row y·W + x): [H·W, D]. */
export function positionEncodingRows(channels: number, height: number, width: number): Float32Array {
  const pe = positionEncoding(channels, height, width);
  const plane = height * width;
  const out = new Float32Array(pe.length);
  for (let d = 0; d < channels; d++) for (let p = 0; p < plane; p++) out[p * channels + d] = pe[d * plane + p]!;
  return out;
}
