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

/**
 * For training methods whose rows must cover the whole grid (the feature-mapping networks: PEFM adds a
 * position encoding per cell), the cell each cell trains with: itself when kept, else the nearest kept
 * cell of the same image (breadth-first over the 4-neighbourhood, so ties resolve the same way every
 * time). What lies under an ignore region then never enters a loss or a batch statistic. Null when no
 * cell is ignored, or when every one is (nothing to stand in: all kept, as elsewhere).
 */
export function standInCells(ignored: Uint8Array | null, gridH: number, gridW: number): Int32Array | null {
  if (!ignored || !ignored.includes(1) || !ignored.includes(0)) return null;
  const source = new Int32Array(gridH * gridW).fill(-1);
  const queue: number[] = [];
  for (let cell = 0; cell < source.length; cell++) {
    if (ignored[cell]) continue;
    source[cell] = cell;
    queue.push(cell);
  }
  for (let head = 0; head < queue.length; head++) {
    const cell = queue[head]!;
    const [r, c] = [Math.floor(cell / gridW), cell % gridW];
    for (const [nr, nc] of [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]] as const) {
      if (nr < 0 || nr >= gridH || nc < 0 || nc >= gridW) continue;
      const next = nr * gridW + nc;
      if (source[next] !== -1) continue;
      source[next] = source[cell]!;
      queue.push(next);
    }
  }
  return source;
}

/** Rows [cells, channels] of one image with every row replaced by its stand-in's (standInCells), in place. */
export function useStandInRows(rows: Float32Array, channels: number, source: Int32Array): void {
  for (let cell = 0; cell < source.length; cell++) {
    const from = source[cell]!;
    if (from !== cell) rows.copyWithin(cell * channels, from * channels, (from + 1) * channels);
  }
}
