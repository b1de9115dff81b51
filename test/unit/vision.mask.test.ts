import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyMask, ImageReadError, readImage, readMask, resizeMaskNearest, type BinaryMask } from '../../src-main/vision/index.ts';

const MPDD_MASK = '/work/shared/data/mpdd_metal_plate/ground_truth/defect/test_00026_mask.png';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argus-vision-mask-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readMask', () => {
  it('thresholds grey values at > 0.5: 127 -> 0, 128 -> 1 for 8-bit', async () => {
    const p = join(dir, 'm8.png');
    await sharp(Buffer.from([0, 1, 127, 128, 200, 255]), { raw: { width: 3, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(p);
    const m = await readMask(p);
    expect([m.width, m.height]).toEqual([3, 2]);
    expect(Array.from(m.data)).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('thresholds 16-bit masks at half of 65535', async () => {
    const p = join(dir, 'm16.png');
    await sharp(Uint16Array.from([0, 32767, 32768, 65535]), { raw: { width: 4, height: 1, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(p);
    expect(Array.from((await readMask(p)).data)).toEqual([0, 0, 1, 1]);
  });

  it('uses the first (red) channel of a colour mask', async () => {
    const p = join(dir, 'rgb-mask.png');
    const rgb = [255, 0, 0, 0, 255, 255, 200, 0, 0];
    await sharp(Buffer.from(rgb), { raw: { width: 3, height: 1, channels: 3 } }).png().toFile(p);
    expect(Array.from((await readMask(p)).data)).toEqual([1, 0, 1]);
  });

  it('reads a real MPDD ground-truth mask (512x512, 0/255) into 0/1 with a non-empty defect', async () => {
    const m = await readMask(MPDD_MASK);
    expect([m.width, m.height]).toEqual([512, 512]);
    let ones = 0;
    let other = 0;
    for (const v of m.data) {
      if (v === 1) ones++;
      else if (v !== 0) other++;
    }
    expect(other).toBe(0);
    expect(ones).toBeGreaterThan(0);
    expect(ones).toBeLessThan(512 * 512);
    const img = await readImage(MPDD_MASK);
    expect(img.channels).toBe(1);
    for (let i = 0; i < m.data.length; i++) {
      if (m.data[i] !== (img.data[i]! > 0.5 ? 1 : 0)) throw new Error(`pixel ${i} disagrees`);
    }
  });

  it('fails with an ImageReadError for an unreadable mask', async () => {
    await expect(readMask(join(dir, 'missing_mask.png'))).rejects.toBeInstanceOf(ImageReadError);
  });
});

describe('resizeMaskNearest (PIL NEAREST: src = floor((d + 0.5) * in / out))', () => {
  const mask = (width: number, height: number, values: number[]): BinaryMask => ({
    width,
    height,
    data: Uint8Array.from(values),
  });

  it('down-samples by picking floor((d + 0.5) * in / out)', () => {
    // 4 -> 2: sources 1 and 3 ; 3 -> 2: sources floor(0.75) = 0 and floor(2.25) = 2
    expect(Array.from(resizeMaskNearest(mask(4, 1, [0, 1, 0, 0]), 2, 1).data)).toEqual([1, 0]);
    expect(Array.from(resizeMaskNearest(mask(3, 1, [1, 0, 0]), 2, 1).data)).toEqual([1, 0]);
  });

  it('up-samples 2 -> 5 as sources 0, 0, 1, 1, 1', () => {
    expect(Array.from(resizeMaskNearest(mask(2, 1, [1, 0]), 5, 1).data)).toEqual([1, 1, 0, 0, 0]);
  });

  it('works on both axes independently', () => {
    // 2x3 (w x h) -> 4x2: x sources 0,0,1,1 ; y sources floor(0.75)=0, floor(2.25)=2
    const m = mask(2, 3, [1, 0, 0, 0, 0, 1]);
    const out = resizeMaskNearest(m, 4, 2);
    expect([out.width, out.height]).toEqual([4, 2]);
    expect(Array.from(out.data)).toEqual([1, 1, 0, 0, 0, 0, 1, 1]);
  });

  it('keeps a real mask binary and roughly preserves its area when resized to 256x256', async () => {
    const m = await readMask(MPDD_MASK);
    const r = resizeMaskNearest(m, 256, 256);
    let before = 0;
    let after = 0;
    for (const v of m.data) before += v;
    for (const v of r.data) after += v;
    expect(Math.abs(after * 4 - before) / before).toBeLessThan(0.1);
  });
});

describe('emptyMask', () => {
  it('is all zeros with the requested size', () => {
    const m = emptyMask(5, 3);
    expect([m.width, m.height, m.data.length]).toEqual([5, 3, 15]);
    expect(m.data.every((v) => v === 0)).toBe(true);
  });
});
