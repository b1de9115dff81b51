import { describe, expect, it } from 'vitest';
import { cellBox } from '../../src-main/services/explain.ts';

describe('cellBox: a feature-grid patch as a box in the image\'s own pixels', () => {
  const input = { left: 0, top: 0, width: 256, height: 256 };
  const whole = { width: 256, height: 256 };

  it('stretched input: the cell and its patch neighbourhood, scaled to the image', () => {
    // 32 x 32 grid of 8-px cells; patch size 3 spans the cell and one on each side
    const box = cellBox({ row: 10, column: 4 }, { height: 32, width: 32 }, 3, input, whole, { width: 1024, height: 512 });
    expect(box).toEqual({ x: 3 * 8 * 4, y: 9 * 8 * 2, width: 3 * 8 * 4, height: 3 * 8 * 2 });
  });

  it('stays inside the image at its corners and on a letterboxed input\'s padding', () => {
    const size = { width: 1000, height: 500 };
    // letterboxed: the picture fills 256 x 128 of the input, the rest repeats its edge
    const content = { width: 256, height: 128 };
    for (const cell of [{ row: 0, column: 0 }, { row: 31, column: 31 }, { row: 15, column: 31 }, { row: 16, column: 0 }]) {
      const box = cellBox(cell, { height: 32, width: 32 }, 3, input, content, size);
      expect(box.x, JSON.stringify(cell)).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.width).toBeGreaterThan(0);
      expect(box.height).toBeGreaterThan(0);
      expect(box.x + box.width).toBeLessThanOrEqual(size.width);
      expect(box.y + box.height).toBeLessThanOrEqual(size.height);
    }
    // a cell inside the picture maps by the picture's own scale (1000 / 256)
    expect(cellBox({ row: 4, column: 10 }, { height: 32, width: 32 }, 1, input, content, size)).toEqual({ x: Math.floor(80 * 1000 / 256), y: Math.floor(32 * 500 / 128), width: Math.ceil(88 * 1000 / 256) - Math.floor(80 * 1000 / 256), height: Math.ceil(40 * 500 / 128) - Math.floor(32 * 500 / 128) });
  });

  it('a tiled model\'s cell lies in its tile: offset by the tile\'s place in the canvas, then scaled to the image', () => {
    // a 256 x 640 canvas (the picture fills it) cut into 256 px tiles; the second tile starts at x = 192
    const tile = { left: 192, top: 0, width: 256, height: 256 };
    const canvas = { width: 640, height: 256 };
    const box = cellBox({ row: 5, column: 2 }, { height: 32, width: 32 }, 1, tile, canvas, { width: 1280, height: 512 });
    expect(box).toEqual({ x: (192 + 16) * 2, y: 40 * 2, width: 8 * 2, height: 8 * 2 });
  });
});
