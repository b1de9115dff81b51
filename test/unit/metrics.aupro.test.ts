import { describe, expect, it } from 'vitest';
import { lcg } from '../fixtures/lcg.ts';
import { aupro, proCurve, type ScoredMask } from '../../src-main/metrics/aupro.ts';
import { connectedComponents } from '../../src-main/metrics/connected-components.ts';

/** Builds an image from rows of scores and rows of 0/1 mask values. */
function image(map: number[][], mask: number[][]): ScoredMask {
  return {
    map: Float32Array.from(map.flat()),
    mask: Uint8Array.from(mask.flat()),
    width: map[0]!.length,
    height: map.length,
  };
}

describe('connectedComponents', () => {
  it('joins two pixels touching only at a corner into ONE region (8-connectivity)', () => {
    const { labels, count } = connectedComponents(Uint8Array.from([1, 0, 0, 1]), 2, 2);
    expect(count).toBe(1);
    expect(Array.from(labels)).toEqual([1, 0, 0, 1]);
  });

  it('keeps pixels separated by a background gap apart, numbering in raster order', () => {
    const mask = Uint8Array.from([1, 0, 1, 0, 0, 0, 1, 1, 0]);
    const { labels, count } = connectedComponents(mask, 3, 3);
    expect(count).toBe(3);
    expect(Array.from(labels)).toEqual([1, 0, 2, 0, 0, 0, 3, 3, 0]);
  });

  it('follows a region that winds back up (U shape) as one component', () => {
    const mask = [
      [1, 0, 1],
      [1, 0, 1],
      [1, 1, 1],
    ].flat();
    expect(connectedComponents(Uint8Array.from(mask), 3, 3).count).toBe(1);
  });

  it('finds nothing in an empty mask', () => {
    expect(connectedComponents(new Uint8Array(12), 4, 3).count).toBe(0);
  });
});

/*
 * One row, two single-pixel regions (A at x=0, B at x=2) and four normal pixels.
 *   scores: A 0.95 | 0.9 | B 0.6 | 0.6 | 0.2 | 0.1
 * Walking distinct scores downwards (tie groups at once):
 *   0.95 -> FPR 0,    PRO 1/2;  0.9 -> FPR 1/4, PRO 1/2;  0.6 (B and a normal pixel) -> FPR 1/2, PRO 1;
 *   0.2  -> FPR 3/4,  PRO 1;    0.1 -> FPR 1,   PRO 1;    then the closing point (1, 1).
 */
const twoRegions = [image([[0.95, 0.9, 0.6, 0.6, 0.2, 0.1]], [[1, 0, 1, 0, 0, 0]])];

describe('proCurve', () => {
  it('starts at (0, 0), has one point per distinct score with ties merged, and ends at (1, 1)', () => {
    const { fpr, pro } = proCurve(twoRegions);
    expect(Array.from(fpr)).toEqual([0, 0, 0.25, 0.5, 0.75, 1, 1]);
    expect(Array.from(pro)).toEqual([0, 0.5, 0.5, 1, 1, 1, 1]);
  });

  it('stops at the first point past maxFpr', () => {
    expect(Array.from(proCurve(twoRegions, 0.3).fpr)).toEqual([0, 0, 0.25, 0.5]);
  });

  it('weighs every region equally, whatever its size, across images of different sizes', () => {
    // Image 1 (3x3): a 2x2 region, two pixels at 0.9 and two at 0.1. Image 2 (3x1): one-pixel region at 0.5.
    // At 0.9 region 1 is half found: PRO = (1/2 + 0) / 2 = 1/4 (pixel-weighted would be 2/5).
    const { pro } = proCurve([
      image(
        [
          [0.9, 0.9, 0],
          [0.1, 0.1, 0],
          [0, 0, 0],
        ],
        [
          [1, 1, 0],
          [1, 1, 0],
          [0, 0, 0],
        ],
      ),
      image([[0, 0.5, 0]], [[0, 1, 0]]),
    ]);
    expect(Array.from(pro)).toEqual([0, 0.25, 0.75, 1, 1, 1]);
  });

  it('counts two defect pixels touching at a corner as one region', () => {
    // Diagonal pair (0.9 and 0.1) + a distant single pixel (0.8): 2 regions, so PRO at 0.9 is 1/4
    // (with 4-connectivity it would be 3 regions and 1/3).
    const { pro } = proCurve([
      image(
        [
          [0.9, 0, 0, 0, 0],
          [0, 0.1, 0, 0, 0],
          [0, 0, 0, 0, 0.8],
        ],
        [
          [1, 0, 0, 0, 0],
          [0, 1, 0, 0, 0],
          [0, 0, 0, 0, 1],
        ],
      ),
    ]);
    expect(Array.from(pro)).toEqual([0, 0.25, 0.75, 1, 1, 1]);
  });
});

describe('aupro', () => {
  it('interpolates PRO linearly when the limit falls between two curve points', () => {
    // Area up to FPR 1/4: 1/4 * 1/2 = 0.125. The segment (1/4, 1/2) -> (1/2, 1) gives PRO 0.6 at 0.3,
    // adding 0.05 * (0.5 + 0.6) / 2 = 0.0275. (0.125 + 0.0275) / 0.3 = 61/120.
    expect(aupro(twoRegions)).toBeCloseTo(61 / 120, 15);
  });

  it('needs no interpolation when the limit is a curve point, and integrates the whole curve at limit 1', () => {
    expect(aupro(twoRegions, 0.25)).toBeCloseTo(0.125 / 0.25, 15);
    // 0.125 + 1/4 * (1/2 + 1) / 2 + 1/4 + 1/4 = 0.8125
    expect(aupro(twoRegions, 1)).toBeCloseTo(0.8125, 15);
  });

  it('is 1 when every defect pixel outscores every normal pixel', () => {
    expect(aupro([image([[0.1, 0.2, 0.9, 0.3]], [[0, 0, 1, 1]])])).toBeCloseTo(1, 15);
  });

  it('is 0 when every defect pixel scores below 70% of the normal pixels', () => {
    const normal = image([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0]], [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    const defective = image([[0.25, 0.9]], [[1, 0]]);
    // Normal scores >= 0.3: 8 of 11 pixels sit above the region, so PRO stays 0 up to FPR 8/11 > 0.3.
    expect(aupro([normal, defective])).toBe(0);
  });

  it('is limit / 2 when all scores are equal: the curve is the diagonal (0, 0) -> (1, 1)', () => {
    // Area up to 0.3 = 0.3 * 0.3 / 2 = 0.045; / 0.3 = 0.15.
    expect(aupro([image([[0.5, 0.5, 0.5, 0.5]], [[1, 0, 0, 0]])])).toBeCloseTo(0.15, 15);
  });

  it('lets normal images with empty masks add FPR but no regions', () => {
    // Add a 4-pixel normal image whose scores are all 0.92 to twoRegions: negatives 8, so
    // 0.95 -> (0, 1/2); 0.92 -> (1/2, 1/2): PRO is 1/2 all the way to 0.3, area 0.15 / 0.3.
    const normal = image([[0.92, 0.92, 0.92, 0.92]], [[0, 0, 0, 0]]);
    expect(aupro([...twoRegions, normal])).toBeCloseTo(0.5, 15);
  });

  it('matches the MVTec AD compute_pro + trapezoid (numpy/scipy port) on random sparse masks', () => {
    // Six images of different sizes (one normal); ~12% of pixels defective, giving 137 regions with
    // 8-connectivity (177 with 4-connectivity); scores in 50 float32 levels, +0.25 inside defects.
    // Expected values: python3 + numpy + scipy.ndimage.label(structure=ones((3,3))) running the
    // evaluation package's compute_pro and trapezoid(x_max=limit) / limit on the same LCG data.
    const sizes: Array<[number, number]> = [[24, 16], [16, 24], [20, 20], [32, 8], [12, 12], [30, 10]];
    const next = lcg(7);
    const images = sizes.map(([width, height], index): ScoredMask => {
      const map = new Float32Array(width * height);
      const mask = new Uint8Array(width * height);
      for (let p = 0; p < map.length; p++) {
        const defect = next() < 0.12 && index !== 4;
        mask[p] = defect ? 1 : 0;
        map[p] = Math.floor(next() * 50) / 50 + (defect ? 0.25 : 0);
      }
      return { map, mask, width, height };
    });
    expect(aupro(images)).toBeCloseTo(0.44040339134540374, 13);
    expect(aupro(images, 0.05)).toBeCloseTo(0.3280694932928015, 13);
    expect(aupro(images, 1)).toBeCloseTo(0.74576160725331819, 13);
    expect(proCurve(images).fpr.length).toBe(102);
  });

  it('throws a RangeError when no image has a defect region', () => {
    expect(() => aupro([image([[0.1, 0.2]], [[0, 0]])])).toThrow(/no defect regions/);
    expect(() => aupro([])).toThrow(RangeError);
  });

  it('throws a RangeError when there is no normal pixel, a size mismatch, or a limit outside (0, 1]', () => {
    expect(() => aupro([image([[0.1, 0.2]], [[1, 1]])])).toThrow(/no normal pixels/);
    expect(() => aupro([{ map: new Float32Array(3), mask: new Uint8Array(4), width: 2, height: 2 }])).toThrow(
      RangeError,
    );
    expect(() => aupro(twoRegions, 0)).toThrow(RangeError);
    expect(() => aupro(twoRegions, 1.5)).toThrow(RangeError);
  });
});
