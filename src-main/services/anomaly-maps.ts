/**
 * Stored anomaly maps: 'AMAP', width and height (uint32 LE), then width·height float32 LE values,
 * at the model's resolution over the picture (letterbox borders removed).
 */
const MAGIC = 0x50414d41; // 'AMAP' read as little-endian uint32

export interface StoredMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export function encodeMap(map: StoredMap): Uint8Array {
  if (map.data.length !== map.width * map.height) throw new RangeError(`map has ${map.data.length} values for ${map.width}x${map.height}`);
  const out = new Uint8Array(12 + map.data.length * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, map.width, true);
  view.setUint32(8, map.height, true);
  for (let i = 0; i < map.data.length; i++) view.setFloat32(12 + i * 4, map.data[i]!, true);
  return out;
}

export function decodeMap(bytes: Uint8Array): StoredMap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || view.getUint32(0, true) !== MAGIC) throw new RangeError('not a stored anomaly map');
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  if (bytes.length !== 12 + width * height * 4) throw new RangeError(`stored anomaly map of ${width}x${height} has ${bytes.length} bytes`);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(12 + i * 4, true);
  return { width, height, data };
}

/** The smallest and largest value of a map. */
export function mapRange(data: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * The score span a heatmap's colours cover: the map's own range, or with a pixel threshold the band
 * from half to one and a half times it (widened down to the map's minimum), so the threshold sits in
 * the middle of the colour scale and maps of different parts compare by colour.
 */
export function heatmapScale(range: { min: number; max: number }, pixelThreshold: number | null): { low: number; high: number } {
  if (pixelThreshold === null) return { low: range.min, high: Math.max(range.max, range.min + 1e-6) };
  const low = Math.min(range.min, pixelThreshold * 0.5);
  return { low, high: Math.max(pixelThreshold * 1.5, low + 1e-6) };
}
