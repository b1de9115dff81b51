/**
 * Import: files and folders (or MVTec-layout datasets) into a product. Every file is checked on its
 * own — read, format sniffed, fully decoded (truncated and corrupt files fail here, enormous ones are
 * refused by the decoder's limits), hashed against the product's images — so a bad file is one line
 * in the summary; the good ones are stored a batch at a time (IMPORT_BATCH: files flushed together,
 * rows in one transaction), so a kill loses at most the batch in hand.
 * Running the same import again (or resuming it) skips what is already in the product.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { ApiRequest } from '../api/contract.ts';
import { IMAGE_EXTENSIONS, scanMvtec } from '../datasets/mvtec.ts';
import type { JobContext } from '../jobs/queue.ts';
import { images, jobs, masks, products, StoreError, type Project } from '../store/index.ts';
import { decodeImageBuffer, ImageReadError, MAX_IMAGE_FILE_BYTES, sniffImageFormat } from '../vision/image.ts';
import { encodePng } from '../vision/picture.ts';
import { readMask } from '../vision/mask.ts';

export type ImportParams = ApiRequest<'images.import'>;

interface ImportEntry {
  readonly path: string;
  readonly split: images.Split;
  readonly verdict: images.Verdict;
  readonly defectType: string | null;
  readonly maskPath?: string;
}

export interface ImportSummary {
  imported: number;
  duplicates: number;
  failed: number;
  problems: Array<{ path: string; problem: string }>;
}

const MAX_PROBLEMS_KEPT = 1000;
/**
 * Files read, decoded and stored together: their files are flushed to disk at once and their rows
 * committed in one transaction (a kill loses at most this many, which a resumed import redoes).
 */
const IMPORT_BATCH = 32;
const SINGLE_FILES = 64;
/** Folders are walked to this depth; deeper trees are almost always a wrong pick. */
const MAX_DEPTH = 12;

function walk(dir: string, depth: number, out: string[], problems: ImportSummary['problems'], visited: Set<string>): void {
  let names: string[];
  try {
    // a folder reached again through a symbolic link (a loop, or two links to one place) is listed once
    const real = realpathSync(dir);
    if (visited.has(real)) {
      problems.push({ path: dir, problem: `folder ${real} was already listed (a symbolic link loop?), skipped` });
      return;
    }
    visited.add(real);
    names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    problems.push({ path: dir, problem: `cannot list folder: ${(err as Error).message}` });
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      problems.push({ path, problem: `cannot read: ${(err as Error).message}` });
      continue;
    }
    if (st.isDirectory()) {
      if (depth < MAX_DEPTH) walk(path, depth + 1, out, problems, visited);
      else problems.push({ path, problem: `folder nested deeper than ${MAX_DEPTH} levels, skipped` });
    } else if (st.isFile() && IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) {
      out.push(path);
    } else if (st.isFile()) {
      problems.push({ path, problem: `not an image file (${extname(name) || 'no extension'}), skipped` });
    }
  }
}

/** What the request names, as import entries; listing problems go to `problems`. */
export function collectEntries(params: ImportParams, problems: ImportSummary['problems']): ImportEntry[] {
  const entries: ImportEntry[] = [];
  const visited = new Set<string>();
  for (const given of params.paths) {
    const path = resolve(given);
    if (params.layout === 'mvtec') {
      try {
        const dataset = scanMvtec(path);
        problems.push(...dataset.issues.filter((i) => !i.problem.endsWith('ignored')));
        for (const d of dataset.train) entries.push({ path: d.path, split: 'train', verdict: 'good', defectType: null });
        for (const d of dataset.test) {
          entries.push({
            path: d.path, split: 'test', verdict: d.defective ? 'defective' : 'good', defectType: d.defective ? d.defectType : null,
            ...(d.maskPath ? { maskPath: d.maskPath } : {}),
          });
        }
      } catch (err) {
        problems.push({ path, problem: `not an MVTec-layout dataset: ${(err as Error).message}` });
      }
      continue;
    }
    let st;
    try {
      st = statSync(path);
    } catch {
      problems.push({ path, problem: 'no such file or folder' });
      continue;
    }
    const files: string[] = [];
    if (st.isDirectory()) walk(path, 0, files, problems, visited);
    else files.push(path);
    for (const f of files) entries.push({ path: f, split: params.split, verdict: params.verdict, defectType: null });
  }
  return entries;
}

interface CheckedImage {
  readonly data: Buffer;
  readonly format: images.NewImage['format'];
  readonly width: number;
  readonly height: number;
}

/** Reads and checks one file; the bytes, format and size, or an ImageReadError. */
async function readChecked(path: string): Promise<CheckedImage> {
  let data: Buffer;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size === 0) throw new Error('file is empty (0 bytes)');
    if (st.size > MAX_IMAGE_FILE_BYTES) throw new Error(`file too large (${st.size} bytes)`);
    data = readFileSync(path);
  } catch (err) {
    throw new ImageReadError(path, (err as Error).message, { cause: err });
  }
  return checkImageBytes(data, path);
}

/** Checks bytes as an image file: a known format that decodes completely. */
async function checkImageBytes(data: Buffer, path: string): Promise<CheckedImage> {
  if (data.length === 0) throw new ImageReadError(path, 'file is empty (0 bytes)');
  const format = sniffImageFormat(data);
  if (!format) throw new ImageReadError(path, 'unsupported format (not PNG, JPEG, BMP, TIFF or WebP)');
  const decoded = await decodeImageBuffer(data, path);
  return { data, format, width: decoded.width, height: decoded.height };
}

/** A ground-truth mask file as the store's PNG of the image's size (any image format is accepted). */
async function maskPng(path: string, width: number, height: number): Promise<Buffer> {
  const mask = await readMask(path);
  if (mask.width !== width || mask.height !== height) {
    throw new StoreError('MASK_MISMATCH', `mask is ${mask.width}x${mask.height} but its image is ${width}x${height}`);
  }
  const pixels = new Uint8Array(mask.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = mask.data[i] ? 255 : 0;
  return (await encodePng(pixels, width, height, 1)).png;
}

function problem(summary: ImportSummary, path: string, text: string): void {
  if (summary.problems.length < MAX_PROBLEMS_KEPT) summary.problems.push({ path, problem: text });
  else if (summary.problems.length === MAX_PROBLEMS_KEPT) summary.problems.push({ path: '-', problem: 'further problems not listed' });
}

export interface ImportOutcome {
  readonly summary: ImportSummary;
  /** Every image the import added or found already in the product, each once, in file order. */
  readonly imageIds: number[];
}

/** The import job's handler. */
export async function runImport(p: Project, ctx: JobContext): Promise<ImportOutcome> {
  const params = ctx.job.params as ImportParams;
  const productId = products.get(p, params.productId).id;
  const summary: ImportSummary = { imported: 0, duplicates: 0, failed: 0, problems: [] };
  const entries = collectEntries(params, summary.problems);
  if (summary.problems.length > MAX_PROBLEMS_KEPT) {
    summary.problems.length = MAX_PROBLEMS_KEPT;
    summary.problems.push({ path: '-', problem: 'further problems not listed' });
  }
  // the interrupted runs this one continues: what they imported is progress, not a duplicate
  const earlier = new Set(jobs.lineage(p, ctx.job.id).slice(1));
  const imageIds: number[] = [];
  const seen = new Set<number>();
  let lastSaved = Date.now();
  // one file at a time for the first SINGLE_FILES (a small import commits each file as it comes), then
  // batches growing 2, 4, … up to IMPORT_BATCH (a big import flushes many files at a time)
  for (let start = 0, size = 1; start < entries.length && !ctx.signal.aborted; start += size, size = start < SINGLE_FILES ? 1 : Math.min(IMPORT_BATCH, size * 2)) {
    const batch = entries.slice(start, start + size);
    const files = await Promise.all(batch.map((entry) => readChecked(entry.path).catch((err: unknown) => {
      if (err instanceof ImageReadError) return err;
      throw err;
    })));
    const readable = batch.flatMap((entry, k) => {
      const file = files[k]!;
      return file instanceof ImageReadError ? [] : [{
        productId, originalPath: entry.path, ...file, split: entry.split, verdict: entry.verdict, defectType: entry.defectType, jobId: ctx.job.id,
      }];
    });
    const outcomes = await images.addMany(p, readable);
    let next = 0;
    for (const [k, entry] of batch.entries()) {
      const file = files[k]!;
      if (file instanceof ImageReadError) {
        summary.failed++;
        problem(summary, entry.path, file.reason);
        continue;
      }
      const outcome = outcomes[next++]!;
      let image: images.Image;
      if ('added' in outcome) {
        image = outcome.added;
        summary.imported++;
      } else {
        const existing = outcome.duplicateOf;
        // a resumed import finds its own earlier work: that is progress, not a duplicate (unless this
        // run has met the same bytes already, under another name)
        if (seen.has(existing.id) || existing.jobId === null || !earlier.has(existing.jobId)) {
          summary.duplicates++;
          problem(summary, entry.path, `duplicate of image ${existing.id} (${existing.originalPath}), skipped`);
        }
        image = existing;
      }
      const first = !seen.has(image.id);
      if (first) {
        seen.add(image.id);
        imageIds.push(image.id);
      }
      if (first && entry.maskPath && !masks.find(p, image.id, 'ground_truth')) {
        try {
          masks.set(p, { imageId: image.id, kind: 'ground_truth', png: await maskPng(entry.maskPath, image.width, image.height) });
        } catch (err) {
          if (!(err instanceof ImageReadError || err instanceof StoreError)) throw err;
          problem(summary, entry.maskPath, `mask not imported (image kept without it): ${err instanceof ImageReadError ? err.reason : err.message}`);
        }
      }
    }
    const done = start + batch.length;
    ctx.progress({ fraction: done / entries.length, step: 'import', message: `${done} of ${entries.length} files` });
    if (Date.now() - lastSaved > 1000) {
      jobs.setResult(p, ctx.job.id, summary);
      lastSaved = Date.now();
    }
  }
  jobs.setResult(p, ctx.job.id, summary);
  return { summary, imageIds };
}

export type UploadParams = ApiRequest<'images.upload'>;

/**
 * Image files sent as bytes (browser-mode drag and drop): each checked and stored like an imported
 * file, its name kept as the original path; duplicates and unreadable files are listed, never stored.
 */
export async function importUploaded(p: Project, params: UploadParams): Promise<ImportSummary> {
  const productId = products.get(p, params.productId).id;
  const summary: ImportSummary = { imported: 0, duplicates: 0, failed: 0, problems: [] };
  const checked = await Promise.all(params.files.map((file) => checkImageBytes(Buffer.from(file.base64, 'base64'), file.name).catch((err: unknown) => {
    if (err instanceof ImageReadError) return err;
    throw err;
  })));
  const readable = params.files.flatMap((file, k) => {
    const image = checked[k]!;
    return image instanceof ImageReadError ? [] : [{ productId, originalPath: file.name, ...image, split: params.split, verdict: params.verdict }];
  });
  const outcomes = await images.addMany(p, readable);
  let next = 0;
  for (const [k, file] of params.files.entries()) {
    const image = checked[k]!;
    if (image instanceof ImageReadError) {
      summary.failed++;
      problem(summary, file.name, image.reason);
      continue;
    }
    const outcome = outcomes[next++]!;
    if ('added' in outcome) summary.imported++;
    else {
      summary.duplicates++;
      problem(summary, file.name, `duplicate of image ${outcome.duplicateOf.id} (${outcome.duplicateOf.originalPath}), skipped`);
    }
  }
  return summary;
}
