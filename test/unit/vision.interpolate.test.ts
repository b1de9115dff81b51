import { describe, expect, it } from 'vitest';
import { cropMap, resizeMap, upsampleBilinear } from '../../src-main/vision/index.ts';

const f32 = (v: number[]): number[] => Array.from(Float32Array.from(v));

describe('upsampleBilinear without align = PyTorch F.interpolate(bilinear, align_corners=False)', () => {
  it('upsamples 2x2 to 4x4 as in the PyTorch documentation example', () => {
    // F.interpolate(torch.arange(1., 5.).view(1, 1, 2, 2), size=(4, 4), mode='bilinear', align_corners=False)
    const out = upsampleBilinear(Float32Array.from([1, 2, 3, 4]), 2, 2, 4, 4);
    expect(Array.from(out)).toEqual(
      f32([1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]),
    );
  });

  it('gives [a, .75a+.25b, .25a+.75b, b] along each axis for 2 -> 4 (hand-computed)', () => {
    // s = (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (i0 = i1 = 1)
    // grid [[a, b], [c, d]] = [[0, 4], [8, 16]]: rows a-b -> [0, 1, 3, 4], c-d -> [8, 10, 14, 16]
    const out = upsampleBilinear(Float32Array.from([0, 4, 8, 16]), 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([0, 1, 3, 4, 2, 3.25, 5.75, 7, 6, 7.75, 11.25, 13, 8, 10, 14, 16]);
  });

  it('handles non-integer ratios: 3 -> 5', () => {
    // s = (d + 0.5) * 0.6 - 0.5 = -0.2 -> 0, 0.4, 1.0, 1.6, 2.2 (i0 = i1 = 2)
    const out = upsampleBilinear(Float32Array.from([0, 10, 20]), 3, 1, 5, 1);
    const expected = [0, 4, 10, 16, 20];
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  it('down-samples without antialiasing: 4 -> 2 averages neighbouring pairs', () => {
    const out = upsampleBilinear(Float32Array.from([1, 3, 5, 7]), 4, 1, 2, 1);
    expect(Array.from(out)).toEqual([2, 6]);
  });

  it('replicates a 1x1 grid everywhere', () => {
    expect(Array.from(upsampleBilinear(Float32Array.from([0.3]), 1, 1, 3, 2))).toEqual(f32([0.3, 0.3, 0.3, 0.3, 0.3, 0.3]));
  });

  it('rejects a grid whose length does not match its size, and empty sizes', () => {
    expect(() => upsampleBilinear(new Float32Array(5), 2, 2, 4, 4)).toThrow(RangeError);
    expect(() => upsampleBilinear(new Float32Array(4), 2, 2, 0, 4)).toThrow(RangeError);
    expect(() => upsampleBilinear(new Float32Array(4), 2, 2, 4, 4, { stride: 0, offsetX: 0, offsetY: 0 })).toThrow(RangeError);
  });
});

describe('upsampleBilinear with align (grid cell i centred at stride*i + (stride-1)/2 + offset)', () => {
  const grid = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.sin(i * 1.7) * 3 + i / 10);

  it('is bit-identical to the un-aligned call when offset is 0 and stride = out/in', () => {
    for (const stride of [1, 2, 3, 4, 8, 16]) {
      const a = upsampleBilinear(grid, 7, 5, 7 * stride, 5 * stride, { stride, offsetX: 0, offsetY: 0 });
      const b = upsampleBilinear(grid, 7, 5, 7 * stride, 5 * stride);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
  });

  it('places cell centres at stride*i + (stride-1)/2 + offset and replicates edges outside them', () => {
    // grid [0, 10], stride 4, offsetX 2: centres at pixels 3.5 and 7.5
    const out = upsampleBilinear(Float32Array.from([0, 10]), 2, 1, 12, 1, { stride: 4, offsetX: 2, offsetY: 0 });
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 1.25, 3.75, 6.25, 8.75, 10, 10, 10, 10]);
  });

  it('shifts the map by whole cells when the offset is a multiple of the stride', () => {
    const stride = 4;
    const shifted = upsampleBilinear(grid, 7, 5, 40, 30, { stride, offsetX: stride, offsetY: 2 * stride });
    const plain = upsampleBilinear(grid, 7, 5, 40, 30, { stride, offsetX: 0, offsetY: 0 });
    let mismatches = 0;
    for (let y = 2 * stride; y < 30; y++) {
      for (let x = stride; x < 40; x++) {
        if (shifted[y * 40 + x] !== plain[(y - 2 * stride) * 40 + (x - stride)]) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
    // and left of / above the first cell centre the values are edge-replicated
    expect(shifted[0]).toBe(grid[0]);
  });

  it('uses the offsets independently per axis', () => {
    const out = upsampleBilinear(Float32Array.from([0, 10, 20, 30]), 2, 2, 4, 4, { stride: 2, offsetX: 0, offsetY: 100 });
    // every row lies above the first cell centre in y -> all rows equal the first grid row upsampled
    for (let y = 0; y < 4; y++) expect(Array.from(out.subarray(y * 4, y * 4 + 4))).toEqual([0, 2.5, 7.5, 10]);
  });
});

describe('resizeMap', () => {
  it('is upsampleBilinear without align, to any size (up or down)', () => {
    const map = Float32Array.from({ length: 15 }, (_, i) => (i * 7) % 5);
    expect(Array.from(resizeMap(map, 5, 3, 7, 2))).toEqual(Array.from(upsampleBilinear(map, 5, 3, 7, 2)));
    expect(Array.from(resizeMap(map, 5, 3, 494, 361))).toEqual(Array.from(upsampleBilinear(map, 5, 3, 494, 361)));
    expect(resizeMap(map, 5, 3, 494, 361).length).toBe(494 * 361);
  });
});

describe('cropMap', () => {
  it('keeps the top-left window of a letterboxed map, row by row', () => {
    const map = Float32Array.from({ length: 4 * 3 }, (_, i) => i); // 4 wide, 3 high
    expect(Array.from(cropMap(map, 4, 2, 2))).toEqual([0, 1, 4, 5]);
    expect(cropMap(map, 4, 4, 3)).toBe(map);
  });
});
