/**
 * images.addMany (the import's batches): files flushed together, rows in one transaction; bytes the
 * product holds already, or an earlier input of the batch holds, come back as duplicates, not rows.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProject, images, products } from '../../src-main/store/index.ts';
import { fakePng, tempDir } from '../fixtures/store.ts';

describe('images.addMany', () => {
  it('stores each new image once and names the image that duplicates repeat', async () => {
    const p = createProject(join(tempDir(), 'project'), 'Batch');
    const productId = products.add(p, { name: 'PN-1' }).id;
    const other = products.add(p, { name: 'PN-2' }).id;
    const before = images.add(p, { productId, originalPath: '/a.png', data: fakePng(8, 6, 16, 1), width: 8, height: 6, format: 'png', split: 'train' });
    const input = (path: string, seed: number, product = productId) => ({ productId: product, originalPath: path, data: fakePng(8, 6, 16, seed), width: 8, height: 6, format: 'png' as const, split: 'test' as const, verdict: 'defective' as const, defectType: 'dent' });
    const outcomes = await images.addMany(p, [input('/b.png', 2), input('/a-again.png', 1), input('/b-again.png', 2), input('/c.png', 3), input('/b-other.png', 2, other)]);
    const added = outcomes.map((o) => ('added' in o ? o.added.originalPath : null));
    expect(added).toEqual(['/b.png', null, null, '/c.png', '/b-other.png']);
    expect(outcomes.map((o) => ('duplicateOf' in o ? o.duplicateOf.originalPath : null))).toEqual([null, '/a.png', '/b.png', null, null]);
    expect(images.list(p, { productId }).map((i) => [i.originalPath, i.verdict, i.defectType])).toEqual([
      ['/a.png', 'unlabelled', null], ['/b.png', 'defective', 'dent'], ['/c.png', 'defective', 'dent'],
    ]);
    for (const image of images.list(p, { productId })) expect(images.readBytes(p, image).length).toBe(image.byteSize);
    expect(existsSync(join(p.dir, before.storedPath))).toBe(true);
  });

  it('checks every input before writing anything', async () => {
    const p = createProject(join(tempDir(), 'project'), 'Batch');
    const productId = products.add(p, { name: 'PN-1' }).id;
    const good = { productId, originalPath: '/ok.png', data: fakePng(8, 6, 16, 5), width: 8, height: 6, format: 'png' as const, split: 'train' as const };
    await expect(images.addMany(p, [good, { ...good, originalPath: '/bad.png', width: 0 }])).rejects.toThrow(/width/);
    expect(images.count(p, productId)).toBe(0);
  });
});
