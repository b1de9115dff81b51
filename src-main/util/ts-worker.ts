/**
 * Worker threads that run this project's TypeScript modules directly: a tiny ES module entry
 * registers tsx's loader in the new thread, then imports the module. Both are resolved from here,
 * so any working directory works (CLI, tests, browser mode, Electron's main process).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

let loaderUrl: string | undefined;

function tsxLoader(): string {
  // require.resolve answers with the CommonJS build of tsx/esm/api; its ES module sits beside it
  loaderUrl ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return loaderUrl;
}

/** Starts a worker thread running the TypeScript module at `moduleUrl` (a file: URL). */
export function startTsWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  const code = `import { register } from ${JSON.stringify(tsxLoader())}; register(); await import(${JSON.stringify(moduleUrl.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}
