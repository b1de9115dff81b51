/**
 * Starts a worker thread on one of this project's worker modules, wherever the code runs from
 * (runtime-files.ts): the compiled build starts the compiled .cjs entry directly; from the
 * TypeScript sources a tiny ES module entry registers tsx's loader in the new thread, then imports
 * the module. Both are resolved from here, so any working directory works (CLI, tests, browser mode,
 * the desktop app).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { COMPILED, workerEntry } from './runtime-files.ts';

let loaderUrl: string | undefined;

function tsxLoader(): string {
  // require.resolve answers with the CommonJS build of tsx/esm/api; its ES module sits beside it
  loaderUrl ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return loaderUrl;
}

/** Starts a worker thread running the worker module at `source` (a file: URL of its .ts file). */
export function startWorker(source: URL, options: WorkerOptions = {}): Worker {
  const entry = workerEntry(source);
  if (COMPILED) return new Worker(entry, options);
  const code = `import { register } from ${JSON.stringify(tsxLoader())}; register(); await import(${JSON.stringify(pathToFileURL(entry).href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}
