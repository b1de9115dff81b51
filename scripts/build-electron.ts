/**
 * Bundles the Electron shell: src-main/app/main.ts -> dist/electron/main.cjs and
 * src-main/app/preload.ts -> dist/electron/preload.cjs. CommonJS, because Electron's sandboxed
 * preloads must be. Native modules, Electron and tsx stay external (the main process loads the
 * station's TypeScript through tsx at run time; see main.ts).
 *
 *   npm run build:electron            # or: await buildElectron({ outDir })
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

export const ELECTRON_EXTERNALS = ['electron', 'onnxruntime-node', 'sharp', 'better-sqlite3', 'tsx', 'tsx/*'];
/** Electron 45 runs Node 22 and Chromium 140. */
const MAIN_TARGET = 'node22';
const PRELOAD_TARGET = 'chrome140';

export interface ElectronBuildOptions {
  /** The repository root; default: this script's parent folder. */
  readonly root?: string;
  /** Default: <root>/dist/electron. */
  readonly outDir?: string;
}

export interface ElectronBuild {
  readonly main: string;
  readonly preload: string;
  /** Every module each bundle leaves to run-time `require`/`import` (externals and Node built-ins). */
  readonly imports: { readonly main: readonly string[]; readonly preload: readonly string[] };
}

function externalImports(metafile: esbuild.Metafile): string[] {
  const found = new Set<string>();
  for (const output of Object.values(metafile.outputs)) for (const i of output.imports) if (i.external) found.add(i.path);
  return [...found].sort();
}

export async function buildElectron(options: ElectronBuildOptions = {}): Promise<ElectronBuild> {
  const root = resolve(options.root ?? join(import.meta.dirname, '..'));
  const outDir = resolve(options.outDir ?? join(root, 'dist', 'electron'));
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'cjs',
    external: ELECTRON_EXTERNALS,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  } as const satisfies esbuild.BuildOptions;
  const main = join(outDir, 'main.cjs');
  const preload = join(outDir, 'preload.cjs');
  const [mainResult, preloadResult] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(root, 'src-main', 'app', 'main.ts')], outfile: main, platform: 'node', target: MAIN_TARGET }),
    esbuild.build({ ...common, entryPoints: [join(root, 'src-main', 'app', 'preload.ts')], outfile: preload, platform: 'browser', target: PRELOAD_TARGET }),
  ]);
  return { main, preload, imports: { main: externalImports(mainResult.metafile), preload: externalImports(preloadResult.metafile) } };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const built = await buildElectron();
  console.log(`built ${built.main} and ${built.preload}`);
}
