import { describe, expect, it } from 'vitest';
import { standInCells, useStandInRows } from '../../src-main/methods/ignored-cells.ts';

describe('stand-in cells for ignored training cells', () => {
  it('gives each ignored cell the nearest kept cell of its grid and keeps the kept ones', () => {
    // 3 x 4 grid, the left two columns ignored
    const ignored = Uint8Array.from([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    const source = standInCells(ignored, 3, 4)!;
    expect(Array.from(source)).toEqual([2, 2, 2, 3, 6, 6, 6, 7, 10, 10, 10, 11]);
  });

  it('reaches cells enclosed by the region through it, and stands in only with kept cells', () => {
    const ignored = Uint8Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1]); // only the top-left corner is kept
    const source = standInCells(ignored, 3, 3)!;
    expect(Array.from(source)).toEqual(Array(9).fill(0));
  });

  it('is null when nothing is ignored, or everything is (nothing to stand in)', () => {
    expect(standInCells(null, 2, 2)).toBeNull();
    expect(standInCells(new Uint8Array(4), 2, 2)).toBeNull();
    expect(standInCells(new Uint8Array(4).fill(1), 2, 2)).toBeNull();
  });

  it('replaces the rows of ignored cells with their stand-in rows, channel by channel', () => {
    const rows = Float32Array.from([1, 10, 2, 20, 3, 30]); // 3 cells x 2 channels
    useStandInRows(rows, 2, Int32Array.from([1, 1, 2]));
    expect(Array.from(rows)).toEqual([2, 20, 2, 20, 3, 30]);
  });
});
