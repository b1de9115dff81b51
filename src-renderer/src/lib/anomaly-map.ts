/**
 * A result's anomaly map in the review viewer (results.map): decoded from its float32 bytes, read at
 * an image pixel exactly as the station reads it when it outlines defects, ranked against the map's
 * own values, and coloured for the heatmap.
 */
import type { AnomalyMap } from './contract.ts';

export interface MapView extends Omit<AnomalyMap, 'base64'> {
  readonly data: Float32Array;
  /** The map's values in ascending order (for percentiles). */
  readonly sorted: Float32Array;
}

/** The map's values from its base64 float32 little-endian bytes; a clear error when they do not fit. */
export function decodeAnomalyMap(map: AnomalyMap): MapView {
  const binary = atob(map.base64);
  const count = map.width * map.height;
  if (binary.length !== count * 4) throw new RangeError(`anomaly map of ${map.width}x${map.height} has ${binary.length} bytes, expected ${count * 4}`);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  const { base64: _, ...rest } = map;
  return { ...rest, data, sorted: data.slice().sort() };
}

/** Where output index d of m reads an axis of n values: PyTorch bilinear, align_corners=False. */
function axis(d: number, n: number, m: number): [number, number, number] {
  let s = (d + 0.5) * (n / m) - 0.5;
  if (s < 0) s = 0;
  if (s > n - 1) s = n - 1;
  const i0 = Math.floor(s);
  return [i0, i0 < n - 1 ? i0 + 1 : n - 1, s - i0];
}

/**
 * The map's value at image pixel (x, y): the bilinear upsampling to the image's size that the station
 * thresholds for the predicted outline (src-main/vision/interpolate.ts resizeMap), as float32.
 */
export function valueAt(map: Pick<MapView, 'width' | 'height' | 'imageWidth' | 'imageHeight' | 'data'>, x: number, y: number): number {
  const [x0, x1, lx] = axis(x, map.width, map.imageWidth);
  const [y0, y1, ly] = axis(y, map.height, map.imageHeight);
  const g = map.data;
  const r0 = y0 * map.width;
  const r1 = y1 * map.width;
  const w0 = 1 - lx;
  const h0 = 1 - ly;
  return Math.fround(h0 * (w0 * g[r0 + x0]! + lx * g[r0 + x1]!) + ly * (w0 * g[r1 + x0]! + lx * g[r1 + x1]!));
}

/** Percent of the map's values below `value` (0–100). */
export function percentileOf(map: Pick<MapView, 'sorted'>, value: number): number {
  const s = map.sorted;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return s.length ? (100 * lo) / s.length : 0;
}

/** Jet-like colour of t in [0, 1] (dark blue → cyan → yellow → dark red), as the station's overlays colour maps. */
export function jet(t: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  const v = Math.min(1, Math.max(0, t));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

/** Where a score sits on the colour scale (0 at `low`, 1 at `high`, clamped). */
export function scalePosition(map: Pick<MapView, 'low' | 'high'>, value: number): number {
  return Math.min(1, Math.max(0, (value - map.low) / (map.high - map.low || 1)));
}

/** The map coloured on its grid, RGBA (opaque), to be drawn stretched over the image. */
export function heatmapPixels(map: MapView): Uint8ClampedArray {
  const out = new Uint8ClampedArray(map.data.length * 4);
  for (let i = 0; i < map.data.length; i++) {
    const [r, g, b] = jet(scalePosition(map, map.data[i]!));
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** A CSS gradient of the colour scale, left (low) to right (high); exact, as jet is linear between eighths. */
export function jetGradient(direction = 'to right'): string {
  const stops = [0, 1, 3, 5, 7, 8].map((k) => `rgb(${jet(k / 8).join(' ')}) ${(k / 8) * 100}%`);
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}
