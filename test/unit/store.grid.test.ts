/**
 * The dataset grid's queries (store/images.ts page, facetCounts) on a real SQLite project: filters by
 * split, label, defect type, latest score under a model and latest decision combine, pages come in
 * import order, and the counts follow labels and decisions. The query plans use the 0009 indexes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisions, images, models, products, results, runs, type Project } from '../../src-main/store/index.ts';
import { fakePng, reviewProject, storeErrorCode, tempDir } from '../fixtures/store.ts';

/** The review project (3 test images with inspection results 3, 1, 2) plus 7 more images: 10 in all. */
function grid(): { p: Project; productId: number; modelId: number; ids: number[]; resultIds: number[] } {
  const { p, productId, modelId, imageIds, resultIds } = reviewProject(join(tempDir(), 'project'));
  const more = Array.from({ length: 7 }, (_, i) => images.add(p, {
    productId, originalPath: `/cam/more-${i}.png`, data: fakePng(8, 6, 16, 100 + i), width: 8, height: 6, format: 'png',
    split: i < 4 ? 'train' : 'validation', verdict: i < 4 ? 'good' : 'defective', defectType: i < 4 ? null : i === 6 ? 'dent' : 'scratch',
  }).id);
  return { p, productId, modelId, ids: [...imageIds, ...more], resultIds };
}

const ids = (page: { items: Array<{ id: number }> }) => page.items.map((i) => i.id);

describe('the dataset grid query', () => {
  it('pages a product in import order with the total of the filter', () => {
    const { p, productId, ids: all } = grid();
    const first = images.page(p, { productId, offset: 0, limit: 4 });
    expect(first.total).toBe(10);
    expect(ids(first)).toEqual(all.slice(0, 4));
    expect(ids(images.page(p, { productId, offset: 8, limit: 4 }))).toEqual(all.slice(8));
    expect(images.page(p, { productId, offset: 20, limit: 4 })).toEqual({ total: 10, items: [] });
  });

  it('filters by split, label and defect type together', () => {
    const { p, productId, ids: all } = grid();
    expect(ids(images.page(p, { productId, split: 'validation', offset: 0, limit: 50 }))).toEqual(all.slice(7));
    expect(images.page(p, { productId, verdict: 'defective', defectType: 'scratch', offset: 0, limit: 50 }).total).toBe(2);
    expect(ids(images.page(p, { productId, defectType: 'dent', offset: 0, limit: 50 }))).toEqual([all[9]]);
    expect(images.page(p, { productId, split: 'train', defectType: 'dent', offset: 0, limit: 50 }).total).toBe(0);
  });

  it('filters by the latest score under a model, inclusive, and carries that score on each item', () => {
    const { p, productId, modelId, ids: all } = grid();
    // a second run re-inspects the first image: its latest score is now 0.5, not 3
    const lot = runs.create(p, { productId, modelId, name: 'Lot 2' });
    results.add(p, { imageId: all[0]!, modelId, runId: lot.id, score: 0.5, verdict: 'pass' });
    const scored = images.page(p, { productId, modelId, offset: 0, limit: 50 });
    expect(scored.total).toBe(10);
    expect(scored.items.slice(0, 4).map((i) => i.score)).toEqual([0.5, 1, 2, null]);
    const high = images.page(p, { productId, modelId, scoreMin: 1, scoreMax: 2, offset: 0, limit: 50 });
    expect(ids(high)).toEqual([all[1], all[2]]);
    expect(images.page(p, { productId, modelId, scoreMin: 2.5, offset: 0, limit: 50 }).total).toBe(0);
  });

  it('refuses a score range without the model it is about', () => {
    const { p, productId } = grid();
    expect(() => images.page(p, { productId, scoreMin: 1, offset: 0, limit: 5 })).toThrow(/modelId/);
  });

  it('filters by the latest decision: a changed mind counts, undecided images are "none"', () => {
    const { p, productId, ids: all, resultIds } = grid();
    decisions.record(p, { resultId: resultIds[0]!, verdict: 'fail', defectType: 'scratch', by: 'A. Weber' });
    decisions.record(p, { resultId: resultIds[1]!, verdict: 'fail', by: 'A. Weber' });
    decisions.record(p, { resultId: resultIds[1]!, verdict: 'pass', by: 'B. Kim' });
    expect(ids(images.page(p, { productId, decision: 'fail', offset: 0, limit: 50 }))).toEqual([all[0]]);
    const passed = images.page(p, { productId, decision: 'pass', offset: 0, limit: 50 });
    expect(ids(passed)).toEqual([all[1]]);
    expect(passed.items[0]!.decision).toBe('pass');
    expect(images.page(p, { productId, decision: 'none', offset: 0, limit: 50 }).total).toBe(8);
  });

  it('counts every facet of the product, and the counts follow relabelling and decisions', () => {
    const { p, productId, ids: all, resultIds } = grid();
    expect(images.facetCounts(p, productId)).toEqual({
      total: 10,
      splits: { train: 4, validation: 3, test: 3 },
      verdicts: { good: 4, defective: 3, unlabelled: 3 },
      defectTypes: [{ defectType: 'scratch', count: 2 }, { defectType: 'dent', count: 1 }],
      decisions: { pass: 0, fail: 0, none: 10 },
    });
    images.setLabel(p, all[0]!, { verdict: 'defective', defectType: 'dent' });
    decisions.record(p, { resultId: resultIds[2]!, verdict: 'pass', by: 'A. Weber' });
    const after = images.facetCounts(p, productId);
    expect(after.verdicts).toEqual({ good: 4, defective: 4, unlabelled: 2 });
    expect(after.defectTypes).toEqual([{ defectType: 'dent', count: 2 }, { defectType: 'scratch', count: 2 }]);
    expect(after.decisions).toEqual({ pass: 1, fail: 0, none: 9 });
  });

  it('keeps products apart', () => {
    const { p } = grid();
    const other = products.add(p, { name: 'PN-2' }).id;
    images.add(p, { productId: other, originalPath: '/x.png', data: fakePng(8, 6, 16, 999), width: 8, height: 6, format: 'png', split: 'train' });
    expect(images.page(p, { productId: other, offset: 0, limit: 10 }).total).toBe(1);
    expect(images.facetCounts(p, other).total).toBe(1);
  });

  it('rejects bad filter values with a clear error', () => {
    const { p, productId, modelId } = grid();
    expect(() => images.page(p, { productId, decision: 'maybe' as never, offset: 0, limit: 5 })).toThrow(/decision/);
    expect(() => images.page(p, { productId, modelId, scoreMin: Number.NaN, offset: 0, limit: 5 })).toThrow(/scoreMin/);
    expect(storeErrorCode(() => models.get(p, 999))).toBe('NOT_FOUND');
  });

  it('answers from the 0009 indexes, not by scanning the images table', () => {
    const { p, productId } = grid();
    const plan = (sql: string) => (p.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ productId }) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
    expect(plan('SELECT id FROM images i WHERE i.product_id = @productId ORDER BY i.id LIMIT 10 OFFSET 5')).toMatch(/USING (COVERING )?INDEX images_by_product\b/);
    expect(plan("SELECT id FROM images i WHERE i.product_id = @productId AND i.defect_type = 'dent' ORDER BY i.id")).toMatch(/INDEX images_by_product_defect/);
    expect(plan('SELECT verdict, count(*) FROM images WHERE product_id = @productId GROUP BY verdict')).toMatch(/COVERING INDEX images_by_product_verdict/);
  });
});
