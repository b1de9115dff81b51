/**
 * The review viewer's own drawing and reading (src-renderer/src/lib): mask outlines as SVG paths, the
 * anomaly map as results.map sends it, read at an image pixel exactly as the station outlines defects,
 * coloured as the station's overlays, and the zoom / pan arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { jet as stationJet } from '../../src-main/vision/overlay.ts';
import { resizeMap } from '../../src-main/vision/interpolate.ts';
import { decodeAnomalyMap, jet, percentileOf, valueAt } from '../../src-renderer/src/lib/anomaly-map.ts';
import { outlinePath } from '../../src-renderer/src/lib/outline.ts';
import { fitView, panBy, pixelAt, stepScale, zoomTo } from '../../src-renderer/src/lib/viewport.ts';
import { lcg } from '../fixtures/lcg.ts';

/** The loops of an outline path as corner lists (M x y, then h / v steps, Z). */
function loops(path: string): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  for (const m of path.matchAll(/M(-?\d+) (-?\d+)((?:[hv]-?\d+)*)Z/g)) {
    let x = Number(m[1]);
    let y = Number(m[2]);
    const corners: Array<[number, number]> = [[x, y]];
    for (const s of m[3]!.matchAll(/([hv])(-?\d+)/g)) {
      if (s[1] === 'h') x += Number(s[2]);
      else y += Number(s[2]);
      corners.push([x, y]);
    }
    out.push(corners);
  }
  return out;
}

/** Signed area (clockwise in image coordinates, y down, positive) of a closed polygon. */
function area(corners: Array<[number, number]>): number {
  let a = 0;
  for (let i = 0; i < corners.length; i++) {
    const [x0, y0] = corners[i]!;
    const [x1, y1] = corners[(i + 1) % corners.length]!;
    a += x0 * y1 - x1 * y0;
  }
  return a / 2;
}

const maskOf = (rows: string[]) => ({ data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 255 : 0)), width: rows[0]!.length, height: rows.length });

describe('mask outlines as SVG paths', () => {
  it('draws one pixel as a closed unit square, in image pixel units', () => {
    const m = maskOf(['...', '.#.', '...']);
    expect(outlinePath(m.data, m.width, m.height)).toBe('M1 1h1v1h-1Z');
  });

  it('merges straight runs and draws an empty mask as no path', () => {
    const m = maskOf(['####', '####']);
    expect(outlinePath(m.data, m.width, m.height)).toBe('M0 0h4v2h-4Z');
    expect(outlinePath(new Uint8Array(12), 4, 3)).toBe('');
  });

  it('outlines a hole as its own loop, running the other way', () => {
    const m = maskOf(['###', '#.#', '###']);
    const found = loops(outlinePath(m.data, m.width, m.height));
    expect(found.map(area).sort((a, b) => a - b)).toEqual([-1, 9]);
  });

  it('keeps pixels that touch only at a corner in separate loops', () => {
    const m = maskOf(['#.', '.#']);
    const found = loops(outlinePath(m.data, m.width, m.height));
    expect(found.map(area)).toEqual([1, 1]);
  });

  it('gives back the mask area (outer loops minus holes) for random masks', () => {
    const r = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const width = 5 + Math.floor(r() * 40);
      const height = 5 + Math.floor(r() * 40);
      const density = 0.2 + r() * 0.6;
      const data = Uint8Array.from({ length: width * height }, () => (r() < density ? 1 : 0));
      const total = data.reduce((s, v) => s + v, 0);
      const found = loops(outlinePath(data, width, height));
      expect(found.reduce((s, l) => s + area(l), 0)).toBe(total);
      // every loop is closed and lies on pixel borders inside the image
      for (const l of found) for (const [x, y] of l) expect(x >= 0 && y >= 0 && x <= width && y <= height).toBe(true);
    }
  });
});

describe('the anomaly map as results.map sends it', () => {
  const wire = (data: Float32Array, width: number, height: number, imageWidth: number, imageHeight: number) => ({
    width, height, imageWidth, imageHeight, base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
    min: Math.min(...data), max: Math.max(...data), low: 0, high: 1, imageThreshold: 0.8, pixelThreshold: 0.5,
  });

  it('decodes the float32 little-endian values bit for bit', () => {
    const r = lcg(3);
    const data = Float32Array.from({ length: 6 * 4 }, () => r() * 10 - 3);
    const map = decodeAnomalyMap(wire(data, 6, 4, 60, 40));
    expect(Array.from(map.data)).toEqual(Array.from(data));
    expect(Array.from(map.sorted)).toEqual(Array.from(data).sort((a, b) => a - b));
  });

  it('refuses bytes that do not make width × height values', () => {
    const data = new Float32Array(5);
    expect(() => decodeAnomalyMap(wire(data, 3, 2, 30, 20))).toThrow(/3x2 has 20 bytes, expected 24/);
  });

  it('reads every image pixel exactly as the station upsamples the map to outline defects', () => {
    const r = lcg(11);
    for (const [w, h, iw, ih] of [[7, 5, 23, 17], [28, 28, 224, 224], [4, 6, 4, 6], [16, 12, 1000, 700]] as const) {
      const data = Float32Array.from({ length: w * h }, () => r() * 4);
      const map = decodeAnomalyMap(wire(data, w, h, iw, ih));
      const full = resizeMap(data, w, h, iw, ih);
      for (let y = 0; y < ih; y += Math.max(1, Math.floor(ih / 60))) {
        for (let x = 0; x < iw; x += Math.max(1, Math.floor(iw / 60))) expect(valueAt(map, x, y)).toBe(full[y * iw + x]);
      }
    }
  });

  it('colours scores as the station overlays do and ranks a value among the map values', () => {
    for (let t = -0.1; t <= 1.1; t += 0.01) expect(jet(t)).toEqual(stationJet(t));
    const map = decodeAnomalyMap(wire(Float32Array.from([4, 1, 3, 2]), 2, 2, 2, 2));
    expect(percentileOf(map, 0)).toBe(0);
    expect(percentileOf(map, 3)).toBe(50);
    expect(percentileOf(map, 3.5)).toBe(75);
    expect(percentileOf(map, 9)).toBe(100);
  });
});

describe('zoom and pan', () => {
  const image = { width: 1000, height: 500 };
  const box = { width: 800, height: 800 };

  it('fits the whole image centred, and zooms by the key steps to 1:1, 2x and 4x', () => {
    const fit = fitView(image, box);
    expect(fit).toEqual({ scale: 0.8, x: 0, y: 200 });
    expect(stepScale(fit.scale, 1)).toBe(1);
    expect(stepScale(1, 1)).toBe(2);
    expect(stepScale(2, 1)).toBe(4);
    expect(stepScale(4, -1)).toBe(2);
    expect(stepScale(0.8, -1)).toBe(0.5);
  });

  it('keeps the image pixel under the zoom point in place', () => {
    const fit = fitView(image, box);
    const before = pixelAt(fit, 400, 400, image);
    const zoomed = zoomTo(fit, 4, 400, 400, 0.1);
    expect(zoomed.scale).toBe(4);
    expect(pixelAt(zoomed, 400, 400, image)).toEqual(before);
    expect(pixelAt(zoomed, -1e6, 0, image)).toBeNull();
  });

  it('pans by screen pixels but never loses the image out of the box', () => {
    const view = zoomTo(fitView(image, box), 2, 400, 400, 0.1);
    expect(panBy(view, 10, -5, image, box)).toEqual({ scale: 2, x: view.x + 10, y: view.y - 5 });
    const far = panBy(view, 1e6, 1e6, image, box);
    expect(far.x).toBe(box.width - 48);
    expect(far.y).toBe(box.height - 48);
  });
});
