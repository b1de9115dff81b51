import { describe, expect, it } from 'vitest';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { approximateGreedyCoreset, startDistances, type CoresetOptions } from '../../src-main/methods/patchcore/coreset.ts';
import { fitPatchCore, PatchEmbedder } from '../../src-main/methods/patchcore/model.ts';
import { PATCHCORE_DEFAULTS } from '../../src-main/methods/patchcore/defaults.ts';
import { loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { matmul } from '../../src-main/engine/linalg.ts';
import { MemoryBankIndex } from '../../src-main/methods/patchcore/nn-search.ts';
import { Random } from '../../src-main/util/random.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

/** The official loop, written out: every selection recomputes every point's distance. */
function plainGreedyCoreset(points: Float32Array, dim: number, options: CoresetOptions): Int32Array {
  const n = points.length / dim;
  const minDist = startDistances(points, dim, options);
  const selected = new Int32Array(options.count);
  for (let it = 0; it < options.count; it++) {
    let x = 0;
    for (let p = 1; p < n; p++) if (minDist[p]! > minDist[x]!) x = p;
    selected[it] = x;
    for (let p = 0; p < n; p++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (points[p * dim + k]! - points[x * dim + k]!) ** 2;
      minDist[p] = Math.min(minDist[p]!, Math.sqrt(s));
    }
  }
  return selected;
}

// 128 px keeps the suite fast; the method is the same at 256.
const small = { height: 128, width: 128 };

describe('PatchCore on real metal-plate images (MPDD subset)', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  // the default fit, evaluated once and compared against by the tests below
  let plainRun: ReturnType<typeof evaluateDataset> | undefined;
  const plain = () => (plainRun ??= evaluateDataset(data, { method: 'patchcore', config: small, batchSize: 4 }));
  const scoreOf = async (path: string) => (await plain()).images.find((i) => i.path === path)!.score;

  it('separates defective plates from good ones and localises the defects', async () => {
    const r = await plain();
    expect(r.nTrain).toBe(10);
    expect(r.nTest).toBe(10);
    expect(r.imageAuroc).toBeGreaterThan(0.9);
    expect(r.pixelAuroc).toBeGreaterThan(0.9);
    expect(r.aupro).toBeGreaterThan(0.6);
    expect(r.model['memoryBank']).toEqual([Math.floor(10 * 16 * 16 * 0.1), 1024]);
  });

  it('fits with bounded memory: a training set larger than fitMemoryRows is streamed, its bank capped at half of them, its scores as good', async () => {
    const exact = await plain();
    // 10 images of 16 x 16 patches = 2560 rows; 1024 rows hold a pool of 512 and a chunk of 512 (two images),
    // each chunk leaving floor(512 * 512 / 2560) = 102 representatives: the bank is their 510 (under 25 % of 2560)
    const streamed = await evaluateDataset(data, { method: 'patchcore', config: { ...small, fitMemoryRows: 1024, coresetRatio: 0.25 }, batchSize: 1 });
    expect(streamed.model['memoryBank']).toEqual([510, 1024]);
    expect(streamed.imageAuroc).toBeGreaterThanOrEqual(exact.imageAuroc - 0.05);
    expect(streamed.pixelAuroc).toBeGreaterThan(exact.pixelAuroc - 0.01);
    expect(streamed.aupro).toBeGreaterThan(exact.aupro - 0.03);
    // below the bound nothing changes: the same bank and scores as an unbounded fit
    const roomy = await evaluateDataset(data, { method: 'patchcore', config: { ...small, fitMemoryRows: 10 * 16 * 16 }, batchSize: 2 });
    expect(roomy.images.map((i) => i.score)).toEqual(exact.images.map((i) => i.score));
  });

  it('leaves training patches under ignore regions out of the memory bank', async () => {
    const ds = scanMvtec(data);
    const config = { ...PATCHCORE_DEFAULTS, ...small, coresetRatio: 1 };
    const input = { ...small, filter: 'bilinear', resize: 'stretch' } as const;
    const loaded = (await loadBatches(ds.train.slice(0, 4), input, { batchSize: 4 }).next()).value!.batch;
    // the left half of every image is a fixture to ignore
    const ignore = new Uint8Array(4 * 128 * 128);
    for (let i = 0; i < ignore.length; i++) if (i % 128 < 64) ignore[i] = 1;
    async function* once(batch: typeof loaded) { yield batch; }
    const all = await fitPatchCore(once(loaded), 4, config);
    const kept = await fitPatchCore(once({ ...loaded, ignore }), 4, config);
    expect(all.describe()['trainPatches']).toBe(4 * 16 * 16);
    expect(kept.describe()['trainPatches']).toBe(4 * 16 * 8);
    expect(kept.describe()['memoryBank']).toEqual([4 * 16 * 8, 1024]);
  });

  it('is deterministic: the same seed gives the same scores', async () => {
    const again = await evaluateDataset(data, { method: 'patchcore', config: small, batchSize: 2, maxTest: 3 });
    expect(again.images).toHaveLength(3);
    for (const i of again.images) expect(i.score).toBe(await scoreOf(i.path));
  });

  it('approximate search keeps every image score exact and the pixel metrics within half a point', async () => {
    const exact = await plain();
    const approximate = await evaluateDataset(data, { method: 'patchcore', config: { ...small, search: 'approximate' }, batchSize: 4 });
    expect(approximate.images.map((i) => i.path)).toEqual(exact.images.map((i) => i.path));
    for (const [i, a] of approximate.images.entries()) expect(Math.abs(a.score - exact.images[i]!.score)).toBeLessThan(1e-5 * exact.images[i]!.score);
    expect(approximate.imageAuroc).toBe(exact.imageAuroc);
    expect(Math.abs(approximate.pixelAuroc - exact.pixelAuroc)).toBeLessThan(0.005);
    expect(Math.abs(approximate.aupro - exact.aupro)).toBeLessThan(0.005);
  });

  it('refuses a search that is neither exact nor approximate', async () => {
    await expect(evaluateDataset(data, { method: 'patchcore', config: { ...small, search: 'fast' }, maxTest: 1 })).rejects.toThrow(/search must be 'exact' or 'approximate'/);
  });

  it('re-weighting and k-NN averaging give finite, different image scores', async () => {
    const weighted = await evaluateDataset(data, { method: 'patchcore', config: { ...small, numNeighbours: 3, reweightNeighbours: 9 }, maxTest: 3 });
    for (const w of weighted.images) {
      expect(Number.isFinite(w.score)).toBe(true);
      expect(w.score).not.toBe(await scoreOf(w.path));
    }
  });
});

describe('coreset and nearest-neighbour search on real patch features', () => {
  it('the pruned greedy coreset selects exactly what the plain greedy loop selects', async () => {
    const ds = scanMvtec(sharedDataset('mpdd_metal_plate'));
    const embedder = await PatchEmbedder.open({ ...PATCHCORE_DEFAULTS, ...small });
    const loaded = await loadBatches(ds.train.slice(0, 6), { ...small, filter: 'bilinear', resize: 'stretch' }, { batchSize: 6 }).next();
    const { features } = await embedder.embed(loaded.value!.batch);
    const rows = features.length / 1024;
    const rng = new Random(0);
    const proj = Float32Array.from({ length: 1024 * 128 }, () => rng.uniform(-1 / 32, 1 / 32));
    const projected = (await matmul(features, [rows, 1024], proj, [1024, 128])).data;
    const pick = (n: number, k: number) => new Random(3).sample(n, k);
    const fast = await approximateGreedyCoreset(projected, 128, { count: 150, pick, blockSize: 32 });
    const plain = plainGreedyCoreset(projected, 128, { count: 150, pick });
    expect(Array.from(fast)).toEqual(Array.from(plain));
  });

  it('the batched search returns the exact nearest memory entry and its squared distance', async () => {
    const rng = new Random(11);
    const dim = 64;
    const bank = Float32Array.from({ length: 500 * dim }, () => rng.normal());
    const queries = Float32Array.from({ length: 40 * dim }, () => rng.normal());
    const nn = await new MemoryBankIndex(bank, dim).search(queries, 3);
    for (let q = 0; q < 40; q++) {
      const d = Array.from({ length: 500 }, (_, m) => {
        let s = 0;
        for (let k = 0; k < dim; k++) s += (queries[q * dim + k]! - bank[m * dim + k]!) ** 2;
        return [s, m] as const;
      }).sort((a, b) => a[0] - b[0]);
      expect(nn.indices[q * 3]).toBe(d[0]![1]);
      expect(nn.distances[q * 3]).toBeCloseTo(d[0]![0], 2);
      expect(nn.distances[q * 3 + 2]).toBeCloseTo(d[2]![0], 2);
    }
  });

  it('the approximate search of a narrow bank (fewer principal directions than it ranks by) uses all of them', async () => {
    const rng = new Random(12);
    const dim = 32;
    const bank = Float32Array.from({ length: 400 * dim }, () => rng.normal());
    const queries = Float32Array.from({ length: 20 * dim }, () => rng.normal());
    const index = await MemoryBankIndex.withPruning(bank, dim);
    const [approximate, exact] = [await index.searchApproximate(queries, 1), await index.search(queries, 1)];
    // ranked over every direction, the bound is the distance itself: the exact neighbour is always a candidate
    expect(Array.from(approximate.indices)).toEqual(Array.from(exact.indices));
    for (let q = 0; q < 20; q++) expect(approximate.distances[q]!).toBeCloseTo(exact.distances[q]!, 3);
  });

  /** Patch features of 8 good MPDD plates (a bank) and of 2 defective ones (queries), at 128 px. */
  async function realPatchFeatures(): Promise<{ bank: Float32Array; queries: Float32Array }> {
    const ds = scanMvtec(sharedDataset('mpdd_metal_plate'));
    const embedder = await PatchEmbedder.open({ ...PATCHCORE_DEFAULTS, ...small });
    const input = { ...small, filter: 'bilinear', resize: 'stretch' } as const;
    const train = await loadBatches(ds.train.slice(0, 8), input, { batchSize: 8 }).next();
    const test = await loadBatches(ds.test.filter((t) => t.defective).slice(0, 2), input, { batchSize: 2 }).next();
    return { bank: (await embedder.embed(train.value!.batch)).features, queries: (await embedder.embed(test.value!.batch)).features };
  }

  it('the certified pruned search returns the same neighbours as brute force on real features', async () => {
    const { bank, queries } = await realPatchFeatures();
    // a small candidate list forces some queries through the brute-force fallback too
    const pruned = await MemoryBankIndex.withPruning(bank, 1024, { rank: 64, candidates: 4 });
    const brute = new MemoryBankIndex(bank, 1024);
    const [a, b] = [await pruned.search(queries, 2), await brute.search(queries, 2)];
    expect(pruned.stats.fallbacks).toBeGreaterThan(0);
    expect(pruned.stats.fallbacks).toBeLessThan(pruned.stats.queries);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    for (let i = 0; i < a.distances.length; i++) expect(a.distances[i]).toBeCloseTo(b.distances[i]!, 1);
  });

  it('the approximate search returns true distances to the rows it names, never below the exact ones, and mostly the exact neighbour', async () => {
    const { bank, queries } = await realPatchFeatures();
    const index = await MemoryBankIndex.withPruning(bank, 1024);
    const [approximate, exact] = [await index.searchApproximate(queries, 1), await index.search(queries, 1)];
    let same = 0;
    for (let q = 0; q < exact.indices.length; q++) {
      const row = approximate.indices[q]!;
      let d = 0;
      for (let c = 0; c < 1024; c++) d += (queries[q * 1024 + c]! - bank[row * 1024 + c]!) ** 2;
      expect(approximate.distances[q]).toBeCloseTo(d, 2);
      expect(approximate.distances[q]!).toBeGreaterThanOrEqual(exact.distances[q]! - 1e-3);
      if (row === exact.indices[q]) same++;
    }
    expect(same / exact.indices.length).toBeGreaterThan(0.8);
  });

  it('the approximate search of a large bank (a tiled model\'s) goes through inverted lists: true distances, never below the exact ones, k best in order, mostly the exact neighbours', async () => {
    const { bank: base, queries } = await realPatchFeatures();
    // 16 jittered copies of 8 plates' patches: 32,768 rows, the size from which the lists are used
    const rng = new Random(4);
    const bank = new Float32Array(base.length * 16);
    for (let i = 0; i < bank.length; i++) bank[i] = base[i % base.length]! * (1 + 0.05 * rng.normal());
    const index = await MemoryBankIndex.withPruning(bank, 1024);
    expect(index.size).toBe(32_768);
    const approximate = await index.searchApproximate(queries, 3);
    expect(index.stats.listed).toBe(queries.length / 1024);
    expect(index.stats.fallbacks).toBe(0); // every query's lists held its 3 neighbours: nothing searched exactly
    const exact = await index.search(queries, 3);
    let same = 0;
    for (let q = 0; q < queries.length / 1024; q++) {
      for (let j = 0; j < 3; j++) {
        const row = approximate.indices[q * 3 + j]!;
        let d = 0;
        for (let c = 0; c < 1024; c++) d += (queries[q * 1024 + c]! - bank[row * 1024 + c]!) ** 2;
        expect(approximate.distances[q * 3 + j]).toBeCloseTo(d, 1);
        // float32 products of different shapes: equal up to rounding
        expect(approximate.distances[q * 3 + j]!).toBeGreaterThanOrEqual(exact.distances[q * 3 + j]! * (1 - 1e-5) - 1e-3);
        if (j > 0) expect(approximate.distances[q * 3 + j]!).toBeGreaterThanOrEqual(approximate.distances[q * 3 + j - 1]!);
      }
      if (approximate.indices[q * 3] === exact.indices[q * 3]) same++;
    }
    expect(same / (queries.length / 1024)).toBeGreaterThan(0.9);
  });
});
