/**
 * Pictures for review: a stored image scaled for display, and an inspection result drawn over its
 * image — the anomaly map as a heatmap, the detector's predicted defect outlined in white, the F2PAD
 * refined defect in green and the ground truth in magenta — and a refined result's repaired image.
 */
import type { AnomalyMap, Picture } from '../api/contract.ts';
import { ApiError } from '../api/contract.ts';
import { images, masks, refinements, results, thresholds, type Project } from '../store/index.ts';
import { decodeImageBuffer, type RasterImage } from '../vision/image.ts';
import { overlayHeatmap, resizeMap, toRgb } from '../vision/index.ts';
import { encodePicture, encodePng, toBytes } from '../vision/picture.ts';
import { decodeMask } from '../vision/mask.ts';
import { decodeMap, heatmapScale, mapRange } from './anomaly-maps.ts';

async function decodeStored(p: Project, image: images.Image): Promise<RasterImage> {
  return decodeImageBuffer(images.readBytes(p, image), image.originalPath);
}

/** The threshold that judged the result (else the model's latest, for results judged before any). */
export function judgingThreshold(p: Project, result: results.Result): thresholds.Threshold | undefined {
  return result.thresholdId !== null ? thresholds.find(p, result.thresholdId) : thresholds.latest(p, result.modelId);
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

export interface OverlayLayers {
  readonly heatmap: boolean;
  readonly detector: boolean;
  readonly refined: boolean;
  readonly truth: boolean;
}

export const DEFAULT_LAYERS: OverlayLayers = { heatmap: true, detector: true, refined: true, truth: false };

/** Outline colours: detector white, refined green, ground truth magenta (drawn in that order). */
export const OUTLINE_COLOURS = { detector: [255, 255, 255], refined: [40, 230, 90], truth: [255, 0, 255] } as const;

/**
 * The result's image with the chosen layers: its anomaly map blended over it (colours span the
 * model's threshold band, or the map's own range without a threshold) and the outlines of the
 * detector's mask, the refined mask and the ground truth. A layer that does not exist is left out.
 */
export async function resultOverlay(p: Project, id: number, maxSide: number, layers: OverlayLayers = DEFAULT_LAYERS): Promise<Picture> {
  const result = results.get(p, id);
  const image = await decodeStored(p, images.get(p, result.imageId));
  const stored = results.readMap(p, result);
  let rgb: Uint8Array;
  if (stored && layers.heatmap) {
    const map = decodeMap(stored);
    const full = resizeMap(map.data, map.width, map.height, image.width, image.height);
    const threshold = judgingThreshold(p, result);
    const { low, high } = heatmapScale(mapRange(map.data), threshold?.pixelThreshold ?? null);
    rgb = overlayHeatmap(image, full, { low, high, alpha: 0.45 });
  } else {
    rgb = toBytes(toRgb(image));
  }
  const draw = async (png: Buffer | null, what: string, colour: readonly number[]) => {
    if (!png) return;
    const mask = await decodeMask(png, what);
    if (mask.width !== image.width || mask.height !== image.height) return;
    const edge = outline(mask.data, mask.width, mask.height);
    for (let i = 0; i < edge.length; i++) if (edge[i]) rgb.set(colour, i * 3);
  };
  if (layers.detector) await draw(results.readMask(p, result), `predicted mask of result ${id}`, OUTLINE_COLOURS.detector);
  const refinement = layers.refined ? refinements.findFor(p, id) : undefined;
  if (refinement) await draw(refinements.readMask(p, refinement), `refined mask of result ${id}`, OUTLINE_COLOURS.refined);
  const truth = layers.truth ? masks.find(p, result.imageId, 'ground_truth') : undefined;
  if (truth) await draw(masks.readPng(p, truth), `ground truth of image ${result.imageId}`, OUTLINE_COLOURS.truth);
  const encoded = await encodePng(rgb, image.width, image.height, 3, maxSide);
  return toPicture(encoded.png, encoded.width, encoded.height);
}

/** The repaired (defect-free) image of a refined result, scaled to fit maxSide. */
export async function repairedPicture(p: Project, id: number, maxSide: number): Promise<Picture> {
  const refinement = refinements.findFor(p, results.get(p, id).id);
  if (!refinement) throw new ApiError('NOT_FOUND', `result ${id} has not been refined`);
  const repaired = await decodeImageBuffer(refinements.readRepaired(p, refinement), `repaired image of result ${id}`);
  const encoded = await encodePicture(repaired, maxSide);
  return toPicture(encoded.png, encoded.width, encoded.height);
}

/** The mask's PNG as base64 with its record, or null. */
export function maskContent(p: Project, imageId: number, kind: masks.MaskKind): { mask: masks.Mask; png: string } | null {
  const mask = masks.find(p, imageId, kind);
  return mask ? { mask, png: masks.readPng(p, mask).toString('base64') } : null;
}

/**
 * The result's anomaly map as stored (the model's grid over the whole image, float32 little-endian,
 * row-major) with what the review viewer needs to draw and read it: the image's size, the map's range,
 * the colour scale the station's overlays use and the thresholds that judged the result.
 */
export function resultMap(p: Project, id: number): AnomalyMap {
  const result = results.get(p, id);
  const stored = results.readMap(p, result);
  if (!stored) throw new ApiError('NOT_FOUND', `result ${id} has no anomaly map`);
  const map = decodeMap(stored);
  const image = images.get(p, result.imageId);
  const range = mapRange(map.data);
  const threshold = judgingThreshold(p, result);
  const pixelThreshold = threshold?.pixelThreshold ?? null;
  const bytes = Buffer.from(map.data.buffer, map.data.byteOffset, map.data.byteLength);
  return {
    width: map.width, height: map.height, imageWidth: image.width, imageHeight: image.height,
    base64: bytes.toString('base64'), ...range, ...heatmapScale(range, pixelThreshold),
    imageThreshold: threshold?.imageThreshold ?? null, pixelThreshold,
  };
}

/**
 * A mask the result owns, as a PNG of the image's size: the detector's predicted defect ('predicted',
 * only on failing and review parts: thresholds.outlined) or F2PAD's refined one; null when it has none.
 */
export function resultMask(p: Project, id: number, kind: 'predicted' | 'refined'): { png: string } | null {
  const result = results.get(p, id);
  if (kind === 'predicted') {
    const png = results.readMask(p, result);
    return png ? { png: png.toString('base64') } : null;
  }
  const refinement = refinements.findFor(p, id);
  return refinement ? { png: refinements.readMask(p, refinement).toString('base64') } : null;
}
