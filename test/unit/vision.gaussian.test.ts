import { describe, expect, it } from 'vitest';
import { gaussianFilter, gaussianKernel1d } from '../../src-main/vision/index.ts';

/**
 * Expected values: python3 + scipy 1.17.1
 *
 *   import numpy as np
 *   from scipy.ndimage import gaussian_filter
 *   m = np.array([[((x * 37 + y * 101 + x * y * 7) % 29) / 28 for x in range(9)] for y in range(7)])  # 7 rows, 9 cols
 *   gaussian_filter(m, sigma=1.5).round(10)
 *   gaussian_filter(m, sigma=4).round(10)                      # radius 16 > 9 and 7: repeated reflection
 *   small = np.array([[0.0, 1.0, 0.25], [0.5, 0.0, 2.0]])
 *   gaussian_filter(small, sigma=2).round(10)                  # radius 8 on a 3x2 map
 *   gaussian_filter(small, sigma=1, truncate=2).round(10)
 *   gaussian_filter(np.array([[1.0, 0.0, 0.0, 3.0, 0.0]]), sigma=3).round(10)
 */
const W = 9;
const H = 7;
const MAP = Float32Array.from({ length: W * H }, (_, i) => {
  const x = i % W;
  const y = Math.floor(i / W);
  return ((x * 37 + y * 101 + x * y * 7) % 29) / 28;
});
const SMALL = Float32Array.from([0.0, 1.0, 0.25, 0.5, 0.0, 2.0]); // 3 wide, 2 high

function expectClose(actual: Float32Array, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol) throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

describe('gaussianFilter (scipy.ndimage.gaussian_filter, mode reflect)', () => {
  it('matches scipy with sigma 1.5 on a 9x7 map', () => {
    expectClose(gaussianFilter(MAP, W, H, 1.5), [0.3502046554, 0.375614235, 0.4033120591, 0.4105629505, 0.4111513325, 0.433765734, 0.4655697272, 0.4706776238, 0.4549474788, 0.4233436635, 0.4235944517, 0.4205547458, 0.4111950504, 0.4092458016, 0.4284701319, 0.4506612124, 0.4492855727, 0.4338485166, 0.512144156, 0.4870287087, 0.454910813, 0.431622938, 0.4264172759, 0.4379226387, 0.4486221411, 0.4442171594, 0.433340354, 0.569969637, 0.5354122888, 0.4964027327, 0.47424794, 0.4678182125, 0.4695153127, 0.4742635998, 0.4779187221, 0.4788375005, 0.6031024857, 0.5671845368, 0.5304725964, 0.5151509062, 0.5112700642, 0.5086838009, 0.5151552886, 0.5325045078, 0.5466263344, 0.6325347867, 0.5906811965, 0.546993397, 0.5315086537, 0.533705604, 0.5373695295, 0.5518181231, 0.5804350599, 0.602688932, 0.654737108, 0.6043967186, 0.5489446512, 0.5287288978, 0.5366976332, 0.5497413126, 0.572444565, 0.6077041954, 0.6335306123]);
  });

  it('matches scipy with sigma 4 when the radius (16) exceeds both sides of the map', () => {
    expectClose(gaussianFilter(MAP, W, H, 4), [0.4761789844, 0.4759163133, 0.4755375323, 0.4752578671, 0.4752622643, 0.4756050141, 0.4761823899, 0.4767787546, 0.4771532989, 0.4808229028, 0.4804901056, 0.4799864375, 0.4795532597, 0.4794035597, 0.4796141342, 0.4800930818, 0.4806272901, 0.4809722787, 0.4891734717, 0.4887169575, 0.4879932162, 0.4872900959, 0.4868703018, 0.4868502699, 0.4871585006, 0.4875856367, 0.4878799894, 0.4995601144, 0.4989538934, 0.4979642528, 0.496935906, 0.4961921123, 0.4958971735, 0.496003529, 0.4963052528, 0.4965407498, 0.5099172271, 0.509166435, 0.5079205145, 0.506579839, 0.505526626, 0.504971274, 0.5048884296, 0.5050741164, 0.5052557312, 0.5181979755, 0.5173350302, 0.51589068, 0.5143090512, 0.5130184705, 0.5122649984, 0.5120398086, 0.5121393852, 0.5122814761, 0.5227876572, 0.5218636355, 0.5203113377, 0.518598889, 0.5171798348, 0.5163196282, 0.5160182338, 0.5160720762, 0.5161933178]);
  });

  it('matches scipy on a 3x2 map much smaller than the kernel (reflected repeatedly)', () => {
    expectClose(gaussianFilter(SMALL, 3, 2, 2), [0.5749474637, 0.6234846089, 0.6720719958, 0.5774438396, 0.6264804733, 0.6755716187]);
  });

  it('honours truncate: radius = int(truncate * sigma + 0.5)', () => {
    expectClose(gaussianFilter(SMALL, 3, 2, 1, 2), [0.3547204196, 0.5724503165, 0.7643026528, 0.3899797917, 0.6515672034, 1.016979616]);
    expect(gaussianKernel1d(4).length).toBe(33);
    expect(gaussianKernel1d(1, 2).length).toBe(5);
    expect(gaussianKernel1d(0.7).length).toBe(7); // int(3.3) = 3
  });

  it('filters a single-row map along x only', () => {
    expectClose(gaussianFilter(Float32Array.from([1, 0, 0, 3, 0]), 5, 1, 3), [0.7476556259, 0.7677116348, 0.8000425976, 0.8323076515, 0.8522824902]);
  });

  it('uses normalised weights, so a constant map stays constant, borders included', () => {
    const flat = new Float32Array(40 * 30).fill(0.7);
    for (const v of gaussianFilter(flat, 40, 30, 4)) expect(v).toBeCloseTo(0.7, 6);
    let sum = 0;
    for (const w of gaussianKernel1d(4)) sum += w;
    expect(sum).toBeCloseTo(1, 12);
  });

  it('returns an unchanged copy for sigma 0 and rejects bad arguments', () => {
    const out = gaussianFilter(MAP, W, H, 0);
    expect(Array.from(out)).toEqual(Array.from(MAP));
    expect(out).not.toBe(MAP);
    expect(() => gaussianFilter(MAP, W, H + 1, 1)).toThrow(RangeError);
    expect(() => gaussianFilter(MAP, W, H, -1)).toThrow(RangeError);
    expect(() => gaussianFilter(MAP, W, H, Number.NaN)).toThrow(RangeError);
  });
});
