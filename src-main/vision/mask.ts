/**
 * Binary ground-truth masks (0/1 per pixel).
 */
import { decodeImageBuffer, readImage, type RasterImage } from './image.ts';

export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  /** width*height values, each 0 or 1, row-major. */
  readonly data: Uint8Array;
}

/**
 * Reads a mask from any image readImage() accepts. The grey channel (or the first, red, channel of a
 * colour image) is thresholded: value > 0.5 -> 1, i.e. > 127 for 8-bit and > 32767 for 16-bit files.
 * Throws ImageReadError like readImage().
 */
export async function readMask(path: string): Promise<BinaryMask> {
  return toBinaryMask(await readImage(path));
}

/** The same for a mask already in memory (a stored PNG); `source` names it in errors. */
export async function decodeMask(buf: Uint8Array, source: string): Promise<BinaryMask> {
  return toBinaryMask(await decodeImageBuffer(buf, source));
}

function toBinaryMask(img: RasterImage): BinaryMask {
  const n = img.width * img.height;
  const data = new Uint8Array(n);
  const c = img.channels;
  const src = img.data;
  for (let i = 0, s = 0; i < n; i++, s += c) data[i] = src[s]! > 0.5 ? 1 : 0;
  return { width: img.width, height: img.height, data };
}

/** PIL NEAREST resize of a mask: source index = floor((d + 0.5) * in / out) on each axis. */
export function resizeMaskNearest(mask: BinaryMask, width: number, height: number): BinaryMask {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeMaskNearest: target size must be positive integers, got ${width}x${height}`);
  }
  const { width: w, height: h, data: src } = mask;
  if (src.length !== w * h) throw new RangeError(`mask data length ${src.length} does not match ${w}x${h}`);
  const xs = new Int32Array(width);
  for (let d = 0; d < width; d++) xs[d] = Math.min(Math.floor(((d + 0.5) * w) / width), w - 1);
  const data = new Uint8Array(width * height);
  for (let y = 0, o = 0; y < height; y++) {
    const row = Math.min(Math.floor(((y + 0.5) * h) / height), h - 1) * w;
    for (let x = 0; x < width; x++) data[o++] = src[row + xs[x]!]!;
  }
  return { width, height, data };
}

/** An all-zero mask (for good images, which have no ground-truth file). */
export function emptyMask(width: number, height: number): BinaryMask {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`emptyMask: size must be positive integers, got ${width}x${height}`);
  }
  return { width, height, data: new Uint8Array(width * height) };
}
