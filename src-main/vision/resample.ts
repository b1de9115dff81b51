/**
 * PIL-style resampling (Pillow's ImagingResample, libImaging/Resample.c), computed in floating point.
 *
 * For each axis and output index `d` (input length `n`, output length `m`):
 *   scale = n / m;  filterscale = max(scale, 1)            (support widened when down-scaling = antialias)
 *   support = filter.support * filterscale
 *   center = (d + 0.5) * scale
 *   xmin = max(trunc(center - support + 0.5), 0);  xmax = min(trunc(center + support + 0.5), n)
 *   w[x] = filter((x - center + 0.5) / filterscale) for x in [xmin, xmax), then divided by their sum.
 * A horizontal pass (only when the width changes) is followed by a vertical pass (only when the height
 * changes). Like Pillow's 8-bit path, the result of each pass is clipped to the valid range ([0,1] here;
 * this also keeps the RasterImage contract despite bicubic/Lanczos overshoot), but unlike it there is no
 * fixed-point arithmetic and no rounding to uint8 between or after the passes (intermediate in float64).
 * Checked against Pillow's own test expectations (test_image_resample.py, reduce/enlarge cases).
 *
 * 'nearest' is Pillow's NEAREST resize (an affine transform, not a convolution): src = floor((d + 0.5) * n / m).
 */
import type { RasterImage } from './image.ts';

export type ResampleFilter = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

interface Kernel {
  readonly support: number;
  readonly fn: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const KERNELS: Record<Exclude<ResampleFilter, 'nearest'>, Kernel> = {
  // PIL BILINEAR: triangle, support 1
  bilinear: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  // PIL BICUBIC: Keys cubic with a = -0.5, support 2
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  // PIL LANCZOS (= ANTIALIAS): 3-lobe Lanczos, support 3
  lanczos: {
    support: 3,
    fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

/** Per-output-index source window and normalised weights (Pillow's precompute_coeffs). */
interface Coeffs {
  readonly ksize: number;
  readonly bounds: Int32Array; // [xmin, count] per output index
  readonly weights: Float64Array; // ksize per output index
}

function precomputeCoeffs(inSize: number, outSize: number, kernel: Kernel): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = kernel.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let d = 0; d < outSize; d++) {
    const center = (d + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const count = xmax - xmin;
    let sum = 0;
    const base = d * ksize;
    for (let x = 0; x < count; x++) {
      const w = kernel.fn((x + xmin - center + 0.5) * ss);
      weights[base + x] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = 0; x < count; x++) weights[base + x]! /= sum;
    bounds[d * 2] = xmin;
    bounds[d * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize: target size must be positive integers, got ${width}x${height}`);
  }
}

function checkImage(img: RasterImage): void {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new RangeError(
      `image data length ${img.data.length} does not match ${img.width}x${img.height}x${img.channels}`,
    );
  }
}

function resizeNearest(img: RasterImage, width: number, height: number): RasterImage {
  const { width: w, height: h, channels: c, data } = img;
  const xs = new Int32Array(width);
  for (let d = 0; d < width; d++) xs[d] = Math.min(Math.floor(((d + 0.5) * w) / width), w - 1);
  const out = new Float32Array(width * height * c);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * h) / height), h - 1);
    const row = sy * w * c;
    for (let x = 0; x < width; x++) {
      const s = row + xs[x]! * c;
      for (let k = 0; k < c; k++) out[o++] = data[s + k]!;
    }
  }
  return { width, height, channels: c, data: out };
}

/**
 * Resizes to exactly width x height with a PIL filter (see the file comment for the exact semantics).
 * Returns a new image (a copy when the size is unchanged).
 */
export function resize(img: RasterImage, width: number, height: number, filter: ResampleFilter): RasterImage {
  checkImage(img);
  checkSize(width, height);
  const { width: inW, height: inH, channels: c } = img;
  if (width === inW && height === inH) {
    return { width, height, channels: c, data: img.data.slice() };
  }
  if (filter === 'nearest') return resizeNearest(img, width, height);
  const kernel = KERNELS[filter];
  if (kernel === undefined) throw new RangeError(`unknown resample filter "${String(filter)}"`);

  // Source rows actually used by the vertical pass.
  let yFirst = 0;
  let yLast = inH;
  let vert: Coeffs | null = null;
  if (height !== inH) {
    vert = precomputeCoeffs(inH, height, kernel);
    yFirst = vert.bounds[0]!;
    yLast = vert.bounds[(height - 1) * 2]! + vert.bounds[(height - 1) * 2 + 1]!;
  }

  // Horizontal pass over rows [yFirst, yLast) -> tmp (width x rows x c), float64.
  const rows = yLast - yFirst;
  let tmp: Float64Array | Float32Array;
  let tmpW: number;
  if (width !== inW) {
    const hor = precomputeCoeffs(inW, width, kernel);
    tmp = new Float64Array(width * rows * c);
    tmpW = width;
    const src = img.data;
    const { ksize, bounds, weights } = hor;
    for (let r = 0; r < rows; r++) {
      const inRow = (r + yFirst) * inW * c;
      const outRow = r * width * c;
      for (let x = 0; x < width; x++) {
        const xmin = bounds[x * 2]!;
        const count = bounds[x * 2 + 1]!;
        const wb = x * ksize;
        for (let k = 0; k < c; k++) {
          let acc = 0;
          let s = inRow + xmin * c + k;
          for (let i = 0; i < count; i++, s += c) acc += src[s]! * weights[wb + i]!;
          tmp[outRow + x * c + k] = acc < 0 ? 0 : acc > 1 ? 1 : acc;
        }
      }
    }
  } else {
    tmp = img.data.subarray(yFirst * inW * c, yLast * inW * c);
    tmpW = inW;
  }

  const out = new Float32Array(width * height * c);
  if (vert === null) {
    out.set(tmp);
    return { width, height, channels: c, data: out };
  }
  // Vertical pass: accumulate whole rows (cache friendly).
  const rowLen = tmpW * c;
  const acc = new Float64Array(rowLen);
  const { ksize, bounds, weights } = vert;
  for (let y = 0; y < height; y++) {
    const ymin = bounds[y * 2]! - yFirst;
    const count = bounds[y * 2 + 1]!;
    const wb = y * ksize;
    acc.fill(0);
    for (let i = 0; i < count; i++) {
      const w = weights[wb + i]!;
      const base = (ymin + i) * rowLen;
      for (let j = 0; j < rowLen; j++) acc[j]! += tmp[base + j]! * w;
    }
    const o = y * rowLen;
    for (let j = 0; j < rowLen; j++) {
      const v = acc[j]!;
      out[o + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { width, height, channels: c, data: out };
}

/** Returns an RGB image: grey is replicated into 3 channels; an RGB input is returned as is (not copied). */
export function toRgb(img: RasterImage): RasterImage {
  if (img.channels === 3) return img;
  checkImage(img);
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  const src = img.data;
  for (let i = 0, o = 0; i < n; i++) {
    const v = src[i]!;
    out[o++] = v;
    out[o++] = v;
    out[o++] = v;
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/**
 * Planar RGB (CHW) copy for ONNX: out[offset + ch*H*W + y*W + x] = value. Grey input is replicated into
 * all three planes. Values are copied unchanged (no normalisation). When `out` is given the 3*H*W values
 * are written into it starting at `offset` (for batching) and `out` itself is returned; otherwise a new
 * array of length 3*H*W is returned.
 */
export function toChw(img: RasterImage, out?: Float32Array, offset = 0): Float32Array {
  checkImage(img);
  const n = img.width * img.height;
  const dst = out ?? new Float32Array(3 * n);
  if (!Number.isInteger(offset) || offset < 0 || offset + 3 * n > dst.length) {
    throw new RangeError(`toChw: ${3 * n} values do not fit into an array of ${dst.length} at offset ${offset}`);
  }
  const src = img.data;
  if (img.channels === 1) {
    dst.set(src, offset);
    dst.set(src, offset + n);
    dst.set(src, offset + 2 * n);
  } else {
    const r = offset;
    const g = offset + n;
    const b = offset + 2 * n;
    for (let i = 0, s = 0; i < n; i++, s += 3) {
      dst[r + i] = src[s]!;
      dst[g + i] = src[s + 1]!;
      dst[b + i] = src[s + 2]!;
    }
  }
  return dst;
}

/** Where the picture sits inside a letterboxed canvas (anchored top-left). */
export interface ContentBox {
  readonly width: number;
  readonly height: number;
}

/** Where a letterboxed image of imageWidth × imageHeight lies in a width × height input (top left, aspect kept). */
export function letterboxContent(imageWidth: number, imageHeight: number, width: number, height: number): ContentBox {
  const scale = Math.min(width / imageWidth, height / imageHeight);
  return { width: Math.min(width, Math.max(1, Math.round(imageWidth * scale))), height: Math.min(height, Math.max(1, Math.round(imageHeight * scale))) };
}

/**
 * Resizes keeping the aspect ratio so the image fits width × height, anchored top-left, and fills the
 * rest by repeating the last row and column (no artificial edge for patch features to react to).
 */
export function letterbox(img: RasterImage, width: number, height: number, filter: ResampleFilter): { image: RasterImage; content: ContentBox } {
  checkImage(img);
  checkSize(width, height);
  const { width: cw, height: ch } = letterboxContent(img.width, img.height, width, height);
  const inner = resize(img, cw, ch, filter);
  const c = img.channels;
  const out = new Float32Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(y, ch - 1);
    for (let x = 0; x < width; x++) {
      const sx = Math.min(x, cw - 1);
      for (let k = 0; k < c; k++) out[(y * width + x) * c + k] = inner.data[(sy * cw + sx) * c + k]!;
    }
  }
  return { image: { width, height, channels: c, data: out }, content: { width: cw, height: ch } };
}
