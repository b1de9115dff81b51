/** Taking images out of batches and putting them together again (data, ignore masks, content boxes and second canvases alike). */
import type { ImageBatch } from './method.ts';

/** The images of `batch` at `indices` (in that order), copied. */
export function pickImages(batch: ImageBatch, indices: readonly number[]): ImageBatch {
  const plane = batch.height * batch.width;
  const data = new Float32Array(indices.length * 3 * plane);
  const ignore = batch.ignore ? new Uint8Array(indices.length * plane) : undefined;
  indices.forEach((i, k) => {
    data.set(batch.data.subarray(i * 3 * plane, (i + 1) * 3 * plane), k * 3 * plane);
    ignore?.set(batch.ignore!.subarray(i * plane, (i + 1) * plane), k * plane);
  });
  const content = batch.content ? indices.map((i) => batch.content![i]!) : undefined;
  const second = batch.second ? pickImages(batch.second, indices) : undefined;
  return { data, n: indices.length, height: batch.height, width: batch.width, ...(ignore ? { ignore } : {}), ...(content ? { content } : {}), ...(second ? { second } : {}) };
}

/** One batch of the images of `batches` (all of one input size), in order; their second canvases joined where every batch has one. */
export function joinImages(batches: readonly ImageBatch[]): ImageBatch {
  if (batches.length === 0) throw new RangeError('no images to join');
  const { height, width } = batches[0]!;
  if (batches.some((b) => b.height !== height || b.width !== width)) throw new RangeError(`images of different input sizes cannot share a batch`);
  const plane = height * width;
  const n = batches.reduce((a, b) => a + b.n, 0);
  const data = new Float32Array(n * 3 * plane);
  const anyIgnore = batches.some((b) => b.ignore);
  const ignore = anyIgnore ? new Uint8Array(n * plane) : undefined;
  const anyContent = batches.some((b) => b.content);
  const content = anyContent ? batches.flatMap((b) => b.content ?? Array.from({ length: b.n }, () => ({ width, height }))) : undefined;
  let at = 0;
  for (const b of batches) {
    data.set(b.data.subarray(0, b.n * 3 * plane), at * 3 * plane);
    if (b.ignore) ignore!.set(b.ignore.subarray(0, b.n * plane), at * plane);
    at += b.n;
  }
  const second = batches.every((b) => b.second) ? joinImages(batches.map((b) => b.second!)) : undefined;
  return { data, n, height, width, ...(ignore ? { ignore } : {}), ...(content ? { content } : {}), ...(second ? { second } : {}) };
}
