/**
 * Image decoding: file -> RasterImage (float HWC in [0,1]).
 *
 * This and overlay.ts (PNG encoding of heatmap overlays) are the only modules in the project that import sharp.
 *
 * Decisions (see also the tests in test/unit/vision.image.test.ts):
 *  - The format is detected from the magic bytes, never from the file extension. Accepted: PNG, JPEG,
 *    TIFF, WebP (decoded by sharp/libvips) and BMP (decoded by ./bmp.ts, because sharp's prebuilt libvips
 *    has no BMP loader). Anything else is an ImageReadError "unrecognised image format".
 *  - Sample scaling: 8-bit values / 255, 16-bit values / 65535. Values are never gamma- or ICC-converted:
 *    embedded ICC profiles are ignored (like PIL, which the reference pipelines use). The one exception
 *    is CMYK, which sharp converts to sRGB with its built-in CMYK profile.
 *  - Channels: grey -> 1, grey+alpha -> 1 (alpha dropped), RGB -> 3, RGBA -> 3 (alpha dropped, NOT
 *    composited onto a background), palette images are expanded to their colours.
 *  - EXIF orientation is NOT applied: pixels are returned in stored order (PIL's Image.open does the same,
 *    and so does every reference implementation in METHODS.md).
 *  - Multi-page TIFF / animated WebP: the first page only.
 *  - Limits: at most MAX_IMAGE_SIDE px a side and MAX_IMAGE_PIXELS pixels (checked from the header before
 *    any pixel is decoded), files at most MAX_IMAGE_FILE_BYTES, decoding times out after
 *    DECODE_TIMEOUT_S. Every failure (missing file, directory, empty, truncated, corrupt, unsupported,
 *    too large) is reported as an ImageReadError; nothing here exits or crashes the process.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { Budget } from '../util/budget.ts';
import { decodeBmp, isBmp, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './bmp.ts';

export { MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './bmp.ts';
/** Files larger than this are refused before being read (a 100 Mpx 16-bit RGB raw TIFF is 600 MB). */
export const MAX_IMAGE_FILE_BYTES = 1024 * 1024 * 1024;
/** libvips gives up on a single decode after this many seconds. */
export const DECODE_TIMEOUT_S = 120;

/** HWC interleaved float image, values in [0,1]. */
export interface RasterImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Float32Array;
}

export class ImageReadError extends Error {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot read image ${path}: ${reason}`, options);
    this.name = 'ImageReadError';
    this.path = path;
    this.reason = reason;
  }
}

export type ImageFormat = 'png' | 'jpeg' | 'bmp' | 'tiff' | 'webp';

/** Identifies the container format from the first bytes; null when it is none of the supported ones. */
export function sniffImageFormat(buf: Uint8Array): ImageFormat | null {
  const b = (i: number): number => buf[i] ?? -1;
  if (buf.length >= 8 && b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47 &&
      b(4) === 0x0d && b(5) === 0x0a && b(6) === 0x1a && b(7) === 0x0a) return 'png';
  if (buf.length >= 3 && b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (buf.length >= 4 &&
      ((b(0) === 0x49 && b(1) === 0x49 && (b(2) === 0x2a || b(2) === 0x2b) && b(3) === 0x00) ||
       (b(0) === 0x4d && b(1) === 0x4d && b(2) === 0x00 && (b(3) === 0x2a || b(3) === 0x2b)))) return 'tiff';
  if (buf.length >= 12 && b(0) === 0x52 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x46 &&
      b(8) === 0x57 && b(9) === 0x45 && b(10) === 0x42 && b(11) === 0x50) return 'webp';
  if (isBmp(buf)) return 'bmp';
  return null;
}

// Decoded images are never re-used, and libvips' operation cache could hand back a stale decode for a
// re-used buffer address; switch it off for the whole process (sharp is only used from this module).
sharp.cache(false);

const SHARP_INPUT_OPTIONS = {
  // 'error' rejects truncated and corrupt files but tolerates benign decoder warnings
  // (e.g. "extraneous bytes before marker"), which PIL tolerates as well.
  failOn: 'error',
  limitInputPixels: MAX_IMAGE_PIXELS,
  ignoreIcc: true,
  autoOrient: false,
  sequentialRead: true,
} as const satisfies SharpOptions;

function checkDimensions(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`invalid image dimensions ${width}x${height}`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new Error(
      `image dimensions ${width}x${height} exceed the limit (${MAX_IMAGE_SIDE} px a side, ${MAX_IMAGE_PIXELS / 1e6} Mpx)`,
    );
  }
}

async function decodeWithSharp(buf: Buffer, format: ImageFormat): Promise<RasterImage> {
  const meta = await sharp(buf, SHARP_INPUT_OPTIONS).metadata();
  if (meta.format !== format) {
    throw new Error(`file looks like ${format} but the decoder reports ${String(meta.format)}`);
  }
  checkDimensions(meta.width, meta.height);
  const depth = meta.depth;
  if (depth !== 'uchar' && depth !== 'ushort') {
    throw new Error(`unsupported sample format "${String(depth)}" (only 8- and 16-bit integer images are supported)`);
  }
  // the pixel decode waits for its share of the process-wide budget (the header read above is cheap)
  return decoding.use(meta.width * meta.height, () => decodePixels(buf, meta, depth));
}

async function decodePixels(buf: Buffer, meta: Metadata, depth: 'uchar' | 'ushort'): Promise<RasterImage> {
  const sixteen = depth === 'ushort';
  const grey = meta.space === 'b-w' || meta.space === 'grey16' || (meta.space === 'multiband' && meta.channels <= 2);
  // Ask for the image's own colour space so libvips does not convert (grey would otherwise become sRGB,
  // and 16-bit would be reduced to 8-bit).
  const space = grey ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb';
  const { data, info } = await sharp(buf, SHARP_INPUT_OPTIONS)
    .timeout({ seconds: DECODE_TIMEOUT_S })
    .toColourspace(space)
    .raw({ depth })
    .toBuffer({ resolveWithObject: true });

  const { width, height } = info;
  const inCh = info.channels;
  checkDimensions(width, height);
  const bytes = sixteen ? 2 : 1;
  if (data.length !== width * height * inCh * bytes) {
    throw new Error(`decoder returned ${data.length} bytes for ${width}x${height}x${inCh} ${depth}`);
  }
  let samples: Uint8Array | Uint16Array;
  if (sixteen) {
    // Native byte order, as libvips writes it; copy when the buffer is not 2-byte aligned.
    const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
    samples = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
  } else {
    samples = data;
  }
  const outCh: 1 | 3 = inCh <= 2 ? 1 : 3;
  const scale = sixteen ? 65535 : 255;
  const n = width * height;
  const out = new Float32Array(n * outCh);
  if (inCh === outCh) {
    for (let i = 0; i < out.length; i++) out[i] = samples[i]! / scale;
  } else {
    for (let p = 0, s = 0, o = 0; p < n; p++, s += inCh) {
      for (let c = 0; c < outCh; c++) out[o++] = samples[s + c]! / scale;
    }
  }
  return { width, height, channels: outCh, data: out };
}

function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const msg = err.message.replace(/\s+/g, ' ').replace(/[\s:]+$/, '').trim();
    return msg.length > 0 ? msg : err.name;
  }
  return String(err);
}

/**
 * Pixels being decoded at once, process-wide. By estimate (not measured) a decode holds up to about 16
 * bytes a pixel at its peak (the decoder's buffer plus the float image), so this bounds concurrent
 * decodes near 2.4 GB however many callers (batch loading, prefetch, thumbnails) ask at once; one
 * image at the pixel limit runs alone.
 */
const decoding = new Budget(1.5 * MAX_IMAGE_PIXELS);

/** Width × height from a BMP header (0 when the header cannot tell; the decoder then reports why). */
function bmpPixels(buf: Uint8Array): number {
  try {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const headerSize = view.getUint32(14, true);
    return headerSize === 12 ? view.getUint16(18, true) * view.getUint16(20, true) : Math.abs(view.getInt32(18, true) * view.getInt32(22, true));
  } catch {
    return 0;
  }
}

/**
 * Decodes an image already held in memory. `source` is only used in error messages (ImageReadError.path).
 */
export async function decodeImageBuffer(buf: Uint8Array, source = '<buffer>'): Promise<RasterImage> {
  if (buf.length === 0) throw new ImageReadError(source, 'file is empty');
  const format = sniffImageFormat(buf);
  if (format === null) {
    throw new ImageReadError(source, 'unrecognised image format (not PNG, JPEG, BMP, TIFF or WebP)');
  }
  try {
    if (format === 'bmp') return await decoding.use(Math.min(bmpPixels(buf), MAX_IMAGE_PIXELS), async () => decodeBmp(buf));
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    return await decodeWithSharp(b, format);
  } catch (err) {
    if (err instanceof ImageReadError) throw err;
    throw new ImageReadError(source, `${format}: ${reasonOf(err)}`, { cause: err });
  }
}

/** Reads and decodes an image file. Every failure is an ImageReadError. */
export async function readImage(path: string): Promise<RasterImage> {
  let buf: Buffer;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new Error('is a directory');
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_IMAGE_FILE_BYTES) throw new Error(`file too large (${st.size} bytes)`);
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : reasonOf(err);
    throw new ImageReadError(path, reason, { cause: err });
  }
  return decodeImageBuffer(buf, path);
}
