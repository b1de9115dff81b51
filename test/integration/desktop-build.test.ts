/**
 * The desktop app as shipped: scripts/build-electron.ts compiles the whole main side into one folder,
 * the compiled station runs on plain Node without tsx or the TypeScript sources (a real project, real
 * images, a real training job and inspection through the compiled worker thread), and
 * electron-builder.yml packs that folder and nothing of the sources. Electron itself cannot run here
 * (no binary), so the shell's bundle is checked by what it leaves to run time.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildElectron, MAIN_SIDE_EXTERNALS, RUNTIME_FOLDERS, STATION_BUNDLE, WORKER_ENTRIES, type ElectronBuild } from '../../scripts/build-electron.ts';
import { SHARED_DATA, sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

/** The non-built-in modules a bundle leaves to run time. */
function externals(build: ElectronBuild, bundle: string): string[] {
  const imports = build.imports[bundle];
  if (!imports) throw new Error(`no bundle ${bundle}; built: ${Object.keys(build.imports).join(', ')}`);
  return imports.filter((i) => !BUILTINS.has(i));
}

/**
 * A copy of the packaged app's layout: package.json, models/manifest.json, the compiled main side in
 * dist/electron and node_modules holding only the production dependencies (links to this checkout's),
 * as electron-builder packs them. tsx, a devDependency, is not there.
 */
function packagedLayout(app: string): void {
  mkdirSync(join(app, 'models'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  copyFileSync(join(ROOT, 'models', 'manifest.json'), join(app, 'models', 'manifest.json'));
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [key, entry] of Object.entries(lock.packages)) {
    const name = key.slice('node_modules/'.length);
    if (!key.startsWith('node_modules/') || name.includes('/node_modules/') || entry.dev) continue;
    const source = join(ROOT, 'node_modules', name);
    if (!existsSync(source)) continue; // an optional package for another platform
    mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
    symlinkSync(source, join(app, 'node_modules', name), 'junction');
  }
}

describe('the compiled main side (scripts/build-electron.ts)', () => {
  const app = mkdtempSync(join(tmpdir(), 'argus-app-'));
  const outDir = join(app, 'dist', 'electron');
  let build: ElectronBuild;
  beforeAll(async () => {
    packagedLayout(app);
    build = await buildElectron({ outDir });
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('leaves only Electron, the native modules, pdfkit and Node built-ins to run time, and no TypeScript', () => {
    expect(externals(build, 'main.cjs')).toEqual([STATION_BUNDLE, 'electron'].sort());
    expect(externals(build, 'preload.cjs')).toEqual(['electron']);
    for (const bundle of ['station.cjs', ...WORKER_ENTRIES.map((e) => `${basename(e, '.ts')}.cjs`)]) {
      for (const name of externals(build, bundle)) expect(MAIN_SIDE_EXTERNALS, `${bundle} requires ${name}`).toContain(name);
    }
    expect(externals(build, 'station.cjs')).toEqual(expect.arrayContaining(['better-sqlite3', 'onnxruntime-node', 'sharp']));
    expect(build.inputs.filter((i) => i.includes('node_modules/tsx/'))).toEqual([]);
    for (const file of readdirSync(outDir).filter((f) => f.endsWith('.cjs'))) {
      const code = readFileSync(join(outDir, file), 'utf8');
      expect(code, file).not.toMatch(/\bimport\.meta\b/);
      expect(code, file).not.toMatch(/require\(["']tsx/);
    }
  });

  it('builds every worker entry the sources start and copies every folder they read at run time', () => {
    const sources = filesUnder(join(ROOT, 'src-main')).filter((f) => f.endsWith('.ts'));
    const workers = new Set<string>();
    const folders = new Map<string, string>();
    for (const file of sources) {
      const code = readFileSync(join(ROOT, 'src-main', file), 'utf8');
      for (const m of code.matchAll(/new URL\('\.\/([\w-]+)\.ts', import\.meta\.url\)/g)) workers.add(`src-main/${dirname(file)}/${m[1]}.ts`);
      for (const m of code.matchAll(/runtimeFile\(new URL\('\.\/([\w-]+)\/', import\.meta\.url\), '([\w-]+)'\)/g)) folders.set(`src-main/${dirname(file)}/${m[1]}`, m[2]!);
    }
    expect([...workers].sort()).toEqual([...WORKER_ENTRIES].sort());
    for (const entry of WORKER_ENTRIES) expect(existsSync(build.workers[basename(entry, '.ts')]!), entry).toBe(true);
    expect(folders).toEqual(new Map(RUNTIME_FOLDERS.map((f) => [f.from, f.to])));
    for (const { from, to } of RUNTIME_FOLDERS) {
      expect(filesUnder(join(outDir, to)), to).toEqual(filesUnder(join(ROOT, from)));
      expect(filesUnder(join(outDir, to)).length, to).toBeGreaterThan(0);
    }
  });

  it('runs the station on plain Node without tsx or the sources: a project, an import, a PatchCore training and an inspection in the compiled worker thread', async () => {
    const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 1 });
    const project = join(app, 'project');
    const env: NodeJS.ProcessEnv = { ...process.env, ARGUS_MODELS_DIR: resolve(SHARED_DATA, '..', 'models') };
    delete env['NODE_OPTIONS'];
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(ROOT, 'test', 'fixtures', 'compiled-station.cjs'), build.station, project, data],
        { cwd: app, env, timeout: 110_000, maxBuffer: 64 << 20 },
      );
      const run = JSON.parse(stdout.trim().split('\n').pop()!) as {
        imported: { status: string; result: { imported: number } };
        trained: { status: string; error: string | null };
        models: Array<{ method: string; version: number }>;
        inspected: { status: string; error: string | null };
        results: { total: number; items: Array<{ score: number }> };
        loaded: string[];
      };
      expect(run.imported.status).toBe('succeeded');
      expect(run.imported.result.imported).toBe(8);
      expect(run.trained.status, run.trained.error ?? '').toBe('succeeded');
      expect(run.models.map((m) => [m.method, m.version])).toEqual([['patchcore', 1]]);
      expect(run.inspected.status, run.inspected.error ?? '').toBe('succeeded');
      expect(run.results.total).toBe(2);
      for (const r of run.results.items) expect(Number.isFinite(r.score)).toBe(true);
      expect(run.loaded).toEqual([]);
      // the project's database was created by the copied migrations
      expect(existsSync(project)).toBe(true);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 120_000);
});

interface BuilderConfig {
  readonly files: ReadonlyArray<{ readonly filter: readonly string[] }>;
  readonly asarUnpack: readonly string[];
  readonly npmRebuild?: boolean;
  readonly linux: { readonly target: readonly string[] };
  readonly extraMetadata?: { readonly homepage?: string; readonly author?: { readonly name?: string; readonly email?: string } };
  readonly win: { readonly target: readonly string[] };
}
type Filter = (file: string, stat: { isDirectory(): boolean }) => boolean;

describe('electron-builder.yml', () => {
  // electron-builder's own configuration loader, schema check and file matcher (app-builder-lib is electron-builder's engine)
  const require = createRequire(join(ROOT, 'package.json'));
  const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    getConfig(projectDir: string, configPath: string | null, configFromOptions: null): Promise<BuilderConfig>;
    validateConfiguration(config: BuilderConfig, logger: unknown): Promise<void>;
  };
  const { FileMatcher } = require('app-builder-lib/out/fileMatcher.js') as {
    FileMatcher: new (from: string, to: string, macroExpander: (s: string) => string, patterns: readonly string[]) => { createFilter(): Filter };
  };
  const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
  const app = mkdtempSync(join(tmpdir(), 'argus-pack-'));
  let config: BuilderConfig;
  let build: ElectronBuild;
  beforeAll(async () => {
    config = await getConfig(ROOT, null, null);
    build = await buildElectron({ outDir: join(app, 'dist', 'electron') });
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  const matcher = (patterns: readonly string[]): ((path: string) => boolean) => {
    const filter = new FileMatcher(ROOT, join(app, 'packed'), (s) => s, patterns).createFilter();
    return (path) => filter(join(ROOT, path), statSync(join(ROOT, path), { throwIfNoEntry: false }) ?? { isDirectory: () => false });
  };

  it('passes electron-builder schema validation and builds AppImage and deb for Linux, NSIS for Windows', async () => {
    await validateConfiguration(config, new DebugLogger(false));
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    // electron-builder's deb target refuses to build without a homepage and the author's e-mail (its maintainer)
    expect(config.extraMetadata?.homepage).toMatch(/^https:\/\//);
    expect(config.extraMetadata?.author?.name).toBeTruthy();
    expect(config.extraMetadata?.author?.email).toMatch(/^[^@\s]+@[^@\s]+$/);
    expect(config.win.target).toEqual(['nsis']);
  });

  it('packs the compiled main side, the renderer and the manifest, and nothing of the TypeScript sources', () => {
    const packs = matcher(config.files[0]!.filter);
    const built = filesUnder(build.outDir).map((f) => `dist/electron/${f}`);
    for (const file of built.filter((f) => !f.endsWith('.map'))) expect(packs(file), file).toBe(true);
    for (const file of ['package.json', 'models/manifest.json', 'dist/renderer/index.html', 'dist/renderer/assets/index.js']) expect(packs(file), file).toBe(true);
    const main = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string }).main;
    expect(built).toContain(main);
    for (const dir of ['src-main', 'bin', 'scripts', 'test', 'src-renderer']) {
      for (const file of filesUnder(join(ROOT, dir))) expect(packs(`${dir}/${file}`), `${dir}/${file}`).toBe(false);
    }
  });

  it('packs no tsx: it is a devDependency, and electron-builder packs production dependencies only', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.dependencies).not.toHaveProperty('tsx');
    expect(pkg.devDependencies).toHaveProperty('tsx');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(lock.packages['node_modules/tsx']?.dev).toBe(true);
    for (const name of MAIN_SIDE_EXTERNALS) {
      expect(pkg.dependencies, name).toHaveProperty(name);
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBeUndefined();
    }
  });

  it('unpacks every native binary out of app.asar and rebuilds the native modules for Electron', () => {
    const unpacks = matcher(config.asarUnpack);
    const nativeFiles = ['better-sqlite3', 'onnxruntime-node', '@img']
      .flatMap((m) => filesUnder(join(ROOT, 'node_modules', m)).map((f) => `node_modules/${m}/${f}`))
      .filter((f) => /\.(node|so(\.\d+)*|dll|dylib)$/.test(f));
    expect(nativeFiles.some((f) => f.endsWith('better_sqlite3.node'))).toBe(true);
    for (const file of nativeFiles) expect(unpacks(file), file).toBe(true);
    expect(unpacks('dist/electron/station.cjs')).toBe(false);
    expect(config.npmRebuild).not.toBe(false);
    // @electron/rebuild rebuilds what node-gyp builds: better-sqlite3 (sharp and onnxruntime-node are Node-API prebuilds)
    expect(existsSync(join(ROOT, 'node_modules', 'better-sqlite3', 'binding.gyp'))).toBe(true);
  });
});
