/**
 * The export's graph pieces against the station's own arithmetic: the map operator read off the
 * station's map functions, and the pre-processing graph against vision/resample.ts on a real image.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { separableOperator } from '../../src-main/export/compose.ts';
import { buildPreprocessGraph } from '../../src-main/export/preprocess.ts';
import { f32, openSession, ort } from '../../src-main/engine/session.ts';
import { anomalyMapFromPatches } from '../../src-main/methods/anomaly-map.ts';
import { letterbox, readImage, resize, toChw, toRgb, upsampleBilinearAlignCorners } from '../../src-main/vision/index.ts';
import type { ResampleFilter } from '../../src-main/vision/index.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { Random } from '../../src-main/util/random.ts';

function applyOperator(op: { rows: Float32Array; colsT: Float32Array }, grid: Float32Array, gh: number, gw: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    let acc = 0;
    for (let r = 0; r < gh; r++) for (let c = 0; c < gw; c++) acc += op.rows[y * gh + r]! * grid[r * gw + c]! * op.colsT[c * W + x]!;
    out[y * W + x] = acc;
  }
  return out;
}

/** Pillow's coefficient rule, as the runners build the resampling matrices ([out, in] rows). */
function axisMatrix(inSize: number, outSize: number, filter: ResampleFilter): Float64Array {
  const m = new Float64Array(outSize * inSize);
  if (inSize === outSize) {
    for (let d = 0; d < outSize; d++) m[d * inSize + d] = 1;
    return m;
  }
  const tri = (x: number) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0);
  if (filter !== 'bilinear') throw new Error('this test builds bilinear matrices only');
  const scale = inSize / outSize;
  const fs = Math.max(scale, 1);
  for (let d = 0; d < outSize; d++) {
    const centre = (d + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - fs + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + fs + 0.5), inSize);
    let sum = 0;
    for (let x = lo; x < hi; x++) sum += tri((x - centre + 0.5) / fs);
    for (let x = lo; x < hi; x++) m[d * inSize + x] = tri((x - centre + 0.5) / fs) / sum;
  }
  return m;
}

describe('the export graphs compute what the station computes', () => {
  it('the map operator equals the station map functions (offset upsampling with blur; align-corners) on a random grid', () => {
    const rng = new Random(3);
    const [gh, gw, H, W] = [6, 9, 48, 72];
    const grid = Float32Array.from({ length: gh * gw }, () => rng.uniform(0, 5));
    const settings = { height: H, width: W, blurSigma: 4, alignOffsets: true };
    const fns = [
      (g: Float32Array, w: number, h: number) => anomalyMapFromPatches(g, w, h, settings, 8, { x: 2, y: 1.71 }),
      (g: Float32Array, w: number, h: number) => upsampleBilinearAlignCorners(g, w, h, W, H),
    ];
    for (const fn of fns) {
      const expected = fn(grid, gw, gh);
      const actual = applyOperator(separableOperator(fn, gh, gw, H, W), grid, gh, gw, H, W);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('the pre-processing graph gives the data loader input on a real picture, to the last bit but for rare summation-order ties (stretch and letterbox)', async () => {
    const dir = join(sharedDataset('mpdd_metal_plate'), 'test/good');
    const image = toRgb(await readImage(join(dir, readdirSync(dir).sort()[0]!)));
    const [H, W] = [96, 128];
    for (const mode of ['stretch', 'letterbox'] as const) {
      const session = await openSession(buildPreprocessGraph({ height: H, width: W, filter: 'bilinear', resize: mode }), 'cpu');
      const fitted = mode === 'letterbox' ? letterbox(image, W, H, 'bilinear') : { image: resize(image, W, H, 'bilinear'), content: { width: W, height: H } };
      const { width: cw, height: ch } = fitted.content;
      const inner = (n: number, m: number, size: number) => {
        const a = axisMatrix(n, m, 'bilinear');
        const out = new Float64Array(size * n);
        for (let d = 0; d < size; d++) out.set(a.subarray(Math.min(d, m - 1) * n, (Math.min(d, m - 1) + 1) * n), d * n);
        return out;
      };
      const rows = inner(image.height, ch, H);
      const colsT = inner(image.width, cw, W);
      const cols = new Float64Array(image.width * W);
      for (let d = 0; d < W; d++) for (let x = 0; x < image.width; x++) cols[x * W + d] = colsT[d * image.width + x]!;
      const out = await session.run({
        image: f32(image.data, [image.height, image.width, 3]),
        rows: new ort.Tensor('float64', rows, [H, image.height]),
        cols: new ort.Tensor('float64', cols, [image.width, W]),
      });
      const expected = toChw(fitted.image);
      const actual = out['input']!.data as Float32Array;
      let differing = 0;
      let worst = 0;
      for (let i = 0; i < expected.length; i++) {
        if (actual[i] !== expected[i]) differing++;
        worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
      }
      expect(differing / expected.length, mode).toBeLessThan(1e-3);
      expect(worst, mode).toBeLessThan(1e-7);
      await session.release();
    }
  });
});
