/**
 * Bilinear interpolation of 2-D float maps (anomaly maps, score grids).
 *
 * Coordinate convention used below: a pixel's *index* is also the coordinate of its centre (pixel d is
 * centred at d; in the "pixel d covers [d, d+1)" convention that centre is d + 0.5).
 *
 * Without `align` this is exactly PyTorch F.interpolate(mode='bilinear', align_corners=False) with an
 * explicit output size, separably on each axis (n = input length, m = output length):
 *   s = (d + 0.5) * (n / m) - 0.5;  s = max(s, 0);  i0 = floor(s);  i1 = min(i0 + 1, n - 1);  λ = s - i0
 *   out = (1-λy)·((1-λx)·g[y0][x0] + λx·g[y0][x1]) + λy·((1-λx)·g[y1][x0] + λx·g[y1][x1])
 * Clamping s at 0 and i1 at n-1 means values outside the outermost grid centres are edge-replicated.
 *
 * With `align = { stride, offsetX, offsetY }` grid cell i is centred at output pixel coordinate
 *   c_i = stride·i + (stride - 1)/2 + offset
 * (i.e. in the covers-[d, d+1) convention cell i covers [stride·i + offset, stride·(i+1) + offset)), so
 * output pixel d reads the grid at
 *   s = (d + 0.5 - offset) · (1/stride) - 0.5,
 * clamped to [0, n-1] (edge replicate), then interpolated as above. With offset 0 and stride = m/n this
 * is the un-aligned formula; the results are bit-identical whenever 1/stride == n/m in floating point
 * (always for integer strides) and otherwise agree to ~1e-15 relative.
 * Use it when a feature map with receptive-field stride `stride` is smaller than `image/stride` (valid
 * convolutions, crops): `offset` shifts the grid by whole or fractional pixels.
 */

export interface GridAlign {
  /** Output pixels per grid cell (> 0). */
  readonly stride: number;
  /** Shift of the grid, in output pixels, along x (columns). */
  readonly offsetX: number;
  /** Shift of the grid, in output pixels, along y (rows). */
  readonly offsetY: number;
}

/** Per output index along one axis: the two source indices and their weights. */
export interface AxisTable {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly l1: Float64Array; // λ
  readonly l0: Float64Array; // 1 - λ
}

/**
 * The bilinear weights of one axis: output index d reads the input at s = (d + 0.5 − offset)·ratio − 0.5,
 * clamped to the outermost input centres. Shared by map upsampling and in-graph feature alignment.
 */
export function axisTable(inSize: number, outSize: number, ratio: number, offset: number): AxisTable {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float64Array(outSize);
  const l1 = new Float64Array(outSize);
  const last = inSize - 1;
  for (let d = 0; d < outSize; d++) {
    let s = (d + 0.5 - offset) * ratio - 0.5;
    if (s < 0) s = 0;
    if (s > last) s = last;
    const a = Math.floor(s);
    const lam = s - a;
    i0[d] = a;
    i1[d] = a < last ? a + 1 : last;
    l1[d] = lam;
    l0[d] = 1 - lam;
  }
  return { i0, i1, l0, l1 };
}

function checkDims(name: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new RangeError(`${name} must be positive integers, got ${w}x${h}`);
  }
}

/**
 * Bilinearly resamples a gridW x gridH row-major map to outW x outH (see the file comment for the exact
 * semantics). Works for up- and down-sampling (down-sampling does not antialias, like PyTorch).
 */
export function upsampleBilinear(
  grid: Float32Array,
  gridW: number,
  gridH: number,
  outW: number,
  outH: number,
  align?: GridAlign,
): Float32Array {
  checkDims('upsampleBilinear: grid size', gridW, gridH);
  checkDims('upsampleBilinear: output size', outW, outH);
  if (grid.length !== gridW * gridH) {
    throw new RangeError(`upsampleBilinear: grid length ${grid.length} does not match ${gridW}x${gridH}`);
  }
  let tx: AxisTable;
  let ty: AxisTable;
  if (align === undefined) {
    tx = axisTable(gridW, outW, gridW / outW, 0);
    ty = axisTable(gridH, outH, gridH / outH, 0);
  } else {
    const { stride, offsetX, offsetY } = align;
    if (!(stride > 0) || !Number.isFinite(stride) || !Number.isFinite(offsetX) || !Number.isFinite(offsetY)) {
      throw new RangeError(`upsampleBilinear: invalid align ${JSON.stringify(align)}`);
    }
    tx = axisTable(gridW, outW, 1 / stride, offsetX);
    ty = axisTable(gridH, outH, 1 / stride, offsetY);
  }
  const out = new Float32Array(outW * outH);
  const { i0: x0, i1: x1, l0: wx0, l1: wx1 } = tx;
  for (let y = 0; y < outH; y++) {
    const r0 = ty.i0[y]! * gridW;
    const r1 = ty.i1[y]! * gridW;
    const h0 = ty.l0[y]!;
    const h1 = ty.l1[y]!;
    const o = y * outW;
    for (let x = 0; x < outW; x++) {
      const a = x0[x]!;
      const b = x1[x]!;
      const w0 = wx0[x]!;
      const w1 = wx1[x]!;
      out[o + x] = h0 * (w0 * grid[r0 + a]! + w1 * grid[r0 + b]!) + h1 * (w0 * grid[r1 + a]! + w1 * grid[r1 + b]!);
    }
  }
  return out;
}

/**
 * PyTorch F.interpolate(mode='bilinear', align_corners=True) (CFLOW-AD's map upsampling, METHODS.md
 * §1.3): output index d reads the input at s = d·(n − 1)/(m − 1) (s = 0 when m = 1), so the corner
 * pixels of input and output coincide; then interpolated as above.
 */
export function upsampleBilinearAlignCorners(grid: Float32Array, gridW: number, gridH: number, outW: number, outH: number): Float32Array {
  checkDims('upsampleBilinearAlignCorners: grid size', gridW, gridH);
  checkDims('upsampleBilinearAlignCorners: output size', outW, outH);
  if (grid.length !== gridW * gridH) {
    throw new RangeError(`upsampleBilinearAlignCorners: grid length ${grid.length} does not match ${gridW}x${gridH}`);
  }
  const table = (n: number, m: number): AxisTable => {
    const i0 = new Int32Array(m);
    const i1 = new Int32Array(m);
    const l0 = new Float64Array(m);
    const l1 = new Float64Array(m);
    const ratio = m > 1 ? (n - 1) / (m - 1) : 0;
    for (let d = 0; d < m; d++) {
      const s = Math.min(d * ratio, n - 1);
      const a = Math.floor(s);
      i0[d] = a;
      i1[d] = Math.min(a + 1, n - 1);
      l1[d] = s - a;
      l0[d] = 1 - (s - a);
    }
    return { i0, i1, l0, l1 };
  };
  const tx = table(gridW, outW);
  const ty = table(gridH, outH);
  const out = new Float32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const r0 = ty.i0[y]! * gridW;
    const r1 = ty.i1[y]! * gridW;
    const h0 = ty.l0[y]!;
    const h1 = ty.l1[y]!;
    for (let x = 0; x < outW; x++) {
      const a = tx.i0[x]!;
      const b = tx.i1[x]!;
      const w0 = tx.l0[x]!;
      const w1 = tx.l1[x]!;
      out[y * outW + x] = h0 * (w0 * grid[r0 + a]! + w1 * grid[r0 + b]!) + h1 * (w0 * grid[r1 + a]! + w1 * grid[r1 + b]!);
    }
  }
  return out;
}

/**
 * Resizes a w x h map to outW x outH with PyTorch bilinear align_corners=False semantics, e.g. to bring a
 * model-size anomaly map back to an image's original size. Same function as upsampleBilinear without align.
 */
export function resizeMap(map: Float32Array, w: number, h: number, outW: number, outH: number): Float32Array {
  return upsampleBilinear(map, w, h, outW, outH);
}

/** The top-left width × height window of a row-major map `mapWidth` wide (a letterboxed picture's map). */
export function cropMap<T extends Float32Array | Uint8Array>(map: T, mapWidth: number, width: number, height: number): T {
  if (width === mapWidth && map.length === width * height) return map;
  const out = new (map.constructor as new (n: number) => T)(width * height);
  for (let y = 0; y < height; y++) out.set(map.subarray(y * mapWidth, y * mapWidth + width), y * width);
  return out;
}
