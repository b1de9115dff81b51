import { describe, expect, it } from 'vitest';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { gaussiansFromMoments, whiteningFactor } from '../../src-main/methods/padim/covariance.ts';
import { gaussiansFromMomentsParallel, sharedFloat64 } from '../../src-main/methods/padim/covariance-parallel.ts';
import { Random } from '../../src-main/util/random.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

describe('PaDiM on real metal-plate images (MPDD subset)', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 12, testGood: 4, testDefect: 6 });

  it('fits per-position Gaussians and localises defects', async () => {
    const r = await evaluateDataset(data, { method: 'padim', config: { height: 128, width: 128 }, batchSize: 4 });
    expect(r.nTrain).toBe(12);
    expect(r.model['grid']).toEqual([32, 32]);
    expect((r.model['channelIndices'] as number[]).length).toBe(100);
    expect(r.pixelAuroc).toBeGreaterThan(0.85);
    expect(Number.isFinite(r.imageAuroc)).toBe(true);
  });
});

describe('PaDiM covariance', () => {
  it('whitens a symmetric positive-definite matrix: Wᵀ·A·W = I, so ‖xᵀW‖² = xᵀA⁻¹x', () => {
    const a = Float64Array.from([4, 2, 0.6, 2, 5, 1, 0.6, 1, 3]);
    const w = new Float32Array(9);
    whiteningFactor(a, 3, w, 0);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) for (let l = 0; l < 3; l++) s += w[k * 3 + i]! * a[k * 3 + l]! * w[l * 3 + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 5);
      }
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => whiteningFactor(Float64Array.from([1, 2, 2, 1]), 2, new Float32Array(4), 0)).toThrow(/not positive definite/);
  });

  it('streamed shifted moments give the unbiased covariance plus epsilon', () => {
    // one position, d = 2, samples (1,2), (3,5), (2,2); shift = first sample
    const xs = [[1, 2], [3, 5], [2, 2]];
    const shift = Float32Array.from([1, 2]);
    const sum = new Float64Array(2);
    const cross = new Float64Array(4);
    for (const x of xs) {
      const y = [x[0]! - 1, x[1]! - 2];
      sum[0]! += y[0]!;
      sum[1]! += y[1]!;
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) cross[i * 2 + j]! += y[i]! * y[j]!;
    }
    const { mean, whitening: w } = gaussiansFromMoments({ sum, cross, shift, counts: Float64Array.of(3), d: 2 }, 0.01);
    expect(Array.from(mean)).toEqual([2, 3]);
    // covariance [[1, 1.5], [1.5, 3]] + 0.01·I; its inverse is W·Wᵀ:
    const [a, b, c] = [1.01, 1.5, 3.01];
    const det = a * c - b * b;
    const inv = (i: number, j: number) => w[i * 2]! * w[j * 2]! + w[i * 2 + 1]! * w[j * 2 + 1]!;
    expect(inv(0, 0)).toBeCloseTo(c / det, 4);
    expect(inv(0, 1)).toBeCloseTo(-b / det, 4);
    expect(inv(1, 1)).toBeCloseTo(a / det, 4);
  });

  it('refuses a fit on fewer than two images', () => {
    expect(() => gaussiansFromMoments({ sum: new Float64Array(1), cross: new Float64Array(1), shift: new Float32Array(1), counts: Float64Array.of(1), d: 1 }, 0.01)).toThrow(RangeError);
  });
});

describe('PaDiM covariance on worker threads', () => {
  it('gives exactly the single-thread result, computed by more than one thread', async () => {
    const d = 6;
    const P = 40;
    const rng = new Random(5);
    const sum = sharedFloat64(P * d);
    const cross = sharedFloat64(P * d * d);
    const shift = Float32Array.from({ length: P * d }, () => rng.next());
    const n = 10;
    for (let p = 0; p < P; p++) {
      const ys = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
      for (const y of ys) for (let i = 0; i < d; i++) {
        sum[p * d + i]! += y[i]!;
        for (let j = 0; j < d; j++) cross[(p * d + i) * d + j]! += y[i]! * y[j]!;
      }
    }
    const moments = { sum, cross, shift, counts: new Float64Array(P).fill(n), d };
    const serial = gaussiansFromMoments(moments, 0.01);
    const { stats, threads } = await gaussiansFromMomentsParallel(moments, 0.01);
    expect(threads).toBeGreaterThan(1);
    expect(Array.from(stats.mean)).toEqual(Array.from(serial.mean));
    expect(Array.from(stats.whitening)).toEqual(Array.from(serial.whitening));
  });
});
