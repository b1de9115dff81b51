/**
 * The mask editor's fill ("magic wand"): the pixels connected to the clicked one (4-neighbours) whose
 * colour is within `tolerance` of the clicked spot's. A defect is what the image shows (a blowhole
 * darker than the tile, a stain), so the fill follows the image's colours, not an outline drawn on the
 * mask (the polygon tool covers outlines). The reference colour is the mean of those of the 3 × 3 pixels
 * around the click that are within the tolerance of the clicked one, so one noisy pixel does not decide
 * the region and a defect two pixels wide is not averaged away; the distance is the largest difference of
 * one channel (0–255), compared with that reference, never neighbour to neighbour, so a slow gradient
 * cannot lead the fill across the whole part. Pure: no DOM.
 */

/** RGBA pixels, row-major (an ImageData's layout). */
export interface Rgba {
  readonly data: ArrayLike<number>;
  readonly width: number;
  readonly height: number;
}

export function floodRegion(image: Rgba, seedX: number, seedY: number, tolerance: number): Uint8Array {
  const { data, width, height } = image;
  const out = new Uint8Array(width * height);
  const sx = Math.floor(seedX);
  const sy = Math.floor(seedY);
  if (sx < 0 || sy < 0 || sx >= width || sy >= height) return out;
  let r = 0, g = 0, b = 0;
  let n = 0;
  const c = (sy * width + sx) * 4;
  for (let y = Math.max(0, sy - 1); y <= Math.min(height - 1, sy + 1); y++) {
    for (let x = Math.max(0, sx - 1); x <= Math.min(width - 1, sx + 1); x++) {
      const i = (y * width + x) * 4;
      if (Math.abs(data[i]! - data[c]!) > tolerance || Math.abs(data[i + 1]! - data[c + 1]!) > tolerance || Math.abs(data[i + 2]! - data[c + 2]!) > tolerance) continue;
      r += data[i]!; g += data[i + 1]!; b += data[i + 2]!;
      n++;
    }
  }
  r /= n; g /= n; b /= n;
  const similar = (p: number) => {
    const i = p * 4;
    return Math.abs(data[i]! - r) <= tolerance && Math.abs(data[i + 1]! - g) <= tolerance && Math.abs(data[i + 2]! - b) <= tolerance;
  };
  const seed = sy * width + sx;
  // the clicked pixel itself always belongs, even when it is the noisy one
  out[seed] = 1;
  const stack = new Int32Array(width * height);
  let top = 0;
  stack[top++] = seed;
  while (top > 0) {
    const p = stack[--top]!;
    const x = p % width;
    const visit = (q: number) => {
      if (out[q] === 0 && similar(q)) {
        out[q] = 1;
        stack[top++] = q;
      }
    };
    if (x > 0) visit(p - 1);
    if (x < width - 1) visit(p + 1);
    if (p >= width) visit(p - width);
    if (p < width * (height - 1)) visit(p + width);
  }
  return out;
}
