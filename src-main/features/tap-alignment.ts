/**
 * Bringing a coarser backbone tap onto the first tap's grid, as two small matrix products
 * (rows: [H, h] · x, columns: x · [w, W]) fed to the graph as inputs.
 *
 * A stride-s cell i is centred at input pixel s·i + (s−1)/2 + δ, δ the tap's measured offset
 * (models/manifest.json). Fine cell i then sits at coarse coordinate (i + 0.5)·(s/S) − 0.5 + (δs − δS)/S.
 * With `useOffsets` false both δ are taken as 0, which is exactly PyTorch's geometry (bilinear with
 * align_corners=False, or nearest replication), the reference implementations' choice.
 */
import { f32, type ort } from '../engine/session.ts';
import { axisTable } from '../vision/index.ts';

export type AlignMode = 'bilinear' | 'nearest';

export interface GridTap {
  readonly name: string;
  readonly stride: number;
  readonly offset: { readonly x: number; readonly y: number };
}

/** [fineSize, coarseSize] row-major: fine index d = Σ_j m[d][j] · coarse[j]. */
export function alignmentMatrix(coarseSize: number, fineSize: number, coarseStride: number, fineStride: number, shift: number, mode: AlignMode): Float32Array {
  const m = new Float32Array(fineSize * coarseSize);
  // axisTable reads the input at (d + 0.5 − offset)·ratio − 0.5; the shift (δs − δS)/S becomes offset −shift·S/s
  const table = axisTable(coarseSize, fineSize, fineStride / coarseStride, (-shift * coarseStride) / fineStride);
  for (let d = 0; d < fineSize; d++) {
    if (mode === 'bilinear') {
      m[d * coarseSize + table.i0[d]!]! += table.l0[d]!;
      m[d * coarseSize + table.i1[d]!]! += table.l1[d]!;
    } else {
      m[d * coarseSize + (table.l1[d]! > 0.5 ? table.i1[d]! : table.i0[d]!)] = 1;
    }
  }
  return m;
}

export function alignmentInputNames(tap: string): { rows: string; cols: string } {
  return { rows: `align_rows_${tap}`, cols: `align_cols_${tap}` };
}

/** The alignment matrices of every tap after the first, for an input of height × width pixels. */
export function alignmentFeeds(taps: readonly GridTap[], height: number, width: number, mode: AlignMode, useOffsets: boolean): Record<string, ort.Tensor> {
  const [first, ...rest] = taps;
  const H = height / first!.stride;
  const W = width / first!.stride;
  const feeds: Record<string, ort.Tensor> = {};
  for (const tap of rest) {
    const h = height / tap.stride;
    const w = width / tap.stride;
    const dy = useOffsets ? (first!.offset.y - tap.offset.y) / tap.stride : 0;
    const dx = useOffsets ? (first!.offset.x - tap.offset.x) / tap.stride : 0;
    const names = alignmentInputNames(tap.name);
    feeds[names.rows] = f32(alignmentMatrix(h, H, tap.stride, first!.stride, dy, mode), [H, h]);
    const cols = alignmentMatrix(w, W, tap.stride, first!.stride, dx, mode);
    feeds[names.cols] = f32(transpose(cols, W, w), [w, W]);
  }
  return feeds;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}
