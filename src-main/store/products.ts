/** Products (part numbers): the unit that images, models and reports belong to. */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkId, checkString } from './validate.ts';

export interface Product {
  readonly id: number;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

interface Row { id: number; name: string; description: string; created_at: string }
const toProduct = (r: Row): Product => ({ id: r.id, name: r.name, description: r.description, createdAt: r.created_at });

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
