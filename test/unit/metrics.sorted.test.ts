import { describe, expect, it } from 'vitest';
import { radixSortFloat32, splitByLabelSorted } from '../../src-main/metrics/sorted.ts';

describe('radixSortFloat32', () => {
  it('sorts negative, zero, fractional and infinite values in ascending numeric order', () => {
    const values = Float32Array.from([3.5, -1, 0, -Infinity, 1e-30, -2.25, Infinity, -1e-30, 2, 2]);
    const expected = Float32Array.from(values).sort();
    radixSortFloat32(values);
    expect(Array.from(values)).toEqual(Array.from(expected));
  });

  it('moves the payload together with its value', () => {
    const values = Float32Array.from([0.5, -3, 7, 0.25]);
    const payload = Uint32Array.from([0, 1, 2, 3]);
    radixSortFloat32(values, payload);
    expect(Array.from(values)).toEqual([-3, 0.25, 0.5, 7]);
    expect(Array.from(payload)).toEqual([1, 3, 0, 2]);
  });

  it('agrees with the native sort on many random values with ties', () => {
    let state = 1;
    const values = new Float32Array(20_000);
    for (let i = 0; i < values.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      values[i] = Math.floor(state / 2 ** 20) / 64 - 1000;
    }
    const expected = Float32Array.from(values).sort();
    radixSortFloat32(values);
    expect(values.every((value, i) => value === expected[i])).toBe(true);
  });
});

describe('splitByLabelSorted', () => {
  it('treats every non-zero label as positive and sorts both groups ascending', () => {
    const { positives, negatives } = splitByLabelSorted([0.9, 0.1, 0.5, 0.3], [255, 0, 1, 0]);
    expect(Array.from(positives)).toEqual([0.5, 0.9]);
    expect(Array.from(negatives)).toEqual([0.1, 0.3]);
  });

  it('keeps float32 scores in float32 and copies anything else to float64', () => {
    expect(splitByLabelSorted(new Float32Array([1, 2]), [0, 1]).positives).toBeInstanceOf(Float32Array);
    expect(splitByLabelSorted([1, 2], [0, 1]).positives).toBeInstanceOf(Float64Array);
  });

  it('rejects NaN scores and mismatched lengths', () => {
    expect(() => splitByLabelSorted([0.1, NaN], [0, 1])).toThrow(RangeError);
    expect(() => splitByLabelSorted([0.1, 0.2], [0])).toThrow(/differ in length/);
  });
});
