/**
 * Serving the built renderer from a folder, shared by browser mode (HTTP) and Electron's `argus://`
 * protocol: a request path maps to a regular file inside the folder or to nothing. Dot segments
 * (also percent-encoded), hidden files, encoded separators and NUL bytes name nothing; symbolic
 * links may not lead outside the folder; folders are never listed.
 */
import { realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';

export const INDEX_FILE = 'index.html';

/** What `/` shows while the renderer has not been built (the API works without it). */
export const RENDERER_NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Argus</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Argus</h1>
<p>The station is running, but its user interface has not been built yet.</p>
<p>Run <code>npm run build:renderer</code> in the Argus folder, then reload this page.</p>
</body></html>
`;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export interface StaticFile {
  readonly file: string;
  readonly contentType: string;
  /** The index page, asked for or as the fallback of an extension-less path (client-side routes). */
  readonly index: boolean;
}

/** The decoded path segments of a raw request path, or null when any segment is not servable. */
export function safeSegments(rawPath: string): string[] | null {
  const path = rawPath.split(/[?#]/, 1)[0] ?? '';
  if (!path.startsWith('/')) return null;
  const segments: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment.startsWith('.') || /[/\\\0:]/.test(segment)) return null;
    segments.push(segment);
  }
  return segments;
}

async function regularFileInside(root: string, candidate: string): Promise<string | null> {
  try {
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(candidate)]);
    const rel = relative(realRoot, realFile);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return null;
    return (await stat(realFile)).isFile() ? realFile : null;
  } catch {
    return null;
  }
}

/** The file `rawPath` (as sent, percent-encoded, query allowed) names inside `root`, or null. */
export async function resolveStaticFile(root: string, rawPath: string): Promise<StaticFile | null> {
  const segments = safeSegments(rawPath);
  if (!segments) return null;
  const index = async (): Promise<StaticFile | null> => {
    const file = await regularFileInside(root, join(root, INDEX_FILE));
    return file ? { file, contentType: contentTypeFor(file), index: true } : null;
  };
  if (segments.length === 0 || (segments.length === 1 && segments[0] === INDEX_FILE)) return index();
  const file = await regularFileInside(root, join(root, ...segments));
  if (file) return { file, contentType: contentTypeFor(file), index: false };
  const last = segments[segments.length - 1] ?? '';
  return last.includes('.') ? null : index();
}
