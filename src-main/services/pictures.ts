/**
 * Pictures for review: a stored image scaled for display, and an inspection result drawn over its
 * image — the anomaly map as a heatmap and the predicted defect outlined in white.
 */
import type { Picture } from '../api/contract.ts';
import { images, masks, results, thresholds, type Project } from '../store/index.ts';
import { decodeImageBuffer, type RasterImage } from '../vision/image.ts';
import { overlayHeatmap, resizeMap } from '../vision/index.ts';
import { encodePicture, encodePng } from '../vision/picture.ts';
import { decodeMask } from '../vision/mask.ts';
import { decodeMap } from './anomaly-maps.ts';

async function decodeStored(p: Project, image: images.Image): Promise<RasterImage> {
  return decodeImageBuffer(images.readBytes(p, image), image.originalPath);
}

function toPicture(png: Buffer, width: number, height: number): Picture {
  return { mediaType: 'image/png', base64: png.toString('base64'), width, height };
}

export async function imagePicture(p: Project, id: number, maxSide: number): Promise<Picture> {
  const encoded = await encodePicture(await decodeStored(p, images.get(p, id)), maxSide);
  return toPicture(encoded.png, encoded.width, encoded.height);
}

/** Outline pixels of a binary mask: on, with a 4-neighbour that is off. */
function outline(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width]) out[i] = 1;
    }
  }
  return out;
}

/**
 * The result's image with its anomaly map blended over it. Colours span from the model's threshold
 * band (or the map's own range without a threshold); the predicted mask's outline is drawn in white.
 */
export async function resultOverlay(p: Project, id: number, maxSide: number): Promise<Picture> {
  const result = results.get(p, id);
  const image = await decodeStored(p, images.get(p, result.imageId));
  const stored = results.readMap(p, result);
  if (!stored) return imagePicture(p, result.imageId, maxSide);
  const map = decodeMap(stored);
  const full = resizeMap(map.data, map.width, map.height, image.width, image.height);
  const threshold = result.thresholdId !== null ? thresholds.find(p, result.thresholdId) : thresholds.latest(p, result.modelId);
  let low = Infinity;
  let high = -Infinity;
  for (const v of map.data) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  if (threshold?.pixelThreshold != null) {
    low = Math.min(low, threshold.pixelThreshold * 0.5);
    high = Math.max(threshold.pixelThreshold * 1.5, low + 1e-6);
  }
  const rgb = overlayHeatmap(image, full, { low, high, alpha: 0.45 });
  const maskBytes = results.readMask(p, result);
  if (maskBytes) {
    const mask = await decodeMask(maskBytes, `predicted mask of result ${id}`);
    const edge = outline(mask.data, mask.width, mask.height);
    for (let i = 0; i < edge.length; i++) if (edge[i]) rgb.set([255, 255, 255], i * 3);
  }
  const encoded = await encodePng(rgb, image.width, image.height, 3, maxSide);
  return toPicture(encoded.png, encoded.width, encoded.height);
}

/** The mask's PNG as base64 with its record, or null. */
export function maskContent(p: Project, imageId: number, kind: masks.MaskKind): { mask: masks.Mask; png: string } | null {
  const mask = masks.find(p, imageId, kind);
  return mask ? { mask, png: masks.readPng(p, mask).toString('base64') } : null;
}
