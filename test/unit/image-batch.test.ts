import { describe, expect, it } from 'vitest';
import { joinImages, pickImages } from '../../src-main/methods/image-batch.ts';
import type { ImageBatch } from '../../src-main/methods/method.ts';

/** A batch of `n` images whose every value names its image (image k holds k + 1 + base). */
function batchOf(n: number, height: number, width: number, base = 0): ImageBatch {
  const plane = height * width;
  const data = new Float32Array(n * 3 * plane);
  const ignore = new Uint8Array(n * plane);
  for (let k = 0; k < n; k++) {
    data.fill(k + 1 + base, k * 3 * plane, (k + 1) * 3 * plane);
    ignore.fill(k % 2, k * plane, (k + 1) * plane);
  }
  return { data, n, height, width, ignore };
}

const imagesOf = (b: ImageBatch) => Array.from({ length: b.n }, (_, k) => b.data[k * 3 * b.height * b.width]);
const masksOf = (b: ImageBatch) => Array.from({ length: b.n }, (_, k) => b.ignore![k * b.height * b.width]);

describe('taking images out of batches and joining them', () => {
  it('picks the same images from a batch and from its second canvas, masks included', () => {
    const batch = { ...batchOf(4, 4, 8), second: batchOf(4, 2, 4) };
    const picked = pickImages(batch, [3, 0]);
    expect(imagesOf(picked)).toEqual([4, 1]);
    expect(imagesOf(picked.second!)).toEqual([4, 1]);
    expect(masksOf(picked.second!)).toEqual([1, 0]);
    expect([picked.second!.height, picked.second!.width]).toEqual([2, 4]);
  });

  it('joins second canvases in the order of the batches', () => {
    const a = { ...batchOf(2, 4, 8), second: batchOf(2, 2, 4) };
    const b = { ...batchOf(1, 4, 8, 10), second: batchOf(1, 2, 4, 10) };
    const joined = joinImages([a, b]);
    expect(imagesOf(joined)).toEqual([1, 2, 11]);
    expect(imagesOf(joined.second!)).toEqual([1, 2, 11]);
  });

  it('drops the second canvas when not every joined batch has one (a partial one would misalign images)', () => {
    const joined = joinImages([{ ...batchOf(2, 4, 8), second: batchOf(2, 2, 4) }, batchOf(1, 4, 8)]);
    expect(joined.n).toBe(3);
    expect(joined.second).toBeUndefined();
  });
});
