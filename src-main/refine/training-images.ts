import { loadBatches } from '../datasets/loader.ts';
import { evenlySpaced, type DatasetImage } from '../datasets/mvtec.ts';
import type { InputSpec } from '../methods/method.ts';
import type { PlanarImage } from './inpaint.ts';

/** Donor images F2PAD needs at most (initial inpainting, and the pixel prior's pixels). */
export const MAX_DONORS = 64;

/**
 * Up to `max` normal training images, evenly spaced over the list, at the detector's input size as
 * planar RGB in [0, 1]: the pixel prior is fitted on them and the inpainting picks donors from them.
 */
export async function loadTrainingImages(entries: readonly DatasetImage[], input: InputSpec, max = MAX_DONORS, onSkip?: (issue: { path: string; problem: string }) => void): Promise<PlanarImage[]> {
  const images: PlanarImage[] = [];
  const plane = 3 * input.height * input.width;
  // the detector's canvas only: a two-scale model's score canvas (input.second) is no donor
  const { second: _, ...canvas } = input;
  for await (const l of loadBatches(evenlySpaced(entries, max), canvas, { batchSize: 8, ...(onSkip ? { onSkip } : {}) })) {
    for (let i = 0; i < l.batch.n; i++) images.push({ data: l.batch.data.slice(i * plane, (i + 1) * plane), width: input.width, height: input.height, content: l.content[i]! });
  }
  return images;
}
