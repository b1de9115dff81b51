/**
 * A full consistency check of a project: SQLite's integrity and foreign-key checks, then every
 * stored file that a row names must exist and (with `hashes`, the default) hash to its name.
 */
import { existsSync } from 'node:fs';
import { blobRelativePath, readVerified } from './blobs.ts';
import { StoreError } from './errors.ts';
import { insideProject } from './paths.ts';
import type { Project } from './project.ts';

export interface VerifyReport {
  readonly ok: boolean;
  /** `PRAGMA integrity_check` lines ('ok' when sound). */
  readonly integrity: readonly string[];
  readonly foreignKeyViolations: number;
  /** Relative paths of files named by a row but absent. */
  readonly missing: readonly string[];
  /** Relative paths of files whose bytes do not hash to their recorded sha256. */
  readonly corrupt: readonly string[];
  readonly filesChecked: number;
}

export function verifyProject(p: Project, options: { hashes?: boolean } = {}): VerifyReport {
  const hashes = options.hashes ?? true;
  return p.guard(() => {
    const integrity = (p.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    const foreignKeyViolations = (p.db.pragma('foreign_key_check') as unknown[]).length;
    const files: { path: string; sha: string }[] = [
      ...(p.db.prepare('SELECT stored_path AS path, sha256 AS sha FROM images').all() as { path: string; sha: string }[]),
      ...(p.db.prepare('SELECT sha256 AS sha FROM blobs').all() as { sha: string }[]).map(({ sha }) => ({ path: blobRelativePath(sha), sha })),
    ];
    const missing: string[] = [];
    const corrupt: string[] = [];
    for (const f of files) {
      if (!hashes) {
        if (!existsSync(insideProject(p.dir, f.path))) missing.push(f.path);
        continue;
      }
      try {
        readVerified(p.dir, f.path, f.sha);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'BLOB_MISSING') missing.push(f.path);
        else if (err instanceof StoreError && (err.code === 'BLOB_CORRUPT' || err.code === 'PATH_OUTSIDE_PROJECT')) corrupt.push(f.path);
        else throw err;
      }
    }
    const ok = integrity.length === 1 && integrity[0] === 'ok' && foreignKeyViolations === 0 && missing.length === 0 && corrupt.length === 0;
    return { ok, integrity, foreignKeyViolations, missing, corrupt, filesChecked: files.length };
  });
}
