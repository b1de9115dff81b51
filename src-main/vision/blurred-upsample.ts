/**
 * Bilinear upsampling followed by the SciPy Gaussian blur (upsampleBilinear, then gaussianFilter), as
 * one linear operator per axis: out = A_y · grid · A_xᵀ with A = G·U, U the bilinear weights (output ×
 * grid, axisTable) and G the blur along that axis with its half-sample reflection folded in. The same
 * sums in another order, so equal up to float rounding; but a row of A touches only the few grid
 * cells within the kernel's reach, so a 256x256 map from a 32x32 grid takes a fraction of the time
 * the blur of the upsampled map takes (this ran for every image an inspection scores).
 */
import { gaussianKernel1d, reflectIndex } from './gaussian.ts';
import { axisTable, type GridAlign } from './interpolate.ts';

/** One axis's operator, stored by rows: output index d reads grid cells first[d] .. first[d] + width − 1. */
interface AxisOperator {
  readonly first: Int32Array;
  readonly width: number;
  /** [outSize, width] weights. */
  readonly weights: Float64Array;
}

function buildAxis(inSize: number, outSize: number, ratio: number, offset: number, sigma: number, truncate: number): AxisOperator {
  const t = axisTable(inSize, outSize, ratio, offset);
  const kernel = sigma > 1e-15 ? gaussianKernel1d(sigma, truncate) : Float64Array.of(1);
  const r = (kernel.length - 1) >> 1;
  const dense = new Float64Array(outSize * inSize);
  for (let d = 0; d < outSize; d++) {
    for (let k = -r; k <= r; k++) {
      const e = reflectIndex(d + k, outSize);
      const w = kernel[k + r]!;
      dense[d * inSize + t.i0[e]!]! += w * t.l0[e]!;
      dense[d * inSize + t.i1[e]!]! += w * t.l1[e]!;
    }
  }
  const first = new Int32Array(outSize);
  let width = 1;
  for (let d = 0; d < outSize; d++) {
    let lo = 0;
    let hi = inSize - 1;
    while (lo < hi && dense[d * inSize + lo] === 0) lo++;
    while (hi > lo && dense[d * inSize + hi] === 0) hi--;
    first[d] = lo;
    width = Math.max(width, hi - lo + 1);
  }
  const weights = new Float64Array(outSize * width);
  for (let d = 0; d < outSize; d++) {
    const lo = Math.min(first[d]!, inSize - width);
    first[d] = lo;
    for (let j = 0; j < width; j++) weights[d * width + j] = dense[d * inSize + lo + j]!;
  }
  return { first, width, weights };
}

/** Operators are the same for every image a model scores: kept per axis geometry (a few models at a time). */
const cache = new Map<string, AxisOperator>();
const CACHE_LIMIT = 64;

function axisOperator(inSize: number, outSize: number, ratio: number, offset: number, sigma: number, truncate: number): AxisOperator {
  const key = `${inSize},${outSize},${ratio},${offset},${sigma},${truncate}`;
  let op = cache.get(key);
  if (!op) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    op = buildAxis(inSize, outSize, ratio, offset, sigma, truncate);
    cache.set(key, op);
  }
  return op;
}

/**
 * gaussianFilter(upsampleBilinear(grid, gridW, gridH, outW, outH, align), outW, outH, sigma, truncate)
 * up to float rounding (sigma 0: the upsampling alone).
 */
export function blurredUpsample(
  grid: Float32Array,
  gridW: number,
  gridH: number,
  outW: number,
  outH: number,
  sigma: number,
  align?: GridAlign,
  truncate = 4,
): Float32Array {
  for (const [name, v] of [['grid width', gridW], ['grid height', gridH], ['output width', outW], ['output height', outH]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`blurredUpsample: ${name} must be a positive integer, got ${v}`);
  }
  if (grid.length !== gridW * gridH) throw new RangeError(`blurredUpsample: grid length ${grid.length} does not match ${gridW}x${gridH}`);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`blurredUpsample: invalid sigma ${sigma}`);
  if (align && (!(align.stride > 0) || !Number.isFinite(align.stride) || !Number.isFinite(align.offsetX) || !Number.isFinite(align.offsetY))) {
    throw new RangeError(`blurredUpsample: invalid align ${JSON.stringify(align)}`);
  }
  const ax = axisOperator(gridW, outW, align ? 1 / align.stride : gridW / outW, align?.offsetX ?? 0, sigma, truncate);
  const ay = axisOperator(gridH, outH, align ? 1 / align.stride : gridH / outH, align?.offsetY ?? 0, sigma, truncate);

  // rows first: each grid row becomes an output-width row (gridH × outW)
  const rows = new Float64Array(gridH * outW);
  for (let gy = 0; gy < gridH; gy++) {
    const g = gy * gridW;
    const o = gy * outW;
    for (let x = 0; x < outW; x++) {
      const from = g + ax.first[x]!;
      const w = x * ax.width;
      let acc = 0;
      for (let j = 0; j < ax.width; j++) acc += ax.weights[w + j]! * grid[from + j]!;
      rows[o + x] = acc;
    }
  }
  // then columns: each output row is a weighted sum of a few of those rows
  const out = new Float32Array(outW * outH);
  const line = new Float64Array(outW);
  for (let y = 0; y < outH; y++) {
    line.fill(0);
    const w = y * ay.width;
    for (let j = 0; j < ay.width; j++) {
      const wj = ay.weights[w + j]!;
      if (wj === 0) continue;
      const o = (ay.first[y]! + j) * outW;
      for (let x = 0; x < outW; x++) line[x]! += wj * rows[o + x]!;
    }
    out.set(line, y * outW);
  }
  return out;
}
