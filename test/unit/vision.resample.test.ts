import { describe, expect, it } from 'vitest';
import { letterbox, readImage, resize, toChw, toRgb, type RasterImage, type ResampleFilter } from '../../src-main/vision/index.ts';

/**
 * Expected values come from this numpy re-implementation of Pillow's ImagingResample
 * (libImaging/Resample.c: precompute_coeffs + horizontal then vertical pass, clipped after each pass),
 * run with python3 + numpy (Pillow itself is not installed here):
 *
 * import numpy as np, math
 *
 * # --- numpy re-implementation of Pillow's ImagingResample (Resample.c), float path ---
 * def bilinear(x):
 *     x = abs(x); return 1.0 - x if x < 1.0 else 0.0
 * def bicubic(x, a=-0.5):
 *     x = abs(x)
 *     if x < 1.0: return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
 *     if x < 2.0: return (((x - 5) * x + 8) * x - 4) * a
 *     return 0.0
 * def sinc(x):
 *     if x == 0.0: return 1.0
 *     x = x * math.pi; return math.sin(x) / x
 * def lanczos(x):
 *     return sinc(x) * sinc(x / 3) if -3.0 <= x < 3.0 else 0.0
 * FILTERS = {'bilinear': (bilinear, 1.0), 'bicubic': (bicubic, 2.0), 'lanczos': (lanczos, 3.0)}
 *
 * def coeff_matrix(n_in, n_out, name):
 *     f, sup = FILTERS[name]
 *     scale = n_in / n_out
 *     fs = max(scale, 1.0)
 *     support = sup * fs
 *     M = np.zeros((n_out, n_in))
 *     for d in range(n_out):
 *         center = (d + 0.5) * scale
 *         xmin = max(int(center - support + 0.5), 0)
 *         xmax = min(int(center + support + 0.5), n_in)
 *         w = np.array([f((x + xmin - center + 0.5) / fs) for x in range(xmax - xmin)])
 *         if w.sum() != 0: w = w / w.sum()
 *         M[d, xmin:xmax] = w
 *     return M
 *
 * def pil_resize(img, W, H, name):  # img: H x W x C float64
 *     h, w, c = img.shape
 *     out = img
 *     if W != w:  # horizontal pass, then clip like Pillow's 8-bit path (but no rounding)
 *         out = np.clip(np.einsum('ox,yxc->yoc', coeff_matrix(w, W, name), out), 0, 1)
 *     if H != h:  # vertical pass
 *         out = np.clip(np.einsum('oy,yxc->oxc', coeff_matrix(h, H, name), out), 0, 1)
 *     return out
 *
 * def pil_nearest(img, W, H):
 *     h, w, c = img.shape
 *     ys = [min(int((d + 0.5) * h / H), h - 1) for d in range(H)]
 *     xs = [min(int((d + 0.5) * w / W), w - 1) for d in range(W)]
 *     return img[ys][:, xs]
 *
 * gray = np.array([[((3 * x + 5 * y * y + 1) % 11) / 10 for x in range(7)] for y in range(5)])[:, :, None]  # 5x7
 * rgb = np.array([[[((x * 5 + y * 3 + ch * 7) % 13) / 12 for ch in range(3)] for x in range(6)] for y in range(4)])  # 4x6x3
 * print(pil_resize(gray, W, H, name).round(10).tolist())  # for each (source, filter, W, H) in CASES
 * print(pil_nearest(gray, 3, 4).tolist())
 */
const GRAY: RasterImage = {
  width: 7,
  height: 5,
  channels: 1,
  data: Float32Array.from({ length: 35 }, (_, i) => ((3 * (i % 7) + 5 * Math.floor(i / 7) ** 2 + 1) % 11) / 10),
};
const RGB: RasterImage = {
  width: 6,
  height: 4,
  channels: 3,
  data: Float32Array.from({ length: 72 }, (_, i) => {
    const ch = i % 3;
    const x = Math.floor(i / 3) % 6;
    const y = Math.floor(i / 18);
    return ((x * 5 + y * 3 + ch * 7) % 13) / 12;
  }),
};

const CASES: [string, ResampleFilter, number, number, number[]][] = [
  ['gray', 'bilinear', 3, 2, [0.5136363636, 0.528342246, 0.5457792208, 0.5493506494, 0.428342246, 0.5136363636]],
  ['gray', 'bicubic', 4, 3, [0.4438136947, 0.5715906582, 0.5813743022, 0.6048309204, 0.6046939464, 0.4562141842, 0.3542692869, 0.5506459602, 0.4676347742, 0.6442299808, 0.3578268206, 0.5487557319]],
  ['gray', 'lanczos', 3, 2, [0.509166474, 0.5149017058, 0.5530577198, 0.5795960106, 0.4226218252, 0.4831988806]],
  ['gray', 'lanczos', 10, 8, [0.0484958006, 0.156835098, 0.4345290661, 0.7443014395, 1.0, 0.7722397023, 0.1023601094, 0.2473382866, 0.7019255172, 0.9033699265, 0.2059616111, 0.4822667022, 0.6503411546, 0.4422629617, 0.6295611917, 0.6486243764, 0.4594111847, 0.6769826285, 0.6898934689, 0.5147651009, 0.6069175681, 0.8652266409, 0.7302041697, 0.1073625818, 0.2039572031, 0.5173287653, 0.7151483182, 0.989499043, 0.6174795484, 0.1085943601, 1.0, 0.735099144, 0.2674320292, 0.2891721766, 0.6750051013, 0.5877506939, 0.2132613457, 0.3990886548, 0.4863193905, 0.3599937994, 0.7981036926, 0.4286775879, 0.1754555691, 0.6010640446, 0.7638882762, 0.3968495483, 0.0, 0.0929239943, 0.5898629988, 0.8575320377, 0.2142085386, 0.2988953665, 0.6176482795, 0.8006055224, 0.2770227974, 0.0165138685, 0.2885794576, 0.4733996367, 0.7745110196, 0.9553034077, 0.2238102381, 0.4053873055, 0.8422774822, 0.9577637227, 0.3104177469, 0.0467257724, 0.4972067586, 0.7864345249, 0.587323716, 0.3668940399, 0.4286492298, 0.5298107038, 0.8625315093, 1.0, 0.4908879324, 0.1902711683, 0.5467273176, 0.8937963493, 0.3869383611, 0.0]],
  ['gray', 'bilinear', 9, 2, [0.5136363636, 0.546969697, 0.496969697, 0.4691919192, 0.6636363636, 0.4303030303, 0.5303030303, 0.6136363636, 0.5136363636, 0.4636363636, 0.496969697, 0.6247474747, 0.6525252525, 0.2636363636, 0.3025252525, 0.4803030303, 0.5803030303, 0.5136363636]],
  ['gray', 'bicubic', 7, 9, [0.0593023256, 0.3593023256, 0.7488372093, 1.0, 0.1593023256, 0.4593023256, 0.8488372093, 0.224137931, 0.5620689655, 0.5206896552, 0.8206896552, 0.3620689655, 0.6620689655, 0.6206896552, 0.5436562074, 0.8916780355, 0.1291950887, 0.4291950887, 0.6916780355, 0.9916780355, 0.2291950887, 0.8504801097, 0.6163237311, 0.2146776406, 0.5750342936, 0.4163237311, 0.7163237311, 0.3146776406, 1.0, 0.2, 0.5, 0.8, 0.0, 0.3, 0.6, 0.5528120713, 0.3186556927, 0.6790123457, 0.3528120713, 0.1186556927, 0.4186556927, 0.8544581619, 0.180627558, 0.5286493861, 0.8286493861, 0.0, 0.3286493861, 0.6286493861, 0.8431105048, 0.3172413793, 0.6551724138, 0.9551724138, 0.1172413793, 0.4551724138, 0.7551724138, 0.2586206897, 0.4162790698, 0.7162790698, 1.0, 0.2162790698, 0.5162790698, 0.8162790698, 0.0]],
  ['rgb', 'lanczos', 4, 3, [0.1740902307, 0.7623738664, 0.257423564, 0.5284872751, 0.5831187312, 0.5983437705, 0.398985158, 0.5594594305, 0.5393362946, 0.7983401729, 0.3352463249, 0.3382104981, 0.5992165971, 0.304514446, 0.6825499304, 0.3824021845, 0.5885658892, 0.4668472441, 0.4285111233, 0.5588541363, 0.5071409655, 0.298074146, 0.7565281443, 0.4262386249, 0.5407321696, 0.3302658195, 0.6240655029, 0.4728210116, 0.3575091296, 0.5558709062, 0.5855305898, 0.4307553409, 0.6700630955, 0.3970398007, 0.578578282, 0.4689432682]],
  ['rgb', 'bilinear', 3, 5, [0.2976190476, 0.7261904762, 0.380952381, 0.5, 0.5416666667, 0.5833333333, 0.7023809524, 0.3571428571, 0.3214285714, 0.3642857143, 0.5761904762, 0.4476190476, 0.390625, 0.621875, 0.4739583333, 0.5523809524, 0.5321428571, 0.4964285714, 0.5178571429, 0.4047619048, 0.6011904762, 0.4010416667, 0.578125, 0.484375, 0.380952381, 0.6547619048, 0.4642857143, 0.5785714286, 0.3261904762, 0.6619047619, 0.4927083333, 0.453125, 0.5760416667, 0.3488095238, 0.6380952381, 0.4321428571, 0.4285714286, 0.3928571429, 0.5119047619, 0.5729166667, 0.34375, 0.65625, 0.5238095238, 0.4880952381, 0.6071428571]],
];

function expectClose(actual: Float32Array, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

describe('resize (PIL-style convolution resampling)', () => {
  it.each(CASES)('%s image resized with %s to %ix%i matches the numpy model of Pillow', (src, filter, w, h, expected) => {
    const img = src === 'gray' ? GRAY : RGB;
    const out = resize(img, w, h, filter);
    expect([out.width, out.height, out.channels]).toEqual([w, h, img.channels]);
    expectClose(out.data, expected, 2e-6);
  });

  it("reproduces Pillow's own reduce/enlarge test values (test_image_resample.py) after rounding to 8 bits", () => {
    // A row of n/2 pixels 0xe1 then n/2 pixels 0x1e, reduced by 2; Pillow expects these leading values.
    const row = (n: number): RasterImage => ({
      width: n,
      height: 1,
      channels: 1,
      data: Float32Array.from({ length: n }, (_, i) => (i < n / 2 ? 0xe1 : 0x1e) / 255),
    });
    const bytes = (img: RasterImage): number[] => Array.from(img.data, (v) => Math.round(v * 255));
    expect(bytes(resize(row(8), 4, 1, 'bilinear')).slice(0, 2)).toEqual([0xe1, 0xc9]);
    expect(bytes(resize(row(12), 6, 1, 'bicubic')).slice(0, 3)).toEqual([0xe1, 0xe3, 0xd4]);
    expect(bytes(resize(row(16), 8, 1, 'lanczos')).slice(0, 4)).toEqual([0xe1, 0xe0, 0xe4, 0xd7]);
    // enlarge 2 -> 4 bilinear: e1 b0
    expect(bytes(resize(row(2), 4, 1, 'bilinear')).slice(0, 2)).toEqual([0xe1, 0xb0]);
  });

  it('widens the filter support when down-scaling (antialiasing): a 1-px stripe pattern averages to grey', () => {
    const stripes: RasterImage = {
      width: 64,
      height: 1,
      channels: 1,
      data: Float32Array.from({ length: 64 }, (_, i) => i % 2),
    };
    for (const f of ['bilinear', 'bicubic', 'lanczos'] as const) {
      const out = resize(stripes, 8, 1, f);
      // a 2-tap (non-antialiased) bilinear would give 0 or 1 here
      for (let i = 1; i < 7; i++) expect(Math.abs(out.data[i]! - 0.5)).toBeLessThan(0.01);
    }
  });

  it('keeps a constant image constant (weights are normalised per output pixel)', () => {
    const flat: RasterImage = { width: 9, height: 7, channels: 3, data: new Float32Array(9 * 7 * 3).fill(0.37) };
    for (const f of ['bilinear', 'bicubic', 'lanczos', 'nearest'] as const) {
      for (const [w, h] of [[4, 3], [20, 2], [1, 1], [9, 15]] as const) {
        const out = resize(flat, w, h, f);
        for (const v of out.data) expect(v).toBeCloseTo(0.37, 6);
      }
    }
  });

  it('clips bicubic/Lanczos overshoot to [0,1], like Pillow on 8-bit images', () => {
    const step: RasterImage = { width: 4, height: 1, channels: 1, data: Float32Array.from([0, 0, 1, 1]) };
    const out = resize(step, 13, 1, 'lanczos');
    for (const v of out.data) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(Math.min(...out.data)).toBe(0);
    expect(Math.max(...out.data)).toBe(1);
  });

  it('uses Pillow NEAREST for "nearest": source index floor((d + 0.5) * in / out)', () => {
    const out = resize(GRAY, 3, 4, 'nearest');
    // x: floor((d+.5)*7/3) = 1, 3, 5 ; y: floor((d+.5)*5/4) = 0, 1, 3, 4
    expectClose(out.data, [0.4, 1.0, 0.5, 0.9, 0.4, 1.0, 0.5, 0.0, 0.6, 0.7, 0.2, 0.8], 1e-7);
  });

  it('returns an identical copy when the size does not change', () => {
    const out = resize(RGB, 6, 4, 'lanczos');
    expect(Array.from(out.data)).toEqual(Array.from(RGB.data));
    expect(out.data).not.toBe(RGB.data);
  });

  it('rejects non-positive or fractional target sizes', () => {
    expect(() => resize(GRAY, 0, 3, 'bilinear')).toThrow(RangeError);
    expect(() => resize(GRAY, 3, 2.5, 'bilinear')).toThrow(RangeError);
  });

  it('resizes a real Magnetic Tile JPEG (494x361 grey) to 256x256 with values staying in [0,1]', async () => {
    const img = await readImage('/work/shared/data/magnetic_tile/train/good/exp1_num_10181.jpg');
    const out = resize(img, 256, 256, 'lanczos');
    expect([out.width, out.height, out.channels]).toEqual([256, 256, 1]);
    let sumIn = 0;
    let sumOut = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const v of img.data) sumIn += v;
    for (const v of out.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sumOut += v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    // resampling preserves the mean brightness closely
    expect(sumOut / out.data.length).toBeCloseTo(sumIn / img.data.length, 2);
  });
});

describe('toRgb', () => {
  it('replicates a grey channel into R, G and B', () => {
    const g: RasterImage = { width: 2, height: 1, channels: 1, data: Float32Array.from([0.25, 0.5]) };
    const rgb = toRgb(g);
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([2, 1, 3]);
    expect(Array.from(rgb.data)).toEqual([0.25, 0.25, 0.25, 0.5, 0.5, 0.5]);
  });

  it('returns an RGB image unchanged', () => {
    expect(toRgb(RGB)).toBe(RGB);
  });
});

describe('toChw', () => {
  const img: RasterImage = {
    width: 2,
    height: 1,
    channels: 3,
    data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
  };

  it('converts interleaved HWC RGB to planar CHW', () => {
    expect(Array.from(toChw(img))).toEqual(Array.from(Float32Array.from([0.1, 0.4, 0.2, 0.5, 0.3, 0.6])));
  });

  it('replicates grey into three planes', () => {
    const g: RasterImage = { width: 3, height: 1, channels: 1, data: Float32Array.from([0, 0.5, 1]) };
    expect(Array.from(toChw(g))).toEqual([0, 0.5, 1, 0, 0.5, 1, 0, 0.5, 1]);
  });

  it('writes into a batch buffer at the given offset and returns that buffer', () => {
    const batch = new Float32Array(2 * 6).fill(-1);
    const ret = toChw(img, batch, 6);
    expect(ret).toBe(batch);
    expect(Array.from(batch.subarray(0, 6))).toEqual([-1, -1, -1, -1, -1, -1]);
    expect(Array.from(batch.subarray(6))).toEqual(Array.from(Float32Array.from([0.1, 0.4, 0.2, 0.5, 0.3, 0.6])));
  });

  it('refuses to write past the end of the buffer', () => {
    expect(() => toChw(img, new Float32Array(8), 3)).toThrow(RangeError);
  });
});

describe('letterbox', () => {
  it('keeps the aspect ratio, anchors the picture top-left and repeats its last row and column', () => {
    // 4 wide x 2 high, values = column index / 10
    const img = { width: 4, height: 2, channels: 1 as const, data: Float32Array.from([0, 0.1, 0.2, 0.3, 0, 0.1, 0.2, 0.3]) };
    const { image, content } = letterbox(img, 8, 8, 'nearest');
    expect(content).toEqual({ width: 8, height: 4 });
    expect(image.width).toBe(8);
    expect(image.height).toBe(8);
    // the rows below the picture repeat its last row
    expect(Array.from(image.data.subarray(7 * 8, 8 * 8))).toEqual(Array.from(image.data.subarray(3 * 8, 4 * 8)));
    expect(image.data[0]).toBeCloseTo(0, 6);
    expect(image.data[7]).toBeCloseTo(0.3, 6);
  });
});
