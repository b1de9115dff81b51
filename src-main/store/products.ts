/** Products (part numbers): the unit that images, models and reports belong to, with their ignore region. */
import { readBlob, registerBlob, stageBlob } from './blobs.ts';
import { StoreError } from './errors.ts';
import { pngSize } from './masks.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkId, checkString } from './validate.ts';

export interface Product {
  readonly id: number;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
  /** The product's ignore region (a PNG blob, applied to every image resized to it), if drawn. */
  readonly ignore: { readonly sha256: string; readonly width: number; readonly height: number } | null;
}

interface Row { id: number; name: string; description: string; created_at: string; ignore_sha256: string | null; ignore_width: number | null; ignore_height: number | null }
const toProduct = (r: Row): Product => ({
  id: r.id, name: r.name, description: r.description, createdAt: r.created_at,
  ignore: r.ignore_sha256 === null ? null : { sha256: r.ignore_sha256, width: r.ignore_width!, height: r.ignore_height! },
});

/** Adds a product. Names are unique in a project (a second one throws StoreError CONSTRAINT). */
export function add(p: Project, input: { name: string; description?: string }): Product {
  const name = checkString('name', input.name, { min: 1, max: 200 }).trim();
  if (name.length === 0) throw new RangeError('expected a non-blank name for the product');
  const description = checkString('description', input.description ?? '', { max: 10_000 });
  const id = p.transaction(() =>
    Number(p.statement('INSERT INTO products (name, description, created_at) VALUES (?, ?, ?)').run(name, description, nowIso()).lastInsertRowid));
  return get(p, id);
}

export function find(p: Project, id: number): Product | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM products WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toProduct(r);
}

/** The product `id`; StoreError NOT_FOUND when there is none. */
export function get(p: Project, id: number): Product {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no product ${id} in project ${p.dir}`);
  return found;
}

export function findByName(p: Project, name: string): Product | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM products WHERE name = ?').get(checkString('name', name)) as Row | undefined);
  return r && toProduct(r);
}

export function list(p: Project): Product[] {
  return p.guard(() => (p.statement('SELECT * FROM products ORDER BY id').all() as Row[]).map(toProduct));
}

/** Sets (or, with null, removes) the product's ignore region from PNG bytes of any size. */
export function setIgnore(p: Project, id: number, png: Uint8Array | null): Product {
  const productId = get(p, id).id;
  if (png === null) {
    p.transaction(() => p.statement('UPDATE products SET ignore_sha256 = NULL, ignore_width = NULL, ignore_height = NULL WHERE id = ?').run(productId));
    return get(p, productId);
  }
  const size = pngSize(checkBytes('png', png));
  if (!size) throw new StoreError('MASK_MISMATCH', `the ignore region for product ${productId} is not a PNG file`);
  const blob = stageBlob(p, png, 'image/png');
  p.transaction(() => {
    registerBlob(p, blob);
    p.statement('UPDATE products SET ignore_sha256 = ?, ignore_width = ?, ignore_height = ? WHERE id = ?').run(blob.sha256, size.width, size.height, productId);
  });
  return get(p, productId);
}

/** The product's ignore region as PNG bytes, or null. */
export function ignorePng(p: Project, product: Product): Buffer | null {
  return product.ignore === null ? null : readBlob(p, product.ignore.sha256);
}
