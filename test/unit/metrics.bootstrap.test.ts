import { describe, expect, it } from 'vitest';
import { aupro, auroc, binnedPixelMetrics, bootstrapIntervals, f1Max, pooledPixels, type ScoredMask } from '../../src-main/metrics/index.ts';
import { Random } from '../../src-main/util/random.ts';

/** n images of 32×32: defective ones have a square region whose scores run higher than the rest. */
function images(n: number, seed: number): { maps: ScoredMask[]; scores: Float64Array; labels: Uint8Array } {
  const rng = new Random(seed);
  const maps: ScoredMask[] = [];
  const scores = new Float64Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const defective = i % 3 === 0;
    const map = Float32Array.from({ length: 32 * 32 }, () => rng.normal());
    const mask = new Uint8Array(32 * 32);
    if (defective) {
      const [x0, y0] = [Math.floor(rng.next() * 24), Math.floor(rng.next() * 24)];
      for (let y = y0; y < y0 + 6; y++) for (let x = x0; x < x0 + 6; x++) { mask[y * 32 + x] = 1; map[y * 32 + x]! += 1.5 + rng.next(); }
    }
    maps.push({ map, mask, width: 32, height: 32 });
    scores[i] = Math.max(...map);
    labels[i] = defective ? 1 : 0;
  }
  return { maps, scores, labels };
}

describe('bootstrap confidence intervals', () => {
  it('binning the pixel scores moves pixel AUROC, pixel F1-max and AUPRO by well under a point', () => {
    const { maps } = images(30, 1);
    const { scores, labels } = pooledPixels(maps);
    const binned = binnedPixelMetrics(maps);
    expect(Math.abs(binned.auroc - auroc(scores, labels))).toBeLessThan(0.002);
    expect(Math.abs(binned.f1 - f1Max(scores, labels).f1)).toBeLessThan(0.005);
    expect(Math.abs(binned.aupro - aupro(maps))).toBeLessThan(0.005);
  });

  it('each 95 % interval holds its metric, is reproducible from the seed, and narrows with more images', () => {
    const small = images(24, 2);
    const a = bootstrapIntervals({ scores: small.scores, labels: small.labels }, small.maps, { resamples: 300, seed: 7 });
    const { scores, labels } = pooledPixels(small.maps);
    const point = { imageAuroc: auroc(small.scores, small.labels), imageF1: f1Max(small.scores, small.labels).f1, pixelAuroc: auroc(scores, labels), aupro: aupro(small.maps) };
    for (const [key, value] of Object.entries(point)) {
      const i = a[key as keyof typeof point]!;
      expect(i.low, key).toBeLessThanOrEqual(value + 1e-9);
      expect(i.high, key).toBeGreaterThanOrEqual(value - 0.005);
    }
    expect(a.pixelF1!.low).toBeLessThan(a.pixelF1!.high);
    expect(bootstrapIntervals({ scores: small.scores, labels: small.labels }, small.maps, { resamples: 300, seed: 7 })).toEqual(a);
    const large = images(96, 3);
    const b = bootstrapIntervals({ scores: large.scores, labels: large.labels }, large.maps, { resamples: 300, seed: 7 });
    expect(b.aupro!.high - b.aupro!.low).toBeLessThan(a.aupro!.high - a.aupro!.low);
    expect(b.pixelAuroc!.high - b.pixelAuroc!.low).toBeLessThan(a.pixelAuroc!.high - a.pixelAuroc!.low);
  });

  it('has no interval where a metric is undefined: one class of images, or no defect pixels', () => {
    const { maps, scores } = images(6, 4);
    const good = maps.map((m) => ({ ...m, mask: new Uint8Array(m.mask.length) }));
    const r = bootstrapIntervals({ scores, labels: new Uint8Array(6) }, good, { resamples: 50 });
    expect([r.imageAuroc, r.imageF1, r.pixelAuroc, r.pixelF1, r.aupro]).toEqual([null, null, null, null, null]);
  });
});
