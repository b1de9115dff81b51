import { describe, expect, it } from 'vitest';
import { fitMixture, mixtureDistance, whiteningFactors } from '../../src-main/refine/prior.ts';
import { fitPrior } from '../../src-main/refine/refine.ts';
import { Random } from '../../src-main/util/random.ts';

function twoClusters(n: number): Float64Array {
  const rng = new Random(5);
  const out = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const centre = i % 3 === 0 ? [0.2, 0.3, 0.25] : [0.8, 0.7, 0.6];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = centre[c]! + 0.03 * rng.normal();
  }
  return out;
}

describe('MoG pixel prior (EM)', () => {
  it('never decreases the log-likelihood across EM iterations', () => {
    const prior = fitMixture(twoClusters(3000), { k: 3, iterations: 40, tolerance: -Infinity });
    const ll = prior.logLikelihood;
    expect(ll.length).toBe(40);
    for (let i = 1; i < ll.length; i++) expect(ll[i]!).toBeGreaterThanOrEqual(ll[i - 1]! - 1e-7);
    expect(ll.at(-1)! - ll[0]!).toBeGreaterThan(0.1);
  });

  it('recovers two well separated clusters, their weights and spreads', () => {
    const prior = fitMixture(twoClusters(3000), { k: 2 });
    const comps = [0, 1].map((j) => ({ mean: Array.from(prior.means.subarray(j * 3, j * 3 + 3)), w: prior.weights[j]!, varR: prior.covariances[j * 9]! }));
    comps.sort((a, b) => a.mean[0]! - b.mean[0]!);
    [[0.2, 0.3, 0.25], [0.8, 0.7, 0.6]].forEach((m, j) => m.forEach((v, c) => expect(Math.abs(comps[j]!.mean[c]! - v)).toBeLessThan(0.005)));
    expect(comps[0]!.w).toBeCloseTo(1 / 3, 1);
    expect(Math.sqrt(comps[0]!.varR)).toBeCloseTo(0.03, 2);
    // R_MOG: small at a cluster centre, large between clusters; the whitening factor agrees with Σ⁻¹
    expect(mixtureDistance(prior, [0.8, 0.7, 0.6])).toBeLessThan(0.1);
    expect(mixtureDistance(prior, [0.5, 0.5, 0.45])).toBeGreaterThan(50);
    const P = whiteningFactors(prior);
    const y = [0.75, 0.72, 0.61];
    const j = comps[1]!.mean === Array.from(prior.means.subarray(0, 3)) ? 0 : prior.means[0]! > 0.5 ? 0 : 1;
    const d = [0, 1, 2].map((c) => y[c]! - prior.means[j * 3 + c]!);
    const z = [0, 1, 2].map((r) => d.reduce((s, v, c) => s + P[j * 9 + r * 3 + c]! * v, 0));
    expect(z.reduce((s, v) => s + v * v, 0)).toBeCloseTo(mixtureDistance(prior, y as [number, number, number]), 3);
  });

  it('draws its pixels from the picture only, never from a letterbox\'s padding', () => {
    // a 40x20 picture of one colour in the top-left of a 40x40 canvas padded with black
    const [width, height] = [40, 40];
    const data = new Float32Array(3 * width * height);
    const colour = [0.6, 0.5, 0.4];
    for (let c = 0; c < 3; c++) for (let y = 0; y < 20; y++) data.fill(colour[c]!, c * width * height + y * width, c * width * height + y * width + 40);
    const image = { data, width, height };
    const inPicture = fitPrior([{ ...image, content: { width: 40, height: 20 } }], 2, 2000, 0);
    for (let j = 0; j < 2; j++) colour.forEach((v, c) => expect(inPicture.means[j * 3 + c]!).toBeCloseTo(v, 3));
    // without the content box half of the pixels are the padding's black
    const whole = fitPrior([image], 2, 2000, 0);
    expect(Math.min(...[0, 1].map((j) => whole.means[j * 3]!))).toBeLessThan(0.1);
  });
});
