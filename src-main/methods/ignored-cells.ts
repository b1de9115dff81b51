/**
 * Which feature-grid cells of a training or test image lie in its ignore regions: a cell counts as
 * ignored when its centre pixel does (the rule inspection's scores use too, anomaly-map.ts
 * ignoringRegions). Training leaves these cells' features out of banks, statistics and losses.
 */
import type { ImageBatch } from './method.ts';

/** [gridH·gridW] flags (1 = ignored) of image `i` of the batch; null when the batch has no ignore regions. */
export function ignoredCells(batch: ImageBatch, i: number, gridH: number, gridW: number): Uint8Array | null {
  if (!batch.ignore) return null;
  const plane = batch.height * batch.width;
  const out = new Uint8Array(gridH * gridW);
  for (let r = 0; r < gridH; r++) {
    const y = Math.floor(((r + 0.5) * batch.height) / gridH);
    for (let c = 0; c < gridW; c++) {
      const x = Math.floor(((c + 0.5) * batch.width) / gridW);
      out[r * gridW + c] = batch.ignore[i * plane + y * batch.width + x] !== 0 ? 1 : 0;
    }
  }
  return out;
}
