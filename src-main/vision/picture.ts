/**
 * Pictures for the screens: any decoded image (or an RGB overlay) scaled to fit a box and encoded as
 * PNG. Display only; the engine never reads these back.
 */
import sharp from 'sharp';
import type { RasterImage } from './image.ts';

export interface EncodedPicture {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
}

/** 8-bit interleaved copy of a [0, 1] float image (1 or 3 channels). */
export function toBytes(image: RasterImage): Uint8Array {
  const out = new Uint8Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, image.data[i]!)) * 255);
  return out;
}

/** Encodes 8-bit interleaved pixels as PNG, scaled down (never up) to fit maxSide × maxSide. */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4, maxSide = Infinity): Promise<EncodedPicture> {
  let pipeline = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width, height, channels } });
  let w = width;
  let h = height;
  if (Math.max(width, height) > maxSide) {
    const scale = maxSide / Math.max(width, height);
    w = Math.max(1, Math.round(width * scale));
    h = Math.max(1, Math.round(height * scale));
    pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
  }
  return { png: await pipeline.png({ compressionLevel: 6 }).toBuffer(), width: w, height: h };
}

/** The image as a PNG picture fitting maxSide. */
export function encodePicture(image: RasterImage, maxSide: number): Promise<EncodedPicture> {
  return encodePng(toBytes(image), image.width, image.height, image.channels, maxSide);
}
