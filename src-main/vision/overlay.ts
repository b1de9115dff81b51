/**
 * Anomaly heatmap overlays: a score map coloured with a jet-like colour scale, blended over the image,
 * encoded as PNG (sharp; with image.ts the only modules that import it).
 */
import sharp from 'sharp';
import type { RasterImage } from './image.ts';

/** Jet-like colour of t in [0, 1] (blue → cyan → yellow → red), as 0..255 RGB. */
export function jet(t: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  const v = Math.min(1, Math.max(0, t));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

export interface OverlayOptions {
  /** Scores at or below `low` are blue, at or above `high` red. */
  readonly low: number;
  readonly high: number;
  /** Weight of the heatmap over the image (default 0.5). */
  readonly alpha?: number;
}

/** Blends the coloured map (same width × height as the image, row-major) over the image; RGB 8-bit, HWC. */
export function overlayHeatmap(image: RasterImage, map: Float32Array, options: OverlayOptions): Uint8Array {
  const { width, height, channels } = image;
  if (map.length !== width * height) throw new RangeError(`map has ${map.length} values for a ${width}x${height} image`);
  const alpha = options.alpha ?? 0.5;
  const span = options.high - options.low || 1;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const colour = jet((map[i]! - options.low) / span);
    for (let k = 0; k < 3; k++) {
      const v = image.data[i * channels + (channels === 1 ? 0 : k)]! * 255;
      out[i * 3 + k] = Math.round((1 - alpha) * v + alpha * colour[k]!);
    }
  }
  return out;
}

/** Encodes 8-bit interleaved RGB as a PNG file. */
export async function writePng(path: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } }).png().toFile(path);
}
