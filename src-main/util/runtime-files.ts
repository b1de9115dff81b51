/**
 * Where the files the main side reads or starts at run time lie (SQL migrations, the export runners,
 * worker-thread entries), in both ways Argus runs:
 * - from the TypeScript sources (CLI, browser mode, tests): beside the module that names them;
 * - compiled (scripts/build-electron.ts, the desktop app): in the bundles' one folder, where the
 *   build writes each worker entry as <name>.cjs and copies the other files under the names it gives.
 */
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set to true by the compiled build (esbuild's `define`); an undeclared global in the sources. */
declare const ARGUS_COMPILED: boolean | undefined;

/** True in the compiled build, false when the TypeScript sources run. */
export const COMPILED: boolean = typeof ARGUS_COMPILED !== 'undefined' && ARGUS_COMPILED === true;

/**
 * A run-time file or folder: `source` (relative to the calling module's import.meta.url) from the
 * sources, `compiled` (relative to the bundles' folder) in the compiled build.
 */
export function runtimeFile(source: URL, compiled: string): string {
  // a CommonJS bundle's __dirname is its own folder, which holds every bundle and copied file
  return COMPILED ? join(__dirname, compiled) : fileURLToPath(source);
}

/** A worker entry module: `./x-worker.ts` from the sources, x-worker.cjs in the compiled build. */
export function workerEntry(source: URL): string {
  return runtimeFile(source, basename(fileURLToPath(source)).replace(/\.ts$/, '.cjs'));
}
