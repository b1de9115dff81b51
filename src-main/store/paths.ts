/**
 * Paths at the store's boundary. Every path the store reads or writes inside a project goes through
 * `insideProject`, which resolves it (relative paths against the project folder), follows symbolic
 * links as far as the path exists, and refuses anything that ends up outside the folder.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { StoreError } from './errors.ts';

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function realish(p: string): string {
  let head = p;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) return p;
    tail.unshift(head.slice(up.length).replace(/^[\\/]+/, ''));
    head = up;
  }
  return resolve(realpathSync(head), ...tail);
}

function contains(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Resolves `p` against the project folder `root` and returns the absolute path. Throws
 * StoreError PATH_OUTSIDE_PROJECT when the result (after following symbolic links) is not inside
 * `root`; TypeError when `p` is not a non-empty string.
 */
export function insideProject(root: string, p: string, what = 'path'): string {
  if (typeof p !== 'string' || p.length === 0) throw new TypeError(`expected a non-empty string for ${what}, received ${typeof p === 'string' ? 'an empty string' : typeof p}`);
  if (p.includes('\0')) throw new TypeError(`${what} contains a NUL character`);
  const abs = resolve(root, p);
  const realRoot = realish(resolve(root));
  if (!contains(resolve(root), abs) || !contains(realRoot, realish(abs))) {
    throw new StoreError('PATH_OUTSIDE_PROJECT', `${what} '${p}' resolves to ${abs}, which is outside the project folder ${resolve(root)}`);
  }
  return abs;
}

/** The path of `abs` relative to the project folder, with forward slashes (as kept in rows). */
export function projectRelative(root: string, abs: string): string {
  return relative(resolve(root), insideProject(root, abs)).split(sep).join('/');
}
