/**
 * Each product's list of defect types (store/defect-types.ts, migration 0008) through the real store,
 * the station's API and the `argus defect-types` command, on a project importing real magnetic-tile
 * images (MVTec layout, one folder per defect type).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src-main/store/migrate.ts';
import { Station } from '../../src-main/services/station.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { runCli } from '../fixtures/cli.ts';
import { call, finished } from '../fixtures/station.ts';

/** A small MVTec-layout copy of magnetic_tile: 3 good training images, 2 blowholes, 2 cracks with their masks. */
function magneticTiles(): string {
  const source = sharedDataset('magnetic_tile');
  const root = mkdtempSync(join(tmpdir(), 'argus-tiles-'));
  const copy = (rel: string, n: number, maskRel?: string) => {
    mkdirSync(join(root, rel), { recursive: true });
    if (maskRel) mkdirSync(join(root, maskRel), { recursive: true });
    for (const f of readdirSync(join(source, rel)).sort().slice(0, n)) {
      copyFileSync(join(source, rel, f), join(root, rel, f));
      if (maskRel) copyFileSync(join(source, maskRel, f.replace(/\.jpg$/, '_mask.png')), join(root, maskRel, f.replace(/\.jpg$/, '_mask.png')));
    }
  };
  copy('train/good', 3);
  copy('test/blowhole', 2, 'ground_truth/blowhole');
  copy('test/crack', 2, 'ground_truth/crack');
  return root;
}

describe('migration 0008', () => {
  it('turns the free-text defect types images already carry into each product\'s list, one spelling per type', () => {
    const db = new Database(':memory:');
    migrate(db, loadMigrations().slice(0, 7));
    const now = new Date().toISOString();
    db.prepare("INSERT INTO products (id, name, created_at) VALUES (1, 'PN-1', ?), (2, 'PN-2', ?)").run(now, now);
    const image = db.prepare(`INSERT INTO images (product_id, original_path, stored_path, sha256, byte_size, width, height, format, split, verdict, defect_type, created_at)
      VALUES (?, ?, 'images/x', ?, 1, 4, 4, 'png', 'test', ?, ?, ?)`);
    const rows: Array<[number, string | null]> = [[1, 'scratch'], [1, 'dent'], [1, 'Scratch'], [1, null], [2, 'dent']];
    rows.forEach(([product, type], i) => image.run(product, `/cam/${i}.png`, String(i).repeat(64).slice(0, 64), type ? 'defective' : 'good', type, now));
    migrate(db);
    const listed = db.prepare('SELECT product_id, name, colour, position FROM defect_types ORDER BY product_id, position').all();
    expect(listed).toEqual([
      { product_id: 1, name: 'scratch', colour: '#ff3b30', position: 0 },
      { product_id: 1, name: 'dent', colour: '#ff9f0a', position: 1 },
      { product_id: 2, name: 'dent', colour: '#ff3b30', position: 0 },
    ]);
    expect(db.prepare('SELECT defect_type FROM images ORDER BY id').all().map((r) => (r as { defect_type: string | null }).defect_type)).toEqual(['scratch', 'dent', 'scratch', null, 'dent']);
    db.close();
  });
});

describe('defect types', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'argus-types-')), 'project');
  const data = magneticTiles();
  const station = new Station();
  let productId = 0;
  afterAll(async () => {
    await station.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('lists the types an import brought, in order, each with its own colour', async () => {
    await call(station, 'project.create', { dir, name: 'Tiles' });
    productId = (await call(station, 'products.create', { name: 'MT-1' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const list = await call(station, 'defectTypes.list', { productId });
    expect(list.map((t) => [t.name, t.images, t.position])).toEqual([['blowhole', 2, 0], ['crack', 2, 1]]);
    expect(new Set(list.map((t) => t.colour)).size).toBe(2);
    for (const t of list) expect(t.colour).toMatch(/^#[0-9a-f]{6}$/);
  }, 120_000);

  it('adds a type at the end, refuses one that differs only in case, and refuses a bad colour', async () => {
    const added = await call(station, 'defectTypes.add', { productId, name: ' chip ', colour: '#00AAFF' });
    expect(added).toMatchObject({ name: 'chip', colour: '#00aaff', position: 2, images: 0 });
    await expect(call(station, 'defectTypes.add', { productId, name: 'Crack' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining("already has the defect type 'crack'") });
    await expect(call(station, 'defectTypes.add', { productId, name: 'stain', colour: 'red' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(call(station, 'defectTypes.add', { productId: 999, name: 'stain' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await call(station, 'defectTypes.list', { productId })).map((t) => t.name)).toEqual(['blowhole', 'crack', 'chip']);
  });

  it('renames a type together with every image labelled with it', async () => {
    const crack = (await call(station, 'defectTypes.list', { productId })).find((t) => t.name === 'crack')!;
    const { type, relabelled } = await call(station, 'defectTypes.rename', { id: crack.id, name: 'hairline crack' });
    expect(relabelled).toBe(2);
    expect(type).toMatchObject({ id: crack.id, name: 'hairline crack', images: 2, colour: crack.colour });
    const defective = (await call(station, 'images.list', { productId, verdict: 'defective' })).items;
    expect(defective.map((i) => i.defectType).sort()).toEqual(['blowhole', 'blowhole', 'hairline crack', 'hairline crack']);
    // renaming onto another type's name would merge two types silently: refused, nothing changed
    await expect(call(station, 'defectTypes.rename', { id: crack.id, name: 'BLOWHOLE' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await call(station, 'defectTypes.list', { productId })).map((t) => t.images)).toEqual([2, 2, 0]);
  });

  it('labels with a listed type in its listed spelling, and lists a new one by itself', async () => {
    const [first] = (await call(station, 'images.list', { productId, split: 'train' })).items;
    const [relabelled] = await call(station, 'images.label', { ids: [first!.id], verdict: 'defective', defectType: 'CHIP' });
    expect(relabelled!.defectType).toBe('chip');
    await call(station, 'images.label', { ids: [first!.id], verdict: 'defective', defectType: 'stain' });
    const list = await call(station, 'defectTypes.list', { productId });
    expect(list.map((t) => [t.name, t.images])).toEqual([['blowhole', 2], ['hairline crack', 2], ['chip', 0], ['stain', 1]]);
  });

  it('recolours, reorders and removes only a type no image carries', async () => {
    const list = await call(station, 'defectTypes.list', { productId });
    const byName = (n: string) => list.find((t) => t.name === n)!;
    expect((await call(station, 'defectTypes.recolour', { id: byName('chip').id, colour: '#123456' })).colour).toBe('#123456');
    const reordered = await call(station, 'defectTypes.reorder', { productId, ids: [byName('stain').id, byName('chip').id, byName('blowhole').id, byName('hairline crack').id] });
    expect(reordered.map((t) => t.name)).toEqual(['stain', 'chip', 'blowhole', 'hairline crack']);
    await expect(call(station, 'defectTypes.reorder', { productId, ids: [byName('stain').id] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(call(station, 'defectTypes.remove', { id: byName('stain').id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('labels 1 image') });
    expect(await call(station, 'defectTypes.remove', { id: byName('chip').id })).toEqual({ removed: true });
    expect((await call(station, 'defectTypes.list', { productId })).map((t) => t.name)).toEqual(['stain', 'blowhole', 'hairline crack']);
  });

  it('keeps the list from the command line: list, add, rename, colour, order, remove', async () => {
    await call(station, 'project.close', {});
    const argus = async (...args: string[]) => {
      const r = await runCli(['defect-types', '--project', dir, '--product', 'MT-1', ...args]);
      return { ...r, output: r.output.trim() };
    };
    const listed = await argus();
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toMatch(/1\s+stain\s+#[0-9a-f]{6}\s+1/);
    expect((await argus('add', 'burr', '--colour', '#abcdef')).output).toContain("defect type 'burr' added (#abcdef, position 4)");
    expect((await argus('rename', 'Hairline Crack', 'crack')).output).toContain('2 images relabelled');
    expect((await argus('colour', 'burr', '#000000')).code).toBe(0);
    expect((await argus('order', 'crack')).output).toContain('1 crack, 2 stain, 3 blowhole, 4 burr');
    const refused = await argus('remove', 'crack');
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('labels 2 images');
    expect((await argus('remove', 'burr')).code).toBe(0);
    const json = JSON.parse((await argus('list', '--json')).output) as Array<{ name: string; images: number }>;
    expect(json.map((t) => [t.name, t.images])).toEqual([['crack', 2], ['stain', 1], ['blowhole', 2]]);
    expect((await argus('remove', 'nothing')).output).toContain("has no defect type 'nothing'");
  }, 120_000);
});
