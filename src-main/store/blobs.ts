/**
 * Content-addressed files. A file is written to `tmp/`, fsync'd, renamed into place and its folder
 * fsync'd, so that it is complete on disk before any row that names it is committed. A crash leaves
 * at most an orphan in `tmp/` (removed on the next open) or an unreferenced complete file.
 *
 *   images/<ab>/<sha256>.<ext>   imported images (stored_path in `images`)
 *   blobs/<ab>/<sha256>          everything else (rows in `blobs`, referenced by sha256)
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StoreError } from './errors.ts';
import { insideProject } from './paths.ts';
import type { Project } from './project.ts';
import { nowIso } from './time.ts';

export const TMP_DIR = 'tmp';
export const BLOBS_DIR = 'blobs';
export const IMAGES_DIR = 'images';

const SHA256 = /^[0-9a-f]{64}$/;

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function assertSha256(sha: string, what = 'sha256'): void {
  if (typeof sha !== 'string' || !SHA256.test(sha)) throw new TypeError(`expected 64 lowercase hex digits for ${what}, received ${JSON.stringify(sha)}`);
}

/** Relative path of a blob in the project. */
export function blobRelativePath(sha: string): string {
  assertSha256(sha);
  return `${BLOBS_DIR}/${sha.slice(0, 2)}/${sha}`;
}

/** Relative path of a stored image in the project. */
export function imageRelativePath(sha: string, ext: string): string {
  assertSha256(sha);
  if (!/^[a-z0-9]{1,8}$/.test(ext)) throw new RangeError(`expected a short lowercase extension for the image, received ${JSON.stringify(ext)}`);
  return `${IMAGES_DIR}/${sha.slice(0, 2)}/${sha}.${ext}`;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` durably at `relPath` inside the project `root` (atomic: temp file, fsync, rename,
 * fsync of the folder). When a file is already there (same name means same content) it is kept.
 */
export function writeFileAtomic(root: string, relPath: string, data: Uint8Array): void {
  const target = insideProject(root, relPath);
  if (existsSync(target)) return;
  const tmpDir = insideProject(root, TMP_DIR);
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
  const fd = openSync(tmp, 'wx');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  const dir = dirname(target);
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  renameSync(tmp, target);
  fsyncDir(dir);
  if (created) fsyncDir(dirname(dir));
}

/**
 * The same for many files at once: written and fsync'd concurrently, so the disk flushes them together
 * (an import of many small images is bound by flushes, one at a time it manages a few hundred a second
 * at best), then renamed into place and each folder fsync'd once. Every file is complete on disk when
 * the promise resolves; on a failure the temp files are removed and none is renamed.
 */
export async function writeFilesAtomic(root: string, files: ReadonlyArray<{ relPath: string; data: Uint8Array }>): Promise<void> {
  const pending = files.map((f) => ({ target: insideProject(root, f.relPath), data: f.data })).filter((f) => !existsSync(f.target));
  if (pending.length === 0) return;
  const tmpDir = insideProject(root, TMP_DIR);
  mkdirSync(tmpDir, { recursive: true });
  const staged = pending.map((f) => ({ ...f, tmp: join(tmpDir, `${randomBytes(8).toString('hex')}.part`) }));
  try {
    await Promise.all(staged.map(async (f) => {
      const handle = await open(f.tmp, 'wx');
      try {
        await handle.writeFile(f.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }));
  } catch (err) {
    for (const f of staged) rmSync(f.tmp, { force: true });
    throw err;
  }
  const dirs = new Set<string>();
  for (const f of staged) {
    const dir = dirname(f.target);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      dirs.add(dirname(dir));
    }
    renameSync(f.tmp, f.target);
    dirs.add(dir);
  }
  await Promise.all([...dirs].map(async (dir) => {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }));
}

/** Reads a stored file and checks that it still hashes to `sha`. */
export function readVerified(root: string, relPath: string, sha: string): Buffer {
  const abs = insideProject(root, relPath);
  let data: Buffer;
  try {
    data = readFileSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('BLOB_MISSING', `stored file ${relPath} is missing`, { cause: err });
    throw new StoreError('BLOB_CORRUPT', `stored file ${relPath} cannot be read (${code ?? (err as Error).message})`, { cause: err });
  }
  const actual = sha256Hex(data);
  if (actual !== sha) throw new StoreError('BLOB_CORRUPT', `stored file ${relPath} hashes to ${actual}, expected ${sha}`);
  return data;
}

/** Removes every file left in `tmp/` by an interrupted write. Returns how many were removed. */
export function cleanTemp(root: string): number {
  const tmpDir = insideProject(root, TMP_DIR);
  if (!existsSync(tmpDir)) return 0;
  let n = 0;
  for (const name of readdirSync(tmpDir)) {
    rmSync(join(tmpDir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** A blob whose file is durably in place (not yet registered in a transaction). */
export interface StagedBlob {
  readonly sha256: string;
  readonly byteSize: number;
  readonly mediaType: string;
}

/**
 * Phase 1 of storing a blob, outside any transaction: writes the file durably (see
 * writeFileAtomic). Phase 2 is `registerBlob` inside the transaction that inserts the referencing row.
 */
export function stageBlob(project: Project, data: Uint8Array, mediaType: string): StagedBlob {
  const sha256 = sha256Hex(data);
  writeFileAtomic(project.dir, blobRelativePath(sha256), data);
  return { sha256, byteSize: data.length, mediaType };
}

/** Phase 2: records the staged blob's row (idempotent). Call inside a transaction. */
export function registerBlob(project: Project, blob: StagedBlob): void {
  project.statement('INSERT OR IGNORE INTO blobs (sha256, byte_size, media_type, created_at) VALUES (?, ?, ?, ?)')
    .run(blob.sha256, blob.byteSize, blob.mediaType, nowIso());
}

/** The bytes of blob `sha`, checked against its hash (BLOB_MISSING / BLOB_CORRUPT otherwise). */
export function readBlob(project: Project, sha: string): Buffer {
  return readVerified(project.dir, blobRelativePath(sha), sha);
}
