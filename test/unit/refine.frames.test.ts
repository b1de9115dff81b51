import { describe, expect, it } from 'vitest';
import { tileFrames } from '../../src-main/refine/refine.ts';
import { tileGrid } from '../../src-main/methods/tiling.ts';

describe('F2PAD frames of a tiled model', () => {
  it.each([
    [192, 256, 128, 32],
    [256, 640, 256, 32],
    [300, 1000, 224, 40],
  ])('share the %ix%i canvas out among its tiles (%i px, overlap %i): every pixel written by exactly one tile, inside it', (height, width, size, overlap) => {
    const grid = tileGrid(height, width, size, overlap);
    const frames = tileFrames(grid);
    expect(frames).toHaveLength(grid.xs.length * grid.ys.length);
    const writers = new Uint8Array(height * width);
    for (const f of frames) {
      expect([f.x1 - f.x0, f.y1 - f.y0]).toEqual([size, size]);
      const o = f.owned;
      expect(o.x0 >= f.x0 && o.x1 <= f.x1 && o.y0 >= f.y0 && o.y1 <= f.y1, JSON.stringify(f)).toBe(true);
      for (let y = o.y0; y < o.y1; y++) for (let x = o.x0; x < o.x1; x++) writers[y * width + x]!++;
    }
    expect(writers.every((n) => n === 1)).toBe(true);
  });

  it('give each tile the overlap half nearer its centre', () => {
    const frames = tileFrames(tileGrid(128, 224, 128, 32));
    // tiles at x 0 and 96 share [96, 128): the first keeps [0, 112), the second [112, 224)
    expect(frames.map((f) => [f.owned.x0, f.owned.x1])).toEqual([[0, 112], [112, 224]]);
  });
});
