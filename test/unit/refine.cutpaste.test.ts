import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { buildCutPasteSet, splitForCutPaste, writeCutPasteSet } from '../../src-main/refine/cutpaste.ts';
import { readMask } from '../../src-main/vision/mask.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImage } from '../../src-main/vision/image.ts';
import { toRgb } from '../../src-main/vision/resample.ts';

const MPDD = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'mpdd_metal_plate');

describe('F2PAD cut-paste set (seed eq. 16)', () => {
  const dataset = scanMvtec(MPDD);

  it('keeps hosts out of the fitting images and draws masks from real defect masks', () => {
    const split = splitForCutPaste(dataset);
    const fit = new Set(split.fit.map((e) => e.path));
    expect(split.hosts.length).toBeGreaterThan(0);
    for (const h of split.hosts) expect(fit.has(h.path)).toBe(false);
    expect(split.fit.length + split.hosts.filter((h) => h.split === 'train').length).toBe(dataset.train.length);
    expect(split.maskSources.every((m) => m.includes('ground_truth'))).toBe(true);
  });

  it('is deterministic for a seed and differs for another seed', async () => {
    const a = await buildCutPasteSet(dataset, { count: 3, seed: 7 });
    const b = await buildCutPasteSet(dataset, { count: 3, seed: 7 });
    const c = await buildCutPasteSet(dataset, { count: 3, seed: 8 });
    for (let i = 0; i < 3; i++) {
      expect(b.samples[i]!.host).toBe(a.samples[i]!.host);
      expect(Buffer.from(b.samples[i]!.mask.data).equals(Buffer.from(a.samples[i]!.mask.data))).toBe(true);
      expect(Buffer.from(b.samples[i]!.image.data.buffer).equals(Buffer.from(a.samples[i]!.image.data.buffer))).toBe(true);
    }
    const same = a.samples.every((s, i) => Buffer.from(s.mask.data).equals(Buffer.from(c.samples[i]!.mask.data)));
    expect(same).toBe(false);
  });

  it('changes exactly the masked pixels, to a colour clearly different from the host', async () => {
    const { samples } = await buildCutPasteSet(dataset, { count: 2, seed: 0 });
    for (const s of samples) {
      const host = toRgb(await readImage(s.host));
      expect([s.image.width, s.image.height]).toEqual([host.width, host.height]);
      let inside = 0;
      let far = 0;
      for (let p = 0; p < s.mask.data.length; p++) {
        const d = Math.hypot(...[0, 1, 2].map((c) => s.image.data[p * 3 + c]! - host.data[p * 3 + c]!));
        if (s.mask.data[p]) {
          inside++;
          for (let c = 0; c < 3; c++) expect(s.image.data[p * 3 + c]).toBe(Math.fround(s.colour![c]!));
          if (d > 0.15) far++;
        } else {
          expect(d).toBe(0);
        }
      }
      expect(inside).toBeGreaterThanOrEqual(16);
      expect(far / inside).toBeGreaterThan(0.9);
    }
  });

  it('writes an MVTec-layout folder that scans back with the exact masks', async () => {
    const { split, samples } = await buildCutPasteSet(dataset, { count: 2, seed: 3 });
    const out = mkdtempSync(join(tmpdir(), 'argus-cutpaste-'));
    try {
      await writeCutPasteSet(out, split, samples);
      const scanned = scanMvtec(out);
      expect(scanned.train.length).toBe(split.fit.length);
      expect(scanned.test.map((e) => e.defectType)).toEqual(['cutpaste', 'cutpaste']);
      for (let i = 0; i < 2; i++) {
        const m = await readMask(scanned.test[i]!.maskPath!);
        expect(Buffer.from(m.data).equals(Buffer.from(samples[i]!.mask.data))).toBe(true);
        const img = await readImage(scanned.test[i]!.path);
        expect(img.data.every((v, k) => Math.abs(v - samples[i]!.image.data[k]!) <= 0.5 / 255 + 1e-6)).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
