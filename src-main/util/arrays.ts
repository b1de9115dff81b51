/** Typed arrays end to end in one new array of the same type. */
export function concatenated<T extends Float32Array | Uint8Array>(parts: readonly T[], make: (length: number) => T): T {
  const out = make(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * `fn` of every value (and its index), as a new typed array. Float32Array.from / Uint8Array.from
 * with a mapping function give the same many times slower (Node 20, 655,360 values: 126–290 ms
 * against a few ms), which costs per image on every map or mask a model or a metric derives.
 */
function mapInto<T extends Float32Array | Uint8Array>(out: T, values: ArrayLike<number>, fn: (value: number, index: number) => number): T {
  for (let i = 0; i < values.length; i++) out[i] = fn(values[i]!, i);
  return out;
}

export const mapToFloat32 = (values: ArrayLike<number>, fn: (value: number, index: number) => number): Float32Array => mapInto(new Float32Array(values.length), values, fn);

export const mapToUint8 = (values: ArrayLike<number>, fn: (value: number, index: number) => number): Uint8Array => mapInto(new Uint8Array(values.length), values, fn);
