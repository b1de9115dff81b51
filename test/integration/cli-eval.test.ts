import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

const ARGUS = resolve(import.meta.dirname, '../../bin/argus.js');

function argus(args: string[]) {
  return spawnSync(process.execPath, [ARGUS, ...args], { encoding: 'utf8', env: { ...process.env, ARGUS_PROVIDER: 'cpu' } });
}

/** A small real dataset with every kind of damage a folder from the shop floor can have. */
function damagedDataset(): string {
  const root = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 3, testDefect: 4 });
  writeFileSync(join(root, 'train/good/zero_bytes.png'), '');
  writeFileSync(join(root, 'train/good/notes.txt'), 'operator notes');
  const good = readdirSync(join(root, 'test/good'))[0]!;
  const bytes = readFileSync(join(root, 'test/good', good));
  writeFileSync(join(root, 'test/good/truncated.png'), bytes.subarray(0, bytes.length / 3));
  // a defective image whose mask is missing, and one whose mask has the wrong size
  const defects = readdirSync(join(root, 'test/defect')).sort();
  copyFileSync(join(root, 'test/defect', defects[0]!), join(root, 'test/defect/no_mask.png'));
  return root;
}

describe('argus eval', () => {
  it('prints a metrics row per dataset and the mean', () => {
    const a = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 3, testDefect: 3 });
    const b = subsetDataset(sharedDataset('deeppcb'), { train: 6, testGood: 3, testDefect: 3 });
    const json = join(tmpdir(), `argus-eval-${process.pid}.json`);
    const r = argus(['eval', '--data', a, '--data', b, '--method', 'patchcore', '--size', '128', '--json', json]);
    expect(r.status).toBe(0);
    const [table, intervals] = r.stdout.trim().split('\n95 % confidence intervals');
    const lines = table!.split('\n');
    expect(lines[0]).toMatch(/dataset\s+method\s+train\/test\s+image AUROC\s+pixel AUROC\s+AUPRO@0\.3/);
    expect(lines).toHaveLength(5); // header, rule, two datasets, mean
    expect(lines[4]).toMatch(/^mean/);
    // then each dataset's 95 % bootstrap intervals as low–high
    expect(intervals!.split('\n').filter((l) => /^\S+\s+\d+\.\d\d–\d+\.\d\d\s+\d+\.\d\d–\d+\.\d\d/.test(l))).toHaveLength(2);
    const results = JSON.parse(readFileSync(json, 'utf8'));
    expect(results).toHaveLength(2);
    expect(results[0].images).toHaveLength(6);
    expect(results[0].intervals.pixelAuroc.low).toBeLessThanOrEqual(results[0].pixelAuroc);
  });

  it('reports unreadable files, stray files and missing or mis-sized masks, skips them and still finishes', async () => {
    const root = damagedDataset();
    const defects = readdirSync(join(root, 'test/defect')).filter((f) => f !== 'no_mask.png').sort();
    const maskPath = join(root, 'ground_truth/defect', defects[1]!.replace('.png', '_mask.png'));
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ffffff' } }).greyscale().png().toFile(maskPath);
    const r = argus(['eval', '--data', root, '--method', 'padim', '--size', '128']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/zero_bytes\.png: unreadable image, skipped/);
    expect(r.stderr).toMatch(/truncated\.png: unreadable image, skipped/);
    expect(r.stderr).toMatch(/notes\.txt: not an image file/);
    expect(r.stderr).toMatch(/no_mask\.png: defective image without a ground-truth mask/);
    expect(r.stderr).toMatch(/mask is 40x30 but its image is 512x512: left out of pixel metrics/);
    // 6 readable training images; 3 good + 4 defective + the unmasked copy (the truncated file is out)
    expect(r.stdout).toMatch(/padim\s+6\/8\s/);
  });

  it('explains a folder that is not a dataset', () => {
    const r = argus(['eval', '--data', tmpdir(), '--size', '128']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not an MVTec-layout dataset: .*train\/good is missing/);
  });

  it('rejects an unknown method and lists the valid ones', () => {
    const r = argus(['eval', '--data', sharedDataset('mpdd_metal_plate'), '--method', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown method 'nope'; available: patchcore, padim/);
  });
});

describe('MVTec-layout import', () => {
  it('lists every image of the shared magnetic-tile dataset with its mask', () => {
    const ds = scanMvtec(sharedDataset('magnetic_tile'));
    expect(ds.train).toHaveLength(761);
    expect(ds.test).toHaveLength(191 + 115 + 85 + 57 + 32 + 99);
    expect(ds.test.filter((t) => t.defective && !t.maskPath)).toHaveLength(0);
    expect(ds.issues).toEqual([]);
  });
});


describe('letterboxed evaluation', () => {
  it('scores magnetic-tile images of varying aspect ratio over the picture only, at model size or their own', async () => {
    const ds = scanMvtec(sharedDataset('magnetic_tile'));
    const root = mkdtempSync(join(tmpdir(), 'argus-lb-'));
    const take = (entries: typeof ds.train, rel: string, n: number) => {
      mkdirSync(join(root, rel), { recursive: true });
      for (const e of entries.slice(0, n)) {
        copyFileSync(e.path, join(root, rel, basename(e.path)));
        if (e.maskPath) {
          mkdirSync(join(root, 'ground_truth', e.defectType), { recursive: true });
          copyFileSync(e.maskPath, join(root, 'ground_truth', e.defectType, basename(e.maskPath)));
        }
      }
    };
    take(ds.train, 'train/good', 6);
    take(ds.test.filter((t) => !t.defective), 'test/good', 3);
    take(ds.test.filter((t) => t.defectType === 'blowhole'), 'test/blowhole', 3);
    const r = await evaluateDataset(root, { method: 'patchcore', config: { height: 128, width: 128, resize: 'letterbox' } });
    expect(r.nTest).toBe(6);
    expect(r.issues).toEqual([]);
    for (const m of [r.imageAuroc, r.pixelAuroc, r.aupro]) expect(Number.isFinite(m)).toBe(true);
    // the same maps brought back to each image's own size: image scores unchanged, pixel metrics still defined
    const original = await evaluateDataset(root, { method: 'patchcore', config: { height: 128, width: 128, resize: 'letterbox' }, pixelMetricsAt: 'original' });
    expect(original.images.map((i) => i.score)).toEqual(r.images.map((i) => i.score));
    for (const m of [original.pixelAuroc, original.aupro]) expect(Number.isFinite(m)).toBe(true);
    expect(original.pixelAuroc).not.toBe(r.pixelAuroc);
  });
});
