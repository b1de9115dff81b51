/**
 * Each product's list of defect types: name (unique in the product whatever its case), colour
 * ('#rrggbb') and position. An image's label keeps the type's name (images.defect_type); a name used
 * on an image that is not listed yet joins the list (`ensure`), so the list is always complete;
 * renaming rewrites the images labelled with the old name; a type still on images cannot be removed.
 */
import { StoreError } from './errors.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkId, checkString, invalidParameterError } from './validate.ts';

export interface DefectType {
  readonly id: number;
  readonly productId: number;
  readonly name: string;
  readonly colour: string;
  readonly position: number;
  readonly createdAt: string;
  /** Images of the product labelled with it. */
  readonly images: number;
}

/** Colours of new types, in turn (also those of migration 0008). */
export const PALETTE = ['#ff3b30', '#ff9f0a', '#ffd60a', '#30d158', '#00c7be', '#64d2ff', '#ff375f', '#ac8e68', '#8bc34a', '#f5a3c7'] as const;

interface Row { id: number; product_id: number; name: string; colour: string; position: number; created_at: string; images: number }
const toType = (r: Row): DefectType => ({ id: r.id, productId: r.product_id, name: r.name, colour: r.colour, position: r.position, createdAt: r.created_at, images: r.images });

const SELECT = `SELECT d.*, (SELECT count(*) FROM images i WHERE i.product_id = d.product_id AND i.defect_type = d.name) AS images FROM defect_types d`;

export function checkName(v: unknown): string {
  const name = checkString('name', v, { min: 1, max: 200 }).trim();
  if (name.length === 0) throw new RangeError('expected a non-blank name for the defect type');
  return name;
}

export function checkColour(v: unknown): string {
  if (typeof v !== 'string') throw invalidParameterError('colour', "a colour '#rrggbb'", v);
  if (!/^#[0-9a-fA-F]{6}$/.test(v)) throw new RangeError(`expected a colour '#rrggbb' (six hex digits) for colour, received ${JSON.stringify(v)}`);
  return v.toLowerCase();
}

function checkProduct(p: Project, productId: number): number {
  const id = checkId('productId', productId);
  if (!p.statement('SELECT 1 FROM products WHERE id = ?').get(id)) throw new StoreError('NOT_FOUND', `no product ${id} in project ${p.dir}`);
  return id;
}

/** The product's defect types in list order. */
export function list(p: Project, productId: number): DefectType[] {
  return p.guard(() => (p.statement(`${SELECT} WHERE d.product_id = ? ORDER BY d.position, d.id`).all(checkProduct(p, productId)) as Row[]).map(toType));
}

export function get(p: Project, id: number): DefectType {
  const r = p.guard(() => p.statement(`${SELECT} WHERE d.id = ?`).get(checkId('id', id)) as Row | undefined);
  if (!r) throw new StoreError('NOT_FOUND', `no defect type ${id} in project ${p.dir}`);
  return toType(r);
}

function findByName(p: Project, productId: number, name: string): DefectType | undefined {
  const r = p.statement(`${SELECT} WHERE d.product_id = ? AND d.name = ?`).get(productId, name) as Row | undefined;
  return r && toType(r);
}

function duplicate(productId: number, existing: DefectType): StoreError {
  return new StoreError('CONSTRAINT', `product ${productId} already has the defect type '${existing.name}' (names are unique whatever their case); pick another name`);
}

/** Adds a type at the end of the list (colour: the palette's next one unless given). */
export function add(p: Project, productId: number, input: { name: string; colour?: string | undefined }): DefectType {
  const product = checkProduct(p, productId);
  const name = checkName(input.name);
  const given = input.colour === undefined ? null : checkColour(input.colour);
  const id = p.transaction(() => {
    const existing = findByName(p, product, name);
    if (existing) throw duplicate(product, existing);
    const { n, next } = p.statement('SELECT count(*) AS n, coalesce(max(position) + 1, 0) AS next FROM defect_types WHERE product_id = ?').get(product) as { n: number; next: number };
    const colour = given ?? PALETTE[n % PALETTE.length]!;
    return Number(p.statement('INSERT INTO defect_types (product_id, name, colour, position, created_at) VALUES (?, ?, ?, ?, ?)').run(product, name, colour, next, nowIso()).lastInsertRowid);
  });
  return get(p, id);
}

/**
 * The listed spelling of `name` in the product, adding it to the list when it is new (labelling and
 * importing call this, inside their own transaction).
 */
export function ensure(p: Project, productId: number, name: string): string {
  const checked = checkName(name);
  const existing = findByName(p, productId, checked);
  return existing ? existing.name : add(p, productId, { name: checked }).name;
}

/** Renames a type and every image of the product labelled with its old name, in one transaction. */
export function rename(p: Project, id: number, newName: string): { type: DefectType; relabelled: number } {
  const name = checkName(newName);
  const relabelled = p.transaction(() => {
    const type = get(p, id);
    const clash = findByName(p, type.productId, name);
    if (clash && clash.id !== type.id) throw duplicate(type.productId, clash);
    p.statement('UPDATE defect_types SET name = ? WHERE id = ?').run(name, type.id);
    return p.statement('UPDATE images SET defect_type = ? WHERE product_id = ? AND defect_type = ?').run(name, type.productId, type.name).changes;
  });
  return { type: get(p, id), relabelled };
}

export function recolour(p: Project, id: number, colour: string): DefectType {
  const c = checkColour(colour);
  const changed = p.transaction(() => p.statement('UPDATE defect_types SET colour = ? WHERE id = ?').run(c, checkId('id', id)).changes);
  if (changed === 0) throw new StoreError('NOT_FOUND', `no defect type ${id} in project ${p.dir}`);
  return get(p, id);
}

/** Removes a type no image is labelled with (CONSTRAINT otherwise: relabel those images or rename the type). */
export function remove(p: Project, id: number): void {
  p.transaction(() => {
    const type = get(p, id);
    if (type.images > 0) {
      throw new StoreError('CONSTRAINT', `the defect type '${type.name}' labels ${type.images} image${type.images === 1 ? '' : 's'}; relabel ${type.images === 1 ? 'it' : 'them'} first, or rename the type instead`);
    }
    p.statement('DELETE FROM defect_types WHERE id = ?').run(type.id);
    p.statement('UPDATE defect_types SET position = position - 1 WHERE product_id = ? AND position > ?').run(type.productId, type.position);
  });
}

/** Puts the product's types in the order given (every one of them, each once). */
export function reorder(p: Project, productId: number, ids: readonly number[]): DefectType[] {
  const product = checkProduct(p, productId);
  if (!Array.isArray(ids)) throw invalidParameterError('ids', 'an array of defect type ids', ids);
  const checked = ids.map((id, i) => checkId(`ids[${i}]`, id));
  p.transaction(() => {
    const current = list(p, product).map((t) => t.id);
    const same = checked.length === current.length && new Set(checked).size === checked.length && checked.every((id) => current.includes(id));
    if (!same) throw new RangeError(`expected every defect type of product ${product} once (${current.join(', ') || 'none'}), received ${checked.join(', ') || 'none'}`);
    const stmt = p.statement('UPDATE defect_types SET position = ? WHERE id = ?');
    checked.forEach((id, position) => stmt.run(position, id));
  });
  return list(p, product);
}
