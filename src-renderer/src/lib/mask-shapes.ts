/**
 * The mask editor's shapes rasterised onto a mask of one byte per pixel (1 = on), row-major, the
 * image's size. A pixel belongs to a shape when its centre (x + 0.5, y + 0.5) does, so a shape drawn
 * at any zoom lands on the same whole pixels the screen shows. Pure: no DOM.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** The pixels a change touched: [x0, x1) × [y0, y1); empty when x1 <= x0 or y1 <= y0. */
export interface Rect {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export const EMPTY_RECT: Rect = { x0: 0, y0: 0, x1: 0, y1: 0 };

export function isEmpty(r: Rect): boolean {
  return r.x1 <= r.x0 || r.y1 <= r.y0;
}

/**
 * The polygon's pixels by the nonzero winding rule (SVG's and the canvas's default): everything the
 * outline goes around is inside, so a sloppy outline that crosses itself still fills all it encloses
 * (even-odd would punch a hole where it overlaps). Fewer than 3 vertices enclose nothing.
 */
export function rasterisePolygon(points: readonly Point[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  if (points.length < 3) return out;
  const ys = points.map((p) => p.y);
  const top = Math.max(0, Math.floor(Math.min(...ys) - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(...ys) - 0.5));
  const crossings: Array<{ x: number; dir: number }> = [];
  for (let y = top; y <= bottom; y++) {
    const cy = y + 0.5;
    crossings.length = 0;
    for (let i = 0; i < points.length; i++) {
      const a = points[i]!;
      const b = points[(i + 1) % points.length]!;
      // half-open in y, so a vertex on the scanline is counted once
      if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) {
        crossings.push({ x: a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x), dir: b.y > a.y ? 1 : -1 });
      }
    }
    crossings.sort((p, q) => p.x - q.x);
    let winding = 0;
    for (let i = 0; i < crossings.length - 1; i++) {
      winding += crossings[i]!.dir;
      if (winding === 0) continue;
      // pixel centres x + 0.5 in [left, right)
      const from = Math.max(0, Math.ceil(crossings[i]!.x - 0.5));
      const to = Math.min(width, Math.ceil(crossings[i + 1]!.x - 0.5));
      out.fill(1, y * width + from, y * width + Math.max(from, to));
    }
  }
  return out;
}

/**
 * A brush stroke from `a` to `b` with round ends, `diameter` image pixels wide, written into `bits`
 * as `value`. Returns the pixels it may have changed.
 */
export function paintSegment(bits: Uint8Array, width: number, height: number, a: Point, b: Point, diameter: number, value: 0 | 1): Rect {
  const r = Math.max(0.5, diameter / 2);
  const x0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - r));
  const y0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - r));
  const x1 = Math.min(width, Math.ceil(Math.max(a.x, b.x) + r));
  const y1 = Math.min(height, Math.ceil(Math.max(a.y, b.y) + r));
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  for (let y = y0; y < y1; y++) {
    const cy = y + 0.5;
    for (let x = x0; x < x1; x++) {
      const cx = x + 0.5;
      // distance from the pixel centre to the segment
      const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((cx - a.x) * dx + (cy - a.y) * dy) / len2));
      const ex = cx - (a.x + t * dx);
      const ey = cy - (a.y + t * dy);
      if (ex * ex + ey * ey <= r2) bits[y * width + x] = value;
    }
  }
  return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : EMPTY_RECT;
}

/** Writes `value` wherever `region` is on; returns the bounding box of what it covered. */
export function applyRegion(bits: Uint8Array, region: Uint8Array, width: number, value: 0 | 1): Rect {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < region.length; i++) {
    if (region[i] === 0) continue;
    bits[i] = value;
    const x = i % width;
    const y = (i - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return x1 < x0 ? EMPTY_RECT : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** How many pixels are on. */
export function countOn(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += bits[i]!;
  return n;
}
