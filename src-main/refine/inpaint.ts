/**
 * Initial estimate Y0 for F2PAD (METHODS.md §8.4, seed III-E1). The seed inpaints the detector's mask
 * with a pretrained masked autoencoder; no such weights exist here, so (ours) the masked pixels are
 * copied from the co-located pixels of the most similar normal training image, matched on the pixels
 * around the mask (sum of squared differences over the crop, outside the dilated mask), with each
 * channel shifted so that the donor's mean on the ring (dilated mask minus mask) matches the image's.
 * Only a rough Y0 is needed. Also binary-mask helpers (dilation, bounding boxes).
 */
import type { ContentBox } from '../vision/index.ts';

/** Planar CHW images in [0, 1] at the model input size. */
export interface PlanarImage {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
  /** The picture's part (top-left) of a letterboxed or tiled canvas; the whole image when absent. */
  readonly content?: ContentBox;
}

/** Square-window dilation (Chebyshev radius r) of a 0/1 mask; separable max filter. */
export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const tmp = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let d = Math.max(0, x - r); d <= Math.min(width - 1, x + r) && !v; d++) v = mask[row + d]!;
      tmp[row + x] = v;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      let v = 0;
      for (let d = Math.max(0, y - r); d <= Math.min(height - 1, y + r) && !v; d++) v = tmp[d * width + x]!;
      out[y * width + x] = v;
    }
  }
  return out;
}

export interface Box {
  readonly x0: number;
  readonly y0: number;
  /** exclusive */
  readonly x1: number;
  readonly y1: number;
}

export function boundingBox(mask: Uint8Array, width: number, height: number): Box | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

export interface InpaintResult {
  /** Y0, planar CHW, the whole image (unchanged outside the mask). */
  readonly y0: Float32Array;
  /** Index of the donor training image. */
  readonly donor: number;
  /** Mean squared mismatch of the shifted donor on the ring (context minus mask): how well it fits. */
  readonly ringError: number;
}

/**
 * Fills `mask` of `image` from the best of `donors` (all the same size as `image`); `context` is the
 * dilated mask (excluded from matching; its ring sets the colour shift); `box` limits the work.
 */
export function inpaintFromDonors(image: PlanarImage, mask: Uint8Array, context: Uint8Array, donors: readonly PlanarImage[], box: Box): InpaintResult {
  const { width: W, height: H } = image;
  const plane = W * H;
  const x = image.data;
  let best = -1;
  let bestCost = Infinity;
  donors.forEach((d, i) => {
    if (d.width !== W || d.height !== H) throw new RangeError('donor images must have the image size');
    let cost = 0;
    for (let yy = box.y0; yy < box.y1; yy++) {
      for (let xx = box.x0; xx < box.x1; xx++) {
        const p = yy * W + xx;
        if (context[p]) continue;
        for (let c = 0; c < 3; c++) cost += (x[c * plane + p]! - d.data[c * plane + p]!) ** 2;
      }
      if (cost >= bestCost) break;
    }
    if (cost < bestCost) {
      bestCost = cost;
      best = i;
    }
  });
  const y0 = x.slice();
  if (best < 0) return { y0, donor: -1, ringError: Infinity };
  const donor = donors[best]!.data;
  const shift = [0, 0, 0];
  let ring = 0;
  for (let yy = box.y0; yy < box.y1; yy++) {
    for (let xx = box.x0; xx < box.x1; xx++) {
      const p = yy * W + xx;
      if (!context[p] || mask[p]) continue;
      ring++;
      for (let c = 0; c < 3; c++) shift[c]! += x[c * plane + p]! - donor[c * plane + p]!;
    }
  }
  for (let c = 0; c < 3; c++) shift[c] = ring > 0 ? shift[c]! / ring : 0;
  let mismatch = 0;
  for (let yy = box.y0; yy < box.y1; yy++) {
    for (let xx = box.x0; xx < box.x1; xx++) {
      const p = yy * W + xx;
      if (!context[p] || mask[p]) continue;
      for (let c = 0; c < 3; c++) mismatch += (x[c * plane + p]! - donor[c * plane + p]! - shift[c]!) ** 2;
    }
  }
  for (let yy = box.y0; yy < box.y1; yy++) {
    for (let xx = box.x0; xx < box.x1; xx++) {
      const p = yy * W + xx;
      if (!mask[p]) continue;
      for (let c = 0; c < 3; c++) y0[c * plane + p] = Math.min(1, Math.max(0, donor[c * plane + p]! + shift[c]!));
    }
  }
  return { y0, donor: best, ringError: ring > 0 ? mismatch / ring : Infinity };
}

/**
 * Diffusion fill (ours, the §8.4 fall-back for parts that are not aligned with the training images):
 * the masked pixels solve Laplace's equation with the surrounding pixels as boundary values (Jacobi
 * sweeps from the ring's mean colour), i.e. a smooth continuation of the normal surroundings.
 */
export function diffusionFill(image: PlanarImage, mask: Uint8Array, box: Box, sweeps = 300): Float32Array {
  const { width: W, height: H } = image;
  const plane = W * H;
  const y0 = image.data.slice();
  const idx: number[] = [];
  const mean = [0, 0, 0];
  let ring = 0;
  for (let yy = box.y0; yy < box.y1; yy++) {
    for (let xx = box.x0; xx < box.x1; xx++) {
      const p = yy * W + xx;
      if (mask[p]) { idx.push(p); continue; }
      const nearMask = (xx > 0 && mask[p - 1]) || (xx < W - 1 && mask[p + 1]) || (yy > 0 && mask[p - W]) || (yy < H - 1 && mask[p + W]);
      if (!nearMask) continue;
      ring++;
      for (let c = 0; c < 3; c++) mean[c]! += image.data[c * plane + p]!;
    }
  }
  for (const p of idx) for (let c = 0; c < 3; c++) y0[c * plane + p] = ring > 0 ? mean[c]! / ring : 0.5;
  for (let s = 0; s < sweeps; s++) {
    for (const p of idx) {
      const xx = p % W;
      const yy = (p - xx) / W;
      for (let c = 0; c < 3; c++) {
        const o = c * plane;
        let sum = 0;
        let n = 0;
        if (xx > 0) { sum += y0[o + p - 1]!; n++; }
        if (xx < W - 1) { sum += y0[o + p + 1]!; n++; }
        if (yy > 0) { sum += y0[o + p - W]!; n++; }
        if (yy < H - 1) { sum += y0[o + p + W]!; n++; }
        y0[o + p] = sum / n;
      }
    }
  }
  return y0;
}

/** Mean squared difference between the image and the inpainted estimate on the ring around the mask. */
export function ringError(image: PlanarImage, y0: Float32Array, mask: Uint8Array, context: Uint8Array, box: Box): number {
  const { width: W } = image;
  const plane = W * image.height;
  let s = 0;
  let n = 0;
  for (let yy = box.y0; yy < box.y1; yy++) for (let xx = box.x0; xx < box.x1; xx++) {
    const p = yy * W + xx;
    if (!context[p] || mask[p]) continue;
    for (let c = 0; c < 3; c++) s += (image.data[c * plane + p]! - y0[c * plane + p]!) ** 2;
    n++;
  }
  return n > 0 ? s / n : 0;
}
