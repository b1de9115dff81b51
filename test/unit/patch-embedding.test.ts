import { describe, expect, it } from 'vitest';
import { adaptivePoolWindows, buildPatchEmbeddingGraph, foldedTapConvolutions, sparseTapConvolution } from '../../src-main/features/patch-embedding.ts';
import { f32, openSession } from '../../src-main/engine/session.ts';
import { Random } from '../../src-main/util/random.ts';
import { alignmentFeeds, alignmentMatrix } from '../../src-main/features/tap-alignment.ts';

/** The official pipeline written out step by step: unfold, upsample per slot, pool per tap, pool the concatenation. */
function naiveEmbedding(taps: { c: number; h: number; w: number; data: Float32Array }[], p: number, P: number, T: number): Float32Array {
  const H = taps[0]!.h;
  const W = taps[0]!.w;
  const pad = (p - 1) / 2;
  const pool = (v: Float64Array, out: number) =>
    adaptivePoolWindows(v.length, out).map(([a, b]) => {
      let s = 0;
      for (let i = a; i < b; i++) s += v[i]!;
      return s / (b - a);
    });
  const perTap = taps.map((t) => {
    // unfold at the tap's own resolution: [h, w, c·p·p]
    const L = t.c * p * p;
    const unf = new Float64Array(t.h * t.w * L);
    for (let y = 0; y < t.h; y++)
      for (let x = 0; x < t.w; x++)
        for (let c = 0; c < t.c; c++)
          for (let r = 0; r < p; r++)
            for (let s = 0; s < p; s++) {
              const yy = y + r - pad;
              const xx = x + s - pad;
              const v = yy < 0 || xx < 0 || yy >= t.h || xx >= t.w ? 0 : t.data[(c * t.h + yy) * t.w + xx]!;
              unf[(y * t.w + x) * L + c * p * p + r * p + s] = v;
            }
    // bilinear, align_corners=False, per slot, to the first tap's grid
    const up = new Float64Array(H * W * L);
    const src = (d: number, nin: number, nout: number) => {
      const s = Math.max((d + 0.5) * (nin / nout) - 0.5, 0);
      const i0 = Math.floor(s);
      return [i0, Math.min(i0 + 1, nin - 1), s - i0] as const;
    };
    for (let y = 0; y < H; y++) {
      const [y0, y1, ly] = src(y, t.h, H);
      for (let x = 0; x < W; x++) {
        const [x0, x1, lx] = src(x, t.w, W);
        for (let u = 0; u < L; u++) {
          const v = (a: number, b: number) => unf[(a * t.w + b) * L + u]!;
          up[(y * W + x) * L + u] = (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) + ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
        }
      }
    }
    return { up, L };
  });
  const out = new Float32Array(H * W * T);
  for (let q = 0; q < H * W; q++) {
    const cat = new Float64Array(taps.length * P);
    perTap.forEach(({ up, L }, l) => cat.set(pool(up.subarray(q * L, (q + 1) * L), P), l * P));
    out.set(pool(cat, T), q * T);
  }
  return out;
}

describe('patch embedding graph', () => {
  it('adaptive pooling windows overlap like PyTorch when the ratio is not an integer', () => {
    expect(adaptivePoolWindows(5, 3)).toEqual([[0, 2], [1, 4], [3, 5]]);
    expect(adaptivePoolWindows(4, 2)).toEqual([[0, 2], [2, 4]]);
  });

  it('equals unfold, per-slot bilinear upsampling and two adaptive poolings, for uneven ratios', async () => {
    const rnd = new Random(7);
    const taps = [
      { name: 'a', channels: 5, stride: 8, h: 6, w: 4 },
      { name: 'b', channels: 7, stride: 16, h: 3, w: 2 },
    ].map((t) => ({ ...t, data: Float32Array.from({ length: t.channels * t.h * t.w }, () => rnd.next()) }));
    const [p, P, T] = [3, 11, 9];
    const session = await openSession(buildPatchEmbeddingGraph(taps, { patchSize: p, pretrainDim: P, targetDim: T }), 'cpu');
    const feeds = Object.fromEntries(taps.map((t) => [t.name, f32(t.data, [1, t.channels, t.h, t.w])]));
    const align = alignmentFeeds(taps.map((t) => ({ ...t, offset: { x: 2.5, y: 1 } })), 6 * 8, 4 * 8, 'bilinear', false);
    const out = await session.run({ ...feeds, ...align });
    const got = out['embedding']!;
    expect(got.dims).toEqual([1, 24, T]);
    const want = naiveEmbedding(taps.map((t) => ({ c: t.channels, h: t.h, w: t.w, data: t.data })), p, P, T);
    const g = got.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(g[i]).toBeCloseTo(want[i]!, 5);
  });

  it('gives the same values when each target row reads only a few channels (gathered, convolved depthwise)', async () => {
    const rnd = new Random(9);
    const taps = [
      { name: 'a', channels: 40, stride: 8, h: 4, w: 4 },
      { name: 'b', channels: 48, stride: 16, h: 2, w: 2 },
    ].map((t) => ({ ...t, data: Float32Array.from({ length: t.channels * t.h * t.w }, () => rnd.next()) }));
    const [p, P] = [3, 64];
    // 32 target rows split evenly between the taps (stacked); 30 share a row (summed)
    for (const T of [32, 30]) {
      expect(sparseTapConvolution(foldedTapConvolutions(taps, { patchSize: p, pretrainDim: P, targetDim: T })[0]!, 40, p).slots.length * 8).toBeLessThanOrEqual(40);
      const session = await openSession(buildPatchEmbeddingGraph(taps, { patchSize: p, pretrainDim: P, targetDim: T }), 'cpu');
      const feeds = Object.fromEntries(taps.map((t) => [t.name, f32(t.data, [1, t.channels, t.h, t.w])]));
      const align = alignmentFeeds(taps.map((t) => ({ ...t, offset: { x: 2.5, y: 1 } })), 4 * 8, 4 * 8, 'bilinear', false);
      const g = (await session.run({ ...feeds, ...align }))['embedding']!.data as Float32Array;
      const want = naiveEmbedding(taps.map((t) => ({ c: t.channels, h: t.h, w: t.w, data: t.data })), p, P, T);
      expect(g.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(g[i]).toBeCloseTo(want[i]!, 5);
    }
  });

  it('aligns a coarser tap by nearest replication exactly as PyTorch when offsets are ignored', () => {
    // 2 coarse cells onto 8 fine cells (stride ratio 4): each coarse cell copied 4 times
    const m = alignmentMatrix(2, 8, 16, 4, 0, 'nearest');
    const src = Array.from({ length: 8 }, (_, d) => m.subarray(d * 2, d * 2 + 2).indexOf(1));
    expect(src).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('shifts the alignment by the difference of the taps\' measured offsets', () => {
    // fine stride 8 (offset 0), coarse stride 16 (offset 8 px = half a coarse cell to the bottom-right):
    // fine cell d then reads coarse coordinate (d + 0.5)/2 − 0.5 − 0.5
    const m = alignmentMatrix(4, 8, 16, 8, (0 - 8) / 16, 'bilinear');
    const read = (d: number) => Array.from(m.subarray(d * 4, d * 4 + 4)).reduce((a, w, j) => a + w * j, 0);
    expect(read(3)).toBeCloseTo(0.75, 6);
    expect(read(6)).toBeCloseTo(2.25, 6);
    expect(read(0)).toBeCloseTo(0, 6); // clamped at the first cell centre
  });
});
