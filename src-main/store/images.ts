/**
 * Images of a product. `add` stores a copy of the bytes under images/ (named by sha256, written
 * durably before the row is committed) and refuses the same bytes twice in one product
 * (DUPLICATE_IMAGE). Decoding and measuring the image is the caller's job (src-main/vision).
 */
import type { ImageFormat } from '../vision/image.ts';
import { ensure as ensureDefectType } from './defect-types.ts';
import { imageRelativePath, readVerified, sha256Hex, writeFileAtomic } from './blobs.ts';
import { StoreError } from './errors.ts';
import { insideProject } from './paths.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkId, checkInt, checkOneOf, checkOptionalId, checkString, invalidParameterError } from './validate.ts';

export type Split = 'train' | 'validation' | 'test';
export type Verdict = 'good' | 'defective' | 'unlabelled';
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];
export const VERDICTS: readonly Verdict[] = ['good', 'defective', 'unlabelled'];
export const FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'bmp', 'tiff', 'webp'];
const EXTENSION: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', bmp: 'bmp', tiff: 'tif', webp: 'webp' };

export interface NewImage {
  readonly productId: number;
  /** Where the image came from (kept for the manifest; never read by the store). */
  readonly originalPath: string;
  /** The file's bytes, exactly as imported. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly split: Split;
  readonly verdict?: Verdict;
  readonly defectType?: string | null;
  /** The import job that added it, if any. */
  readonly jobId?: number | null;
}

export interface Image {
  readonly id: number;
  readonly productId: number;
  readonly originalPath: string;
  /** Relative to the project folder: images/<ab>/<sha256>.<ext>. */
  readonly storedPath: string;
  readonly sha256: string;
  readonly byteSize: number;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly split: Split;
  readonly verdict: Verdict;
  readonly defectType: string | null;
  readonly jobId: number | null;
  readonly createdAt: string;
}

interface Row {
  id: number; product_id: number; original_path: string; stored_path: string; sha256: string; byte_size: number;
  width: number; height: number; format: ImageFormat; split: Split; verdict: Verdict; defect_type: string | null;
  job_id: number | null; created_at: string;
}
const toImage = (r: Row): Image => ({
  id: r.id, productId: r.product_id, originalPath: r.original_path, storedPath: r.stored_path, sha256: r.sha256,
  byteSize: r.byte_size, width: r.width, height: r.height, format: r.format, split: r.split, verdict: r.verdict,
  defectType: r.defect_type, jobId: r.job_id, createdAt: r.created_at,
});

const MAX_SIDE = 1 << 20;

function checkDefectType(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return checkString('defectType', v, { min: 1, max: 200 });
}

/** The image with these bytes in this product, if any. */
export function findBySha256(p: Project, productId: number, sha256: string): Image | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM images WHERE product_id = ? AND sha256 = ?').get(checkId('productId', productId), sha256) as Row | undefined);
  return r && toImage(r);
}

/**
 * Adds one image in its own transaction: the file is written (temp, fsync, rename) first, then the
 * row is committed. Throws StoreError DUPLICATE_IMAGE when the product already holds these bytes.
 */
export function add(p: Project, input: NewImage): Image {
  const productId = checkId('productId', input.productId);
  const originalPath = checkString('originalPath', input.originalPath, { min: 1, max: 4096 });
  const data = checkBytes('data', input.data);
  const width = checkInt('width', input.width, 1, MAX_SIDE);
  const height = checkInt('height', input.height, 1, MAX_SIDE);
  const format = checkOneOf('format', input.format, FORMATS);
  const split = checkOneOf('split', input.split, SPLITS);
  const verdict = checkOneOf('verdict', input.verdict ?? 'unlabelled', VERDICTS);
  const defectType = checkDefectType(input.defectType);
  const jobId = checkOptionalId('jobId', input.jobId);
  const sha256 = sha256Hex(data);
  const existing = findBySha256(p, productId, sha256);
  if (existing) throw new StoreError('DUPLICATE_IMAGE', `${originalPath} is a duplicate of image ${existing.id} (${existing.originalPath}) in product ${productId}`);
  const storedPath = imageRelativePath(sha256, EXTENSION[format]);
  writeFileAtomic(p.dir, storedPath, data);
  const insert = (): number => Number(p.statement(
    `INSERT INTO images (product_id, original_path, stored_path, sha256, byte_size, width, height, format, split,
                         verdict, defect_type, job_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(productId, originalPath, storedPath, sha256, data.length, width, height, format, split, verdict,
    defectType === null ? null : ensureDefectType(p, productId, defectType), jobId, nowIso()).lastInsertRowid);
  let id: number;
  try {
    id = p.transaction(insert);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'CONSTRAINT' && (err.cause as { code?: unknown } | undefined)?.code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new StoreError('DUPLICATE_IMAGE', `${originalPath} is a duplicate of an image already in product ${productId}`, { cause: err });
    }
    throw err;
  }
  return get(p, id);
}

export function find(p: Project, id: number): Image | undefined {
  const r = p.guard(() => p.statement('SELECT * FROM images WHERE id = ?').get(checkId('id', id)) as Row | undefined);
  return r && toImage(r);
}

/** The image `id`; StoreError NOT_FOUND when there is none. */
export function get(p: Project, id: number): Image {
  const found = find(p, id);
  if (!found) throw new StoreError('NOT_FOUND', `no image ${id} in project ${p.dir}`);
  return found;
}

export interface ImageFilter {
  readonly productId: number;
  readonly split?: Split;
  readonly verdict?: Verdict;
}

/** Images of a product in id (import) order, optionally of one split and/or verdict. */
export function list(p: Project, filter: ImageFilter): Image[] {
  const productId = checkId('productId', filter.productId);
  const split = filter.split === undefined ? null : checkOneOf('split', filter.split, SPLITS);
  const verdict = filter.verdict === undefined ? null : checkOneOf('verdict', filter.verdict, VERDICTS);
  return p.guard(() => (p.statement(
    `SELECT * FROM images WHERE product_id = @productId
       AND (@split IS NULL OR split = @split) AND (@verdict IS NULL OR verdict = @verdict) ORDER BY id`,
  ).all({ productId, split, verdict }) as Row[]).map(toImage));
}

export function count(p: Project, productId: number): number {
  return p.guard(() => (p.statement('SELECT count(*) AS n FROM images WHERE product_id = ?').get(checkId('productId', productId)) as { n: number }).n);
}

/**
 * Sets the verdict (and defect type; null clears it) of one image. A defect type not on the product's
 * list joins it; one differing from a listed name only in case takes the listed spelling.
 */
export function setLabel(p: Project, id: number, label: { verdict: Verdict; defectType?: string | null }): Image {
  const verdict = checkOneOf('verdict', label.verdict, VERDICTS);
  const defectType = checkDefectType(label.defectType);
  const imageId = checkId('id', id);
  p.transaction(() => {
    const image = get(p, imageId);
    const listed = defectType === null ? null : ensureDefectType(p, image.productId, defectType);
    p.statement('UPDATE images SET verdict = ?, defect_type = ? WHERE id = ?').run(verdict, listed, imageId);
  });
  return get(p, imageId);
}

/** Moves images to a split, all or none (one transaction). Returns how many changed. */
export function setSplit(p: Project, ids: readonly number[], split: Split): number {
  if (!Array.isArray(ids)) throw invalidParameterError('ids', 'an array of image ids', ids);
  const checked = ids.map((id, i) => checkId(`ids[${i}]`, id));
  const s = checkOneOf('split', split, SPLITS);
  return p.transaction(() => {
    const stmt = p.statement('UPDATE images SET split = ? WHERE id = ?');
    let n = 0;
    for (const id of checked) {
      const c = stmt.run(s, id).changes;
      if (c === 0) throw new StoreError('NOT_FOUND', `no image ${id} in project ${p.dir}`);
      n += c;
    }
    return n;
  });
}

/** Absolute path of the stored copy (checked to lie inside the project). */
export function filePath(p: Project, image: Image): string {
  return insideProject(p.dir, image.storedPath, 'stored image path');
}

/** The stored bytes, checked against the recorded sha256 (BLOB_MISSING / BLOB_CORRUPT otherwise). */
export function readBytes(p: Project, image: Image): Buffer {
  return readVerified(p.dir, image.storedPath, image.sha256);
}

/** An image with which masks it has, for lists. */
export interface ListedImage extends Image {
  readonly hasGroundTruth: boolean;
  readonly hasIgnore: boolean;
}

/** One page of a product's images in import order, optionally of one split and/or verdict. */
export function page(p: Project, filter: ImageFilter & { offset: number; limit: number }): { total: number; items: ListedImage[] } {
  const productId = checkId('productId', filter.productId);
  const split = filter.split === undefined ? null : checkOneOf('split', filter.split, SPLITS);
  const verdict = filter.verdict === undefined ? null : checkOneOf('verdict', filter.verdict, VERDICTS);
  const offset = checkInt('offset', filter.offset, 0);
  const limit = checkInt('limit', filter.limit, 1, 10_000);
  const where = 'product_id = @productId AND (@split IS NULL OR split = @split) AND (@verdict IS NULL OR verdict = @verdict)';
  return p.guard(() => {
    const { n } = p.statement(`SELECT count(*) AS n FROM images WHERE ${where}`).get({ productId, split, verdict }) as { n: number };
    const rows = p.statement(
      `SELECT i.*, EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'ground_truth') AS has_gt,
              EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'ignore') AS has_ignore
       FROM images i WHERE ${where} ORDER BY id LIMIT @limit OFFSET @offset`,
    ).all({ productId, split, verdict, limit, offset }) as Array<Row & { has_gt: number; has_ignore: number }>;
    return { total: n, items: rows.map((r) => ({ ...toImage(r), hasGroundTruth: r.has_gt === 1, hasIgnore: r.has_ignore === 1 })) };
  });
}

/** The same with one image. */
export function listed(p: Project, id: number): ListedImage {
  const image = get(p, id);
  const kinds = new Set((p.statement('SELECT kind FROM masks WHERE image_id = ?').all(image.id) as { kind: string }[]).map((r) => r.kind));
  return { ...image, hasGroundTruth: kinds.has('ground_truth'), hasIgnore: kinds.has('ignore') };
}
