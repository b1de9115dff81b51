/**
 * Compiles the whole main side for the desktop app into one folder (default dist/electron), so that
 * the shipped app runs no TypeScript and needs neither tsx nor src-main:
 *
 *   main.cjs      the Electron shell (src-main/app/main.ts); requires station.cjs beside it
 *   preload.cjs   the sandboxed preload (src-main/app/preload.ts)
 *   station.cjs   the station and everything under it (services, store, engine, methods)
 *   <x>.cjs       one bundle per worker-thread entry (src-main/.../<x>.ts, see WORKER_ENTRIES)
 *   migrations/   the store's SQL migrations      } the files read at run time, under the names
 *   runner/       the export package's runners    } src-main/util/runtime-files.ts gives them
 *
 * CommonJS, because Electron's sandboxed preloads must be. Each bundle is marked compiled
 * (ARGUS_COMPILED) and gets its own file URL as import.meta.url. Electron and the native modules stay
 * external (electron-builder rebuilds those for Electron's ABI), and so does pdfkit, which reads its
 * font data beside its own files.
 *
 *   npm run build:electron            # or: await buildElectron({ outDir })
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

/** Loaded at run time from node_modules: native code (rebuilt for Electron), and pdfkit (data files). */
export const NATIVE_MODULES = ['better-sqlite3', 'onnxruntime-node', 'sharp'] as const;
export const MAIN_SIDE_EXTERNALS = [...NATIVE_MODULES, 'pdfkit'] as const;
/** The shell's one run-time require of its own: the station bundle beside it. */
export const STATION_BUNDLE = './station.cjs';

/** Worker-thread entries (started through src-main/util/worker-thread.ts); each becomes <name>.cjs. */
export const WORKER_ENTRIES = ['src-main/jobs/worker.ts', 'src-main/methods/simplenet/noise-worker.ts', 'src-main/methods/padim/covariance-worker.ts'] as const;
/** Folders read at run time, copied to the names src-main/util/runtime-files.ts gives them. */
export const RUNTIME_FOLDERS = [
  { from: 'src-main/store/migrations', to: 'migrations' },
  { from: 'src-main/export/runner', to: 'runner' },
] as const;

/** Electron 45 runs Node 22 and Chromium 140. */
const MAIN_TARGET = 'node22';
const PRELOAD_TARGET = 'chrome140';
const BUNDLE_URL = 'ARGUS_BUNDLE_URL';

export interface ElectronBuildOptions {
  /** The repository root; default: this script's parent folder. */
  readonly root?: string;
  /** Default: <root>/dist/electron (emptied first). */
  readonly outDir?: string;
}

export interface ElectronBuild {
  readonly outDir: string;
  readonly main: string;
  readonly preload: string;
  readonly station: string;
  /** The worker bundles, by entry file name without .ts (worker, noise-worker, ...). */
  readonly workers: Readonly<Record<string, string>>;
  /** Every module each bundle leaves to run-time `require` (externals and Node built-ins), by bundle file name. */
  readonly imports: Readonly<Record<string, readonly string[]>>;
  /** Every input file compiled into any bundle, relative to the root. */
  readonly inputs: readonly string[];
}

export async function buildElectron(options: ElectronBuildOptions = {}): Promise<ElectronBuild> {
  const root = resolve(options.root ?? join(import.meta.dirname, '..'));
  const outDir = resolve(options.outDir ?? join(root, 'dist', 'electron'));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'cjs',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  } as const satisfies esbuild.BuildOptions;
  const node = {
    ...common,
    platform: 'node',
    target: MAIN_TARGET,
    define: { ARGUS_COMPILED: 'true', 'import.meta.url': BUNDLE_URL },
    banner: { js: `var ${BUNDLE_URL} = require("node:url").pathToFileURL(__filename).href;` },
  } as const satisfies esbuild.BuildOptions;
  const workerNames = WORKER_ENTRIES.map((entry) => basename(entry, '.ts'));
  const results = await Promise.all([
    esbuild.build({ ...node, entryPoints: [join(root, 'src-main', 'app', 'main.ts')], outfile: join(outDir, 'main.cjs'), external: ['electron', STATION_BUNDLE] }),
    esbuild.build({ ...common, entryPoints: [join(root, 'src-main', 'app', 'preload.ts')], outfile: join(outDir, 'preload.cjs'), platform: 'browser', target: PRELOAD_TARGET, external: ['electron'] }),
    esbuild.build({
      ...node,
      entryPoints: Object.fromEntries([['station', join(root, 'src-main', 'services', 'station.ts')], ...WORKER_ENTRIES.map((entry, i) => [workerNames[i]!, join(root, entry)])]),
      outdir: outDir,
      outExtension: { '.js': '.cjs' },
      external: [...MAIN_SIDE_EXTERNALS],
    }),
  ]);
  for (const { from, to } of RUNTIME_FOLDERS) cpSync(join(root, from), join(outDir, to), { recursive: true });

  const imports: Record<string, string[]> = {};
  const inputs = new Set<string>();
  for (const result of results) {
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      if (file.endsWith('.map')) continue;
      imports[basename(file)] = [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort();
    }
    for (const input of Object.keys(result.metafile.inputs)) inputs.add(input);
  }
  return {
    outDir,
    main: join(outDir, 'main.cjs'),
    preload: join(outDir, 'preload.cjs'),
    station: join(outDir, 'station.cjs'),
    workers: Object.fromEntries(workerNames.map((name) => [name, join(outDir, `${name}.cjs`)])),
    imports,
    inputs: [...inputs].sort(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const built = await buildElectron();
  console.log(`built ${Object.keys(built.imports).sort().join(', ')} and the run-time files in ${built.outDir}`);
}
