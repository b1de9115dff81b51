/**
 * A global descriptor of an image, for "the most similar normal training image": the mean over the
 * feature grid of a backbone's deepest tap (the most semantic features it has), leaving out cells
 * centred in an ignore region. Cheap (one backbone pass, no method head) and the same whatever the
 * method, so every method's training images can be compared with a flagged image the same way.
 */
import type { ImageBatch } from '../methods/method.ts';
import { ignoredCells } from '../methods/ignored-cells.ts';
import { getBackbone } from './backbones.ts';
import { Backbone } from './extractor.ts';

export interface DescriptorSpec {
  readonly backbone: string;
  readonly tap: string;
}

/** The descriptor of images read for a model on `backboneId`: its deepest tap (largest stride, then most channels). */
export function descriptorSpec(backboneId: string): DescriptorSpec {
  const taps = [...getBackbone(backboneId).outputs].sort((a, b) => b.stride - a.stride || b.channels - a.channels);
  return { backbone: backboneId, tap: taps[0]!.name };
}

/** Descriptors [n, channels] of a batch. */
export async function describeImages(spec: DescriptorSpec, batch: ImageBatch): Promise<{ data: Float32Array; dim: number }> {
  const backbone = await Backbone.open(spec.backbone);
  const out = (await backbone.run(batch, [spec.tap]))[spec.tap]!;
  const [n, C, H, W] = out.dims as [number, number, number, number];
  const x = out.data as Float32Array;
  const data = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const ignored = ignoredCells(batch, i, H, W);
    const kept = Array.from({ length: H * W }, (_, k) => k).filter((k) => !ignored?.[k]);
    const cells = kept.length > 0 ? kept : Array.from({ length: H * W }, (_, k) => k);
    for (let ch = 0; ch < C; ch++) {
      const base = (i * C + ch) * H * W;
      let s = 0;
      for (const k of cells) s += x[base + k]!;
      data[i * C + ch] = s / cells.length;
    }
  }
  return { data, dim: C };
}

/** The row of `descriptors` ([rows, dim]) nearest to `query` and its Euclidean distance (lowest row on ties). */
export function nearestDescriptor(descriptors: Float32Array, dim: number, query: Float32Array): { row: number; distance: number } {
  const rows = descriptors.length / dim;
  if (rows < 1 || query.length !== dim) throw new RangeError(`cannot compare a ${query.length}-value descriptor with ${rows} stored ones of ${dim}`);
  let best = 0;
  let bestD = Infinity;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += (descriptors[r * dim + k]! - query[k]!) ** 2;
    if (s < bestD) {
      bestD = s;
      best = r;
    }
  }
  return { row: best, distance: Math.sqrt(bestD) };
}
