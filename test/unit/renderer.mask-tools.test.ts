/**
 * The mask editor's pure tools (src-renderer/src/lib): polygons rasterised by the nonzero rule at
 * pixel centres, brush strokes, the colour fill on real magnetic-tile defects, and undo / redo.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { floodRegion } from '../../src-renderer/src/lib/flood-fill.ts';
import { History } from '../../src-renderer/src/lib/history.ts';
import { applyRegion, countOn, paintSegment, rasterisePolygon } from '../../src-renderer/src/lib/mask-shapes.ts';
import { sharedDataset } from '../fixtures/datasets.ts';

/** The mask as rows of '#' (on) and '.' (off). */
function rows(bits: Uint8Array, width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < bits.length; i += width) out.push([...bits.subarray(i, i + width)].map((v) => (v ? '#' : '.')).join(''));
  return out;
}

describe('rasterisePolygon', () => {
  it('fills exactly the pixels whose centres lie inside an axis-aligned rectangle', () => {
    // corners on pixel borders: 3 × 2 pixels from (1, 1)
    const bits = rasterisePolygon([{ x: 1, y: 1 }, { x: 4, y: 1 }, { x: 4, y: 3 }, { x: 1, y: 3 }], 6, 4);
    expect(rows(bits, 6)).toEqual(['......', '.###..', '.###..', '......']);
  });

  it('takes a pixel whose centre is inside and leaves one whose centre is outside', () => {
    // from x = 0.4 to 2.6: centres 0.5, 1.5, 2.5 inside; 3.5 not
    const bits = rasterisePolygon([{ x: 0.4, y: 0.4 }, { x: 2.6, y: 0.4 }, { x: 2.6, y: 0.6 }, { x: 0.4, y: 0.6 }], 4, 1);
    expect(rows(bits, 4)).toEqual(['###.']);
  });

  it('fills a triangle the same whichever way its vertices go round', () => {
    const cw = rasterisePolygon([{ x: 0, y: 0 }, { x: 8, y: 0 }, { x: 0, y: 8 }], 8, 8);
    const ccw = rasterisePolygon([{ x: 0, y: 0 }, { x: 0, y: 8 }, { x: 8, y: 0 }], 8, 8);
    expect(cw).toEqual(ccw);
    // pixels with x + y + 1 < 8 (centre strictly below the diagonal)
    expect(countOn(cw)).toBe(28);
    expect(rows(cw, 8)[0]).toBe('#######.');
    expect(rows(cw, 8)[7]).toBe('........');
  });

  it('fills where a self-crossing outline overlaps itself (nonzero, not even-odd)', () => {
    // the outer square, then the inner square in the same direction: winding 2 inside the inner one
    const outer = [{ x: 0, y: 0 }, { x: 6, y: 0 }, { x: 6, y: 6 }, { x: 0, y: 6 }];
    const inner = [{ x: 2, y: 2 }, { x: 4, y: 2 }, { x: 4, y: 4 }, { x: 2, y: 4 }];
    const bits = rasterisePolygon([...outer, { x: 0, y: 0 }, ...inner, { x: 2, y: 2 }], 6, 6);
    expect(countOn(bits)).toBe(36);
  });

  it('clips to the image and fills nothing for fewer than three vertices', () => {
    const bits = rasterisePolygon([{ x: -5, y: -5 }, { x: 20, y: -5 }, { x: 20, y: 20 }, { x: -5, y: 20 }], 4, 3);
    expect(countOn(bits)).toBe(12);
    expect(countOn(rasterisePolygon([{ x: 0, y: 0 }, { x: 3, y: 3 }], 4, 4))).toBe(0);
  });
});

describe('paintSegment', () => {
  it('paints a round dot of the brush diameter and reports the pixels it touched', () => {
    const bits = new Uint8Array(7 * 7);
    const rect = paintSegment(bits, 7, 7, { x: 3.5, y: 3.5 }, { x: 3.5, y: 3.5 }, 5, 1);
    expect(rows(bits, 7)).toEqual(['.......', '..###..', '.#####.', '.#####.', '.#####.', '..###..', '.......']);
    expect(rect).toEqual({ x0: 1, y0: 1, x1: 6, y1: 6 });
  });

  it('erases along a stroke with value 0', () => {
    const bits = new Uint8Array(5 * 3).fill(1);
    paintSegment(bits, 5, 3, { x: 0, y: 1.5 }, { x: 5, y: 1.5 }, 1, 0);
    expect(rows(bits, 5)).toEqual(['#####', '.....', '#####']);
  });

  it('writes a region as on or off', () => {
    const bits = new Uint8Array(4);
    expect(applyRegion(bits, Uint8Array.of(0, 1, 1, 0), 2, 1)).toEqual({ x0: 0, y0: 0, x1: 2, y1: 2 });
    expect([...bits]).toEqual([0, 1, 1, 0]);
  });
});

describe('floodRegion', () => {
  const rgba = (grey: number[], width: number) => ({ data: Uint8ClampedArray.from(grey.flatMap((v) => [v, v, v, 255])), width, height: grey.length / width });

  it('takes the connected pixels within the tolerance of the clicked colour, not those beyond an edge', () => {
    // a dark blob (10–20) on a light ground (200) with another dark blob not connected to it
    const image = rgba([
      200, 200, 200, 200, 200, 200,
      200, 10, 15, 200, 12, 200,
      200, 20, 10, 200, 10, 200,
      200, 200, 200, 200, 200, 200,
    ], 6);
    expect(rows(floodRegion(image, 1, 1, 30), 6)).toEqual(['......', '.##...', '.##...', '......']);
    // a tolerance as wide as the contrast takes the whole image
    expect(countOn(floodRegion(image, 1, 1, 255))).toBe(24);
    expect(countOn(floodRegion(image, -1, 0, 30))).toBe(0);
  });

  it('compares with the clicked colour, so a gradient does not lead it across the part', () => {
    const ramp = rgba(Array.from({ length: 64 }, (_, i) => i * 4), 64);
    // neighbours differ by 4; only pixels within 20 of the click's colour (≈ pixel 0..5) belong
    expect(countOn(floodRegion(ramp, 0, 0, 20))).toBeLessThanOrEqual(6);
  });

  it('outlines real magnetic-tile blowholes from one click inside them', async () => {
    const root = sharedDataset('magnetic_tile');
    for (const name of ['exp1_num_108719', 'exp1_num_108889', 'exp1_num_262480', 'exp1_num_297464']) {
      const image = await sharp(join(root, 'test/blowhole', `${name}.jpg`)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const mask = await sharp(join(root, 'ground_truth/blowhole', `${name}_mask.png`)).greyscale().raw().toBuffer();
      const { width, height } = image.info;
      const truth = Uint8Array.from(mask, (v) => (v > 127 ? 1 : 0));
      // the click: the ground truth's innermost pixel (where a person clicks: the middle of the hole)
      let inner = truth;
      for (;;) {
        const eroded = inner.map((v, i) => (v && inner[i - 1] && inner[i + 1] && inner[i - width] && inner[i + width] ? 1 : 0));
        if (!eroded.includes(1)) break;
        inner = eroded;
      }
      const seed = inner.indexOf(1);
      // the best of the tolerances the slider offers a person trying a few
      const iou = Math.max(...[10, 20, 30, 40].map((t) => {
        const region = floodRegion({ data: image.data, width, height }, seed % width, Math.floor(seed / width), t);
        let both = 0, either = 0;
        for (let i = 0; i < region.length; i++) {
          both += region[i]! & truth[i]!;
          either += region[i]! | truth[i]!;
        }
        return both / either;
      }));
      expect(iou, name).toBeGreaterThan(0.6);
    }
  });
});

describe('History', () => {
  it('undoes and redoes changes in order, and a new change drops the redo', () => {
    const h = new History<string>(10);
    let state = 'a';
    const change = (next: string) => {
      h.record(state);
      state = next;
    };
    change('b');
    change('c');
    state = h.undo(state)!;
    expect(state).toBe('b');
    state = h.undo(state)!;
    expect(state).toBe('a');
    expect(h.undo(state)).toBeUndefined();
    state = h.redo(state)!;
    expect(state).toBe('b');
    expect(h.canRedo).toBe(true);
    change('d');
    expect(h.canRedo).toBe(false);
    expect(h.redo(state)).toBeUndefined();
    state = h.undo(state)!;
    expect(state).toBe('b');
  });

  it('keeps at most its depth of steps, dropping the oldest', () => {
    const h = new History<number>(2);
    h.record(1);
    h.record(2);
    h.record(3);
    expect(h.undo(4)).toBe(3);
    expect(h.undo(3)).toBe(2);
    expect(h.undo(2)).toBeUndefined();
    expect(() => new History(0)).toThrow(RangeError);
  });
});
