/**
 * Images of a product. `add` stores a copy of the bytes under images/ (named by sha256, written
 * durably before the row is committed) and refuses the same bytes twice in one product
 * (DUPLICATE_IMAGE). Decoding and measuring the image is the caller's job (src-main/vision).
 */
import type { ImageFormat } from '../vision/image.ts';
import { ensure as ensureDefectType } from './defect-types.ts';
import { imageRelativePath, readVerified, sha256Hex, writeFileAtomic, writeFilesAtomic } from './blobs.ts';
import { StoreError } from './errors.ts';
import { insideProject } from './paths.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';
import { checkBytes, checkFinite, checkId, checkInt, checkOneOf, checkOptionalId, checkString, invalidParameterError } from './validate.ts';

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

/** What `addMany` did with one input: the image it stored, or the image already holding these bytes. */
export type AddOutcome = { readonly added: Image } | { readonly duplicateOf: Image };

/**
 * Adds a batch of images: every file written durably together (blobs.ts writeFilesAtomic), then every
 * row in one transaction, so a batch costs a few disk flushes instead of a few per image. An input
 * whose bytes the product already holds, or an earlier input of the batch holds, is not stored: its
 * outcome names that image. Inputs are checked first; a bad one throws before anything is written.
 */
export async function addMany(p: Project, inputs: readonly NewImage[]): Promise<AddOutcome[]> {
  if (!Array.isArray(inputs)) throw invalidParameterError('inputs', 'an array of new images', inputs);
  const checked = inputs.map((input, i) => {
    const format = checkOneOf(`inputs[${i}].format`, input.format, FORMATS);
    const data = checkBytes(`inputs[${i}].data`, input.data);
    const sha256 = sha256Hex(data);
    return {
      productId: checkId(`inputs[${i}].productId`, input.productId),
      originalPath: checkString(`inputs[${i}].originalPath`, input.originalPath, { min: 1, max: 4096 }),
      data, sha256, format, storedPath: imageRelativePath(sha256, EXTENSION[format]),
      width: checkInt(`inputs[${i}].width`, input.width, 1, MAX_SIDE),
      height: checkInt(`inputs[${i}].height`, input.height, 1, MAX_SIDE),
      split: checkOneOf(`inputs[${i}].split`, input.split, SPLITS),
      verdict: checkOneOf(`inputs[${i}].verdict`, input.verdict ?? 'unlabelled', VERDICTS),
      defectType: checkDefectType(input.defectType),
      jobId: checkOptionalId(`inputs[${i}].jobId`, input.jobId),
    };
  });
  // the first input with these bytes in its product is stored; the others repeat it or an image already there
  const firstOf = new Map<string, number>();
  const repeats = checked.map((c, i) => {
    const key = `${c.productId}:${c.sha256}`;
    const existing = findBySha256(p, c.productId, c.sha256);
    if (existing) return existing;
    const first = firstOf.get(key);
    if (first !== undefined) return first;
    firstOf.set(key, i);
    return null;
  });
  const freshIndexes = checked.flatMap((_, i) => (repeats[i] === null ? [i] : []));
  const fresh = freshIndexes.map((i) => checked[i]!);
  await writeFilesAtomic(p.dir, fresh.map((c) => ({ relPath: c.storedPath, data: c.data })));
  const at = nowIso();
  const ids = p.transaction(() => {
    const insert = p.statement(
      `INSERT INTO images (product_id, original_path, stored_path, sha256, byte_size, width, height, format, split, verdict, defect_type, job_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return fresh.map((c) => Number(insert.run(c.productId, c.originalPath, c.storedPath, c.sha256, c.data.length, c.width, c.height, c.format, c.split, c.verdict,
      c.defectType === null ? null : ensureDefectType(p, c.productId, c.defectType), c.jobId, at).lastInsertRowid));
  });
  const added = new Map<number, Image>();
  freshIndexes.forEach((i, k) => added.set(i, get(p, ids[k]!)));
  return repeats.map((r, i) => {
    if (r === null) return { added: added.get(i)! };
    return { duplicateOf: typeof r === 'number' ? added.get(r)! : r };
  });
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

/** A grid row: the image, its latest score under the filter's model (if one is named) and its latest reviewer decision. */
export interface GridImage extends ListedImage {
  readonly score: number | null;
  readonly decision: 'pass' | 'fail' | null;
}

/** Reviewer decisions as a filter: the image's latest decision passed or failed it, or there is none. */
export const DECISION_FILTERS = ['pass', 'fail', 'none'] as const;
export type DecisionFilter = (typeof DECISION_FILTERS)[number];

/** What the dataset grid filters by; every filter is optional and they combine with AND. */
export interface GridFilter extends ImageFilter {
  /** Images of this defect type. */
  readonly defectType?: string;
  /** The model whose latest result per image gives its score (required by scoreMin / scoreMax). */
  readonly modelId?: number;
  /** Inclusive score range of the image's latest result under `modelId`; images without one are left out. */
  readonly scoreMin?: number;
  readonly scoreMax?: number;
  readonly decision?: DecisionFilter;
}

interface GridQuery {
  readonly params: Record<string, unknown>;
  /** FROM … WHERE … with only the conditions the filter needs, so the planner uses the 0009 indexes. */
  readonly fromWhere: string;
}

const LATEST_RESULT = '(SELECT max(id) FROM results WHERE model_id = @modelId AND image_id = i.id)';
const LATEST_DECISION = '(SELECT max(id) FROM decisions WHERE image_id = i.id)';

function gridQuery(filter: GridFilter): GridQuery {
  const params: Record<string, unknown> = { productId: checkId('productId', filter.productId) };
  const where = ['i.product_id = @productId'];
  if (filter.split !== undefined) {
    params['split'] = checkOneOf('split', filter.split, SPLITS);
    where.push('i.split = @split');
  }
  if (filter.verdict !== undefined) {
    params['verdict'] = checkOneOf('verdict', filter.verdict, VERDICTS);
    where.push('i.verdict = @verdict');
  }
  if (filter.defectType !== undefined) {
    params['defectType'] = checkString('defectType', filter.defectType, { min: 1, max: 200 });
    where.push('i.defect_type = @defectType');
  }
  if (filter.modelId !== undefined) params['modelId'] = checkId('modelId', filter.modelId);
  if (filter.scoreMin !== undefined || filter.scoreMax !== undefined) {
    if (filter.modelId === undefined) throw invalidParameterError('modelId', 'the model whose scores the score range filters by', undefined);
    // driven from the model's results in score order (results_by_model_score): only those in range are looked at
    const range: string[] = [];
    if (filter.scoreMin !== undefined) {
      params['scoreMin'] = checkFinite('scoreMin', filter.scoreMin);
      range.push('r.score >= @scoreMin');
    }
    if (filter.scoreMax !== undefined) {
      params['scoreMax'] = checkFinite('scoreMax', filter.scoreMax);
      range.push('r.score <= @scoreMax');
    }
    where.push(`i.id IN (SELECT r.image_id FROM results r WHERE r.model_id = @modelId AND ${range.join(' AND ')}
      AND r.id = (SELECT max(id) FROM results WHERE model_id = @modelId AND image_id = r.image_id))`);
  }
  if (filter.decision !== undefined) {
    const decision = checkOneOf('decision', filter.decision, DECISION_FILTERS);
    if (decision === 'none') where.push('i.id NOT IN (SELECT image_id FROM decisions)');
    else {
      params['decision'] = decision;
      // driven from the decisions (few beside the images): the latest one per image, of this verdict
      where.push(`i.id IN (SELECT d.image_id FROM decisions d WHERE d.verdict = @decision AND d.id = (SELECT max(id) FROM decisions WHERE image_id = d.image_id))`);
    }
  }
  return { params, fromWhere: `FROM images i WHERE ${where.join(' AND ')}` };
}

/**
 * One page of a product's images in import order, filtered (GridFilter). Offset paging over the
 * 0009 indexes: the page's ids are found with only the filter's joins, then only those rows are
 * decorated with masks, score and decision (bench/scale.ts measures first, deep and filtered pages).
 */
export function page(p: Project, filter: GridFilter & { offset: number; limit: number }): { total: number; items: GridImage[] } {
  const { params, fromWhere } = gridQuery(filter);
  const offset = checkInt('offset', filter.offset, 0);
  const limit = checkInt('limit', filter.limit, 1, 10_000);
  const scored = params['modelId'] !== undefined;
  return p.guard(() => {
    const { n } = p.statement(`SELECT count(*) AS n ${fromWhere}`).get(params) as { n: number };
    const rows = p.statement(
      `WITH page AS (SELECT i.id ${fromWhere} ORDER BY i.id LIMIT @limit OFFSET @offset)
       SELECT i.*, EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'ground_truth') AS has_gt,
              EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'ignore') AS has_ignore,
              ${scored ? `(SELECT score FROM results WHERE id = ${LATEST_RESULT})` : 'NULL'} AS score,
              (SELECT verdict FROM decisions WHERE id = ${LATEST_DECISION}) AS decision
       FROM page JOIN images i ON i.id = page.id ORDER BY i.id`,
    ).all({ ...params, limit, offset }) as Array<Row & { has_gt: number; has_ignore: number; score: number | null; decision: 'pass' | 'fail' | null }>;
    return {
      total: n,
      items: rows.map((r) => ({ ...toImage(r), hasGroundTruth: r.has_gt === 1, hasIgnore: r.has_ignore === 1, score: r.score, decision: r.decision })),
    };
  });
}

/** How many of a product's images fall in each split, label, defect type and latest decision (the grid's facet counts). */
export interface FacetCounts {
  readonly total: number;
  readonly splits: Record<Split, number>;
  readonly verdicts: Record<Verdict, number>;
  /** Defect types by name (images without one are not listed), most frequent first. */
  readonly defectTypes: Array<{ defectType: string; count: number }>;
  readonly decisions: Record<DecisionFilter, number>;
}

export function facetCounts(p: Project, productId: number): FacetCounts {
  const id = checkId('productId', productId);
  return p.guard(() => {
    const splits: Record<Split, number> = { train: 0, validation: 0, test: 0 };
    for (const r of p.statement('SELECT split, count(*) AS n FROM images WHERE product_id = ? GROUP BY split').all(id) as Array<{ split: Split; n: number }>) splits[r.split] = r.n;
    const verdicts: Record<Verdict, number> = { good: 0, defective: 0, unlabelled: 0 };
    for (const r of p.statement('SELECT verdict, count(*) AS n FROM images WHERE product_id = ? GROUP BY verdict').all(id) as Array<{ verdict: Verdict; n: number }>) verdicts[r.verdict] = r.n;
    const defectTypes = (p.statement(
      'SELECT defect_type AS defectType, count(*) AS count FROM images WHERE product_id = ? AND defect_type IS NOT NULL GROUP BY defect_type ORDER BY count DESC, defect_type',
    ).all(id) as Array<{ defectType: string; count: number }>);
    const total = splits.train + splits.validation + splits.test;
    const decisions: Record<DecisionFilter, number> = { pass: 0, fail: 0, none: total };
    for (const r of p.statement(
      `SELECT d.verdict AS verdict, count(*) AS n FROM decisions d JOIN images i ON i.id = d.image_id
       WHERE i.product_id = ? AND d.id = (SELECT max(id) FROM decisions WHERE image_id = d.image_id) GROUP BY d.verdict`,
    ).all(id) as Array<{ verdict: 'pass' | 'fail'; n: number }>) {
      decisions[r.verdict] = r.n;
      decisions.none -= r.n;
    }
    return { total, splits, verdicts, defectTypes, decisions };
  });
}

/** The same with one image. */
export function listed(p: Project, id: number): ListedImage {
  const image = get(p, id);
  const kinds = new Set((p.statement('SELECT kind FROM masks WHERE image_id = ?').all(image.id) as { kind: string }[]).map((r) => r.kind));
  return { ...image, hasGroundTruth: kinds.has('ground_truth'), hasIgnore: kinds.has('ignore') };
}
