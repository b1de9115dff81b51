import { describe, expect, it } from 'vitest';
import { clusterRows, listCount, nearestCentres } from '../../src-main/methods/patchcore/inverted-lists.ts';
import { Random } from '../../src-main/util/random.ts';

describe('inverted lists', () => {
  /** `perBlob` points around each of `centres`, blob by blob interleaved (row i belongs to blob i % blobs). */
  function blobs(centres: number[][], perBlob: number, spread: number, seed = 5): Float32Array {
    const rng = new Random(seed);
    const rank = centres[0]!.length;
    const out = new Float32Array(centres.length * perBlob * rank);
    for (let i = 0; i < centres.length * perBlob; i++) for (let j = 0; j < rank; j++) out[i * rank + j] = centres[i % centres.length]![j]! + spread * rng.normal();
    return out;
  }

  it('clusters every row into exactly one list, each list in ascending row order, and finds well-separated groups', async () => {
    const centres = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]];
    const points = blobs(centres, 50, 0.5);
    const lists = await clusterRows(points, 3, 4);
    expect(lists.offsets.length).toBe(5);
    expect(lists.offsets[4]).toBe(200);
    expect(Array.from(lists.order).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (let l = 0; l < 4; l++) {
      const rows = Array.from(lists.order.subarray(lists.offsets[l]!, lists.offsets[l + 1]!));
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
      // the rows of a list all come from one blob, and each blob is one list
      expect(rows.length).toBe(50);
      expect(new Set(rows.map((r) => r % 4)).size).toBe(1);
    }
  });

  it('moves its centroids to the groups: two groups stay apart when both starting rows lie in the first', async () => {
    const rng = new Random(2);
    // rows 0-19 around 0, rows 20-39 around 10 (1-D): the first two rows, the starting centroids, are both near 0
    const points = Float32Array.from({ length: 40 }, (_, i) => (i < 20 ? 0 : 10) + 0.5 * rng.normal());
    const lists = await clusterRows(points, 1, 2);
    const groups = [0, 1].map((l) => Array.from(lists.order.subarray(lists.offsets[l]!, lists.offsets[l + 1]!)).map((r) => (r < 20 ? 'low' : 'high')));
    expect(groups.map((g) => g.length)).toEqual([20, 20]);
    for (const g of groups) expect(new Set(g).size).toBe(1);
  });

  it('is deterministic: the same rows give the same lists', async () => {
    const points = blobs([[0, 0], [3, 1], [1, 4]], 40, 1.5, 9);
    const [a, b] = [await clusterRows(points, 2, 6), await clusterRows(points, 2, 6)];
    expect(Array.from(a.order)).toEqual(Array.from(b.order));
    expect(Array.from(a.offsets)).toEqual(Array.from(b.offsets));
  });

  it('routes a point to its nearest centroids, nearest first', async () => {
    const centroids = Float32Array.from([0, 0, 10, 0, 0, 10, 4, 4]);
    const routed = await nearestCentres(Float32Array.from([9, 1, 3, 3.5]), 2, centroids, 2);
    expect(Array.from(routed)).toEqual([1, 3, 3, 0]);
  });

  it('sizes the lists at about two per square root of the bank rows', () => {
    expect(listCount(131_072)).toBe(724);
    expect(listCount(3)).toBe(3);
    expect(listCount(1)).toBe(1);
  });
});
