/**
 * An exported model package: a self-contained folder with the backbone and head ONNX graphs, the
 * pre-processing graph and its description, the threshold policy, two runners (Node, Python), a golden
 * set of the project's images with the station's scores and maps, and manifest.json naming every
 * file with its sha256. The package is accepted only when its own Node runner, run as a separate
 * process, reproduces the station's golden scores and maps within the stated tolerance.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { backbonePath, getBackbone, PROJECT_ROOT, sha256File } from '../features/backbones.ts';
import type { FittedModel } from '../methods/method.ts';
import { runtimeFile } from '../util/runtime-files.ts';
import { detectorOf } from '../methods/position-norm.ts';
import { TiledModel } from '../methods/tiling.ts';
import { buildHead } from './heads.ts';
import { buildPreprocessGraph, DECODE_RULE, describeTiling, RESAMPLE_RULE, type PreprocessDescription, type TilingDescription } from './preprocess.ts';

export const PACKAGE_FORMAT = 'argus-export';
export const PACKAGE_FORMAT_VERSION = 1;
const RUNNER_DIR = runtimeFile(new URL('./runner/', import.meta.url), 'runner');

/**
 * How closely a runner must reproduce the station. Scores: |runner − station| / |station|. Maps: the
 * largest pixel difference over the station map's range (max − min). Measured on the test's models
 * (README, "Model export"): every method within 1e-5 of both. Float32 heads differ from the station
 * by summation order only. Int8 heads quantise activations per call, so a last-bit difference
 * upstream can move one activation by a whole quantisation step: before the pre-processing ran in
 * float64 that showed as map differences of 2e-3 to 6e-3 with scores still within 3e-4; the int8
 * bound leaves room for such a rare step and nothing more.
 */
export interface Tolerance {
  readonly score: number;
  readonly map: number;
}
export const TOLERANCE: Readonly<Record<'float32' | 'int8', Tolerance>> = {
  float32: { score: 1e-4, map: 1e-4 },
  int8: { score: 1e-3, map: 1e-2 },
};

/** A golden image: the file and what the station computed for it. */
export interface GoldenImage {
  readonly path: string;
  /** The file name the package gives it (the image's original name). */
  readonly name: string;
  readonly label: 'good' | 'defective' | 'unlabelled';
  readonly score: number;
  readonly map: Float32Array;
  readonly mapWidth: number;
  readonly mapHeight: number;
}

export interface ThresholdPolicy {
  readonly version: number;
  readonly imageThreshold: number;
  readonly reviewLow: number | null;
  readonly reviewHigh: number | null;
  readonly pixelThreshold: number | null;
  readonly note: string;
}

export interface ModelIdentity {
  readonly id: number;
  readonly version: number;
  readonly productId: number;
  readonly productName: string;
  readonly projectName: string;
}

export interface ImageParity {
  readonly file: string;
  readonly expectedScore: number;
  readonly score: number | null;
  readonly scoreDiff: number;
  readonly mapDiff: number;
  readonly passed: boolean;
  readonly problem?: string;
}

export interface RunnerParity {
  readonly runner: 'node' | 'python';
  /** 'skipped' when the runner's language has no onnxruntime (Python): `reason` says why. */
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly reason?: string;
  readonly worstScoreDiff: number;
  readonly worstMapDiff: number;
  readonly images: readonly ImageParity[];
}

export interface ManifestFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface GoldenEntry {
  readonly file: string;
  readonly label: GoldenImage['label'];
  readonly score: number;
  readonly mapWidth: number;
  readonly mapHeight: number;
  readonly map: string;
}

export interface PackageManifest {
  readonly format: typeof PACKAGE_FORMAT;
  readonly formatVersion: number;
  readonly argusVersion: string;
  readonly createdAt: string;
  readonly method: string;
  readonly precision: 'float32' | 'int8';
  readonly model: ModelIdentity & { readonly backbones: ReadonlyArray<{ readonly role: string; readonly id: string; readonly sha256: string; readonly file: string }> };
  readonly tolerance: Tolerance;
  /** A tiled model's canvas and tiles (also in preprocess.json); null for a stretch or letterbox model. */
  readonly tiling: TilingDescription | null;
  readonly golden: readonly GoldenEntry[];
  readonly parity: readonly RunnerParity[];
  readonly files: readonly ManifestFile[];
}

/** The export was refused or a package failed verification; `parity` holds the per-image differences. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(message: string, readonly parity: readonly RunnerParity[] = []) {
    super(message);
  }
}

function argusVersion(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A file name safe inside the package: letters, digits, '.', '_', '-' only. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

const GENERATED = ['manifest.json', 'preprocess.json', 'threshold.json', 'head.onnx', 'preprocess.onnx', 'run.mjs', 'run.py', 'package.json', 'README.txt', 'golden'];

/**
 * Checks --out: a new or empty folder, or an earlier export of the same model (its files are replaced).
 * Anything else is refused, so an export never overwrites unrelated files.
 */
export function checkOutputFolder(out: string, modelId: number): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new ExportError(`${out} exists and is not a folder; choose a new or empty folder`);
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  const manifestPath = join(out, 'manifest.json');
  let earlier: Partial<PackageManifest> | undefined;
  try {
    earlier = JSON.parse(readFileSync(manifestPath, 'utf8')) as Partial<PackageManifest>;
  } catch {
    earlier = undefined;
  }
  if (earlier?.format !== PACKAGE_FORMAT || earlier.model?.id !== modelId) {
    throw new ExportError(`${out} is not empty and is not an earlier export of model ${modelId}; choose a new or empty folder`);
  }
  const known = new Set([...GENERATED, ...(earlier.files ?? []).map((f) => f.path.split('/')[0]!)]);
  const foreign = entries.filter((e) => !known.has(e));
  if (foreign.length > 0) throw new ExportError(`${out} holds files that are not part of the earlier export (${foreign.slice(0, 5).join(', ')}); move them or choose another folder`);
}

function clearPackage(out: string): void {
  if (!existsSync(out)) return;
  for (const e of readdirSync(out)) rmSync(join(out, e), { recursive: true, force: true });
}

function within(root: string, rel: string): string {
  const abs = resolve(root, rel);
  if (abs !== root && !abs.startsWith(root + sep)) throw new ExportError(`package path ${rel} points outside ${root}`);
  return abs;
}

function filesUnder(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(root, p) : [relative(root, p).split(sep).join('/')];
  }).sort();
}

export interface WriteRequest {
  readonly out: string;
  /** The stored model as the station decoded it. */
  readonly model: FittedModel;
  readonly identity: ModelIdentity;
  readonly threshold: ThresholdPolicy | null;
  readonly golden: readonly GoldenImage[];
  readonly onStep?: (step: string, fraction: number) => void;
}

/**
 * Writes the package into `out`, runs the parity self-test with the package's own runners and writes
 * manifest.json. A failed parity removes what was written and throws an ExportError with the differences.
 */
export async function writePackage(req: WriteRequest): Promise<PackageManifest> {
  const out = resolve(req.out);
  if (req.golden.length === 0) throw new ExportError('the parity self-test needs golden images: import test or validation images first');
  checkOutputFolder(out, req.identity.id);
  clearPackage(out);
  mkdirSync(out, { recursive: true });
  try {
    req.onStep?.('graphs', 0.1);
    const head = await buildHead(req.model);
    const input = req.model.input;
    const detector = detectorOf(req.model);
    const tiled = detector instanceof TiledModel ? detector : undefined;
    const tiling = tiled ? describeTiling(tiled) : null;
    writeFileSync(within(out, 'head.onnx'), head.graph);
    writeFileSync(within(out, 'preprocess.onnx'), buildPreprocessGraph(input, tiled?.grid));
    const backbones: Array<PackageManifest['model']['backbones'][number]> = [];
    const files = new Map<string, string>();
    for (const b of head.backbones) {
      let file = files.get(b.id);
      if (!file) {
        file = files.size === 0 ? 'backbone.onnx' : `${b.role}-backbone.onnx`;
        copyFileSync(backbonePath(b.id), within(out, file));
        files.set(b.id, file);
      }
      backbones.push({ role: b.role, id: b.id, sha256: getBackbone(b.id).sha256, file });
    }
    const pre: PreprocessDescription = {
      graph: 'preprocess.onnx',
      input: { height: input.height, width: input.width },
      resize: input.resize,
      filter: input.filter,
      channelOrder: 'RGB',
      decode: DECODE_RULE,
      resample: RESAMPLE_RULE,
      normalisation: 'none before the backbone: its input is RGB in [0, 1] and each backbone normalises inside its graph',
      backbones: head.backbones.map((b) => {
        const spec = getBackbone(b.id);
        return { role: b.role, file: files.get(b.id)!, input: spec.input.name, taps: b.taps, normalisation: spec.input.normalisation };
      }),
      tiling,
    };
    writeFileSync(within(out, 'preprocess.json'), `${JSON.stringify(pre, null, 2)}\n`);
    writeFileSync(within(out, 'threshold.json'), `${JSON.stringify(req.threshold, null, 2)}\n`);
    for (const r of ['run.mjs', 'run.py']) copyFileSync(join(RUNNER_DIR, r), within(out, r));
    writeFileSync(within(out, 'package.json'), `${JSON.stringify(runnerPackageJson(), null, 2)}\n`);

    mkdirSync(within(out, 'golden/expected'), { recursive: true });
    const golden: GoldenEntry[] = req.golden.map((g, i) => {
      const file = `golden/${String(i + 1).padStart(2, '0')}-${safeName(g.name)}`;
      copyFileSync(g.path, within(out, file));
      const map = `golden/expected/${basename(file)}.f32`;
      writeFileSync(within(out, map), Buffer.from(g.map.buffer, g.map.byteOffset, g.map.byteLength));
      return { file, label: g.label, score: g.score, mapWidth: g.mapWidth, mapHeight: g.mapHeight, map };
    });
    const tolerance = TOLERANCE[head.precision];
    const base = {
      format: PACKAGE_FORMAT, formatVersion: PACKAGE_FORMAT_VERSION, argusVersion: argusVersion(), createdAt: new Date().toISOString(),
      method: req.model.method, precision: head.precision, model: { ...req.identity, backbones }, tolerance, tiling, golden,
    } as const;
    writeFileSync(within(out, 'README.txt'), packageReadme(base));

    req.onStep?.('parity (Node runner)', 0.5);
    const parity: RunnerParity[] = [await goldenParity(out, golden, tolerance, 'node')];
    req.onStep?.('parity (Python runner)', 0.75);
    parity.push(await goldenParity(out, golden, tolerance, 'python'));
    const failed = parity.filter((p) => p.status === 'failed');
    if (failed.length > 0) throw new ExportError(`export refused: the package does not reproduce the station's scores and maps\n${describeParity(parity, tolerance)}`, parity);

    const manifest: PackageManifest = { ...base, parity, files: filesUnder(out).map((path) => fileEntry(out, path)) };
    writeFileSync(within(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    req.onStep?.('done', 1);
    return manifest;
  } catch (err) {
    clearPackage(out);
    throw err;
  }
}

function fileEntry(root: string, path: string): ManifestFile {
  const abs = within(root, path);
  return { path, sha256: sha256File(abs), size: statSync(abs).size };
}

function runnerPackageJson() {
  const pin = (name: string) => (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name: 'argus-exported-model', private: true, type: 'module', description: 'Scores images with an exported Argus model: node run.mjs <folder>',
    dependencies: { 'onnxruntime-node': pin('onnxruntime-node'), sharp: pin('sharp') },
  };
}

/** Per-runner summary lines and one line per image outside the tolerance. */
export function describeParity(parity: readonly RunnerParity[], tolerance: Tolerance): string {
  const lines: string[] = [];
  for (const p of parity) {
    if (p.status === 'skipped') {
      lines.push(`${p.runner} runner: skipped (${p.reason})`);
      continue;
    }
    lines.push(`${p.runner} runner: ${p.status}, worst score difference ${p.worstScoreDiff.toExponential(2)} (tolerance ${tolerance.score}), worst map difference ${p.worstMapDiff.toExponential(2)} (tolerance ${tolerance.map})${p.reason ? `: ${p.reason}` : ''}`);
    for (const i of p.images.filter((x) => !x.passed)) {
      lines.push(`  ${i.file}: station ${i.expectedScore}, package ${i.score ?? '-'}; score difference ${i.scoreDiff.toExponential(2)}, map difference ${i.mapDiff.toExponential(2)}${i.problem ? `; ${i.problem}` : ''}`);
    }
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------ runners

/** The node_modules folder holding onnxruntime-node, so that a package's run.mjs finds it without an npm install. */
function argusNodeModules(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  let dir = dirname(entry);
  while (basename(dir) !== 'node_modules' && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The Python interpreter for run.py: ARGUS_PYTHON, else python3. */
export function pythonCommand(): string {
  return process.env['ARGUS_PYTHON'] || 'python3';
}

/** Why run.py cannot be run here, or undefined when it can. */
export function pythonUnavailable(): string | undefined {
  const python = pythonCommand();
  const r = spawnSync(python, ['-c', 'import onnxruntime, numpy, PIL'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${python} cannot be started (${r.error.message}); set ARGUS_PYTHON to an interpreter with onnxruntime, numpy and Pillow`;
  if (r.status !== 0) return `${python} lacks onnxruntime, numpy or Pillow (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}); pip install onnxruntime numpy pillow, or set ARGUS_PYTHON`;
  return undefined;
}

interface RunnerLine {
  readonly file: string;
  readonly score: number;
  readonly mapWidth: number;
  readonly mapHeight: number;
}

interface RunnerResult {
  readonly score: number;
  readonly map: Float32Array | undefined;
  readonly mapWidth: number;
  readonly mapHeight: number;
}

/**
 * Runs the package's own runner on `files` (package-relative) and reads back scores and maps;
 * `failure` holds the end of its stderr when it exited with an error.
 */
async function runRunner(dir: string, files: readonly string[], runner: 'node' | 'python'): Promise<{ results: Map<string, RunnerResult>; failure?: string }> {
  const maps = mkdtempSync(join(tmpdir(), 'argus-parity-'));
  try {
    const [cmd, script] = runner === 'node' ? [process.execPath, 'run.mjs'] : [pythonCommand(), 'run.py'];
    const nodePath = [argusNodeModules(), process.env['NODE_PATH']].filter(Boolean).join(process.platform === 'win32' ? ';' : ':');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise, reject) => {
      // ELECTRON_RUN_AS_NODE: inside the desktop app process.execPath is Electron, which then acts as Node
      const child = spawn(cmd, [script, ...files, '--json', '--maps', maps], {
        cwd: dir, env: { ...process.env, NODE_PATH: nodePath, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (c) => resolvePromise({ code: c, stdout, stderr }));
    });
    const results = new Map<string, RunnerResult>();
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const r = JSON.parse(line) as RunnerLine;
      const mapFile = join(maps, `${basename(r.file)}.f32`);
      const map = existsSync(mapFile) ? new Float32Array(new Uint8Array(readFileSync(mapFile)).buffer) : undefined;
      results.set(r.file, { score: r.score, map, mapWidth: r.mapWidth, mapHeight: r.mapHeight });
    }
    return code === 0 ? { results } : { results, failure: stderr.trim().slice(-2000) || `exited with code ${code}` };
  } finally {
    rmSync(maps, { recursive: true, force: true });
  }
}

function mapDifference(expected: Float32Array, actual: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (e < lo) lo = e;
    if (e > hi) hi = e;
    const d = Math.abs(actual[i]! - e);
    if (!(d <= worst)) worst = d; // NaN counts as the worst
  }
  return worst / Math.max(hi - lo, 1e-12);
}

/** Runs a runner on the golden images and compares with the station's scores and maps. */
export async function goldenParity(dir: string, golden: readonly GoldenEntry[], tolerance: Tolerance, runner: 'node' | 'python'): Promise<RunnerParity> {
  if (runner === 'python') {
    const reason = pythonUnavailable();
    if (reason) return { runner, status: 'skipped', reason, worstScoreDiff: 0, worstMapDiff: 0, images: [] };
  }
  const { results, failure } = await runRunner(dir, golden.map((g) => g.file), runner);
  const images = golden.map((g): ImageParity => {
    const r = results.get(g.file);
    if (!r || !r.map) return { file: g.file, expectedScore: g.score, score: r?.score ?? null, scoreDiff: Infinity, mapDiff: Infinity, passed: false, problem: 'the runner gave no result' };
    const expected = new Float32Array(new Uint8Array(readFileSync(within(dir, g.map))).buffer);
    if (r.mapWidth !== g.mapWidth || r.mapHeight !== g.mapHeight || r.map.length !== expected.length) {
      return { file: g.file, expectedScore: g.score, score: r.score, scoreDiff: Infinity, mapDiff: Infinity, passed: false, problem: `map is ${r.mapWidth}x${r.mapHeight}, the station's ${g.mapWidth}x${g.mapHeight}` };
    }
    const scoreDiff = Math.abs(r.score - g.score) / Math.max(Math.abs(g.score), 1e-12);
    const mapDiff = mapDifference(expected, r.map);
    return { file: g.file, expectedScore: g.score, score: r.score, scoreDiff, mapDiff, passed: scoreDiff <= tolerance.score && mapDiff <= tolerance.map };
  });
  const worst = (k: 'scoreDiff' | 'mapDiff') => images.reduce((a, i) => Math.max(a, i[k]), 0);
  const passed = images.every((i) => i.passed) && failure === undefined;
  return { runner, status: passed ? 'passed' : 'failed', ...(failure ? { reason: failure } : {}), worstScoreDiff: worst('scoreDiff'), worstMapDiff: worst('mapDiff'), images };
}

// ------------------------------------------------------------------------------------ verification

export interface Verification {
  readonly dir: string;
  readonly manifest: PackageManifest;
  readonly parity: readonly RunnerParity[];
}

/**
 * Re-checks an existing package: every file against its manifest sha256 and size (an altered, missing
 * or truncated file fails, named), then the golden-set parity with the package's own runners.
 */
export async function verifyPackage(dirArg: string): Promise<Verification> {
  const dir = resolve(dirArg);
  let manifest: PackageManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as PackageManifest;
  } catch (err) {
    throw new ExportError(`${dir} has no readable manifest.json (${(err as Error).message}); is it an Argus export?`);
  }
  if (manifest.format !== PACKAGE_FORMAT || !Array.isArray(manifest.files) || !Array.isArray(manifest.golden)) throw new ExportError(`${dir}/manifest.json is not an Argus export manifest`);
  if (manifest.formatVersion !== PACKAGE_FORMAT_VERSION) throw new ExportError(`${dir} is export format ${manifest.formatVersion}; this Argus reads format ${PACKAGE_FORMAT_VERSION}`);
  const altered: string[] = [];
  for (const f of manifest.files) {
    const abs = within(dir, f.path);
    if (!existsSync(abs)) altered.push(`${f.path} (missing)`);
    else if (statSync(abs).size !== f.size) altered.push(`${f.path} (size ${statSync(abs).size}, manifest ${f.size})`);
    else if (sha256File(abs) !== f.sha256) altered.push(`${f.path} (sha256 differs from the manifest)`);
  }
  if (altered.length > 0) throw new ExportError(`package ${dir} has been altered: ${altered.join('; ')}`);
  const parity = [await goldenParity(dir, manifest.golden, manifest.tolerance, 'node'), await goldenParity(dir, manifest.golden, manifest.tolerance, 'python')];
  if (parity.some((p) => p.status === 'failed')) throw new ExportError(`package ${dir} fails its parity test\n${describeParity(parity, manifest.tolerance)}`, parity);
  return { dir, manifest, parity };
}

function packageReadme(m: Omit<PackageManifest, 'parity' | 'files'>): string {
  return `Argus exported model: ${m.model.projectName} / ${m.model.productName}, model ${m.model.id} v${m.model.version} (${m.method}, ${m.precision})
Exported by Argus ${m.argusVersion} on ${m.createdAt}.

Files
  ${m.model.backbones.map((b) => `${b.file}: backbone '${b.id}' (${b.role}), unchanged from the station (sha256 ${b.sha256})`).join('\n  ')}
  head.onnx: the method's scoring head; inputs '<role>/<tap>' (the backbone outputs listed in preprocess.json),
             outputs 'map' [1, H, W] (anomaly map at the model input size) and 'score' [1] (image score).
             Every parameter (memory bank, Gaussians, networks, normalisation constants) is an initialiser;
             map upsampling and smoothing are inside the graph.
  preprocess.onnx, preprocess.json: image -> backbone input (decoding, resize rule, channel order).
${m.tiling ? `  Tiled model: the image is letterboxed into a ${m.tiling.canvas.height}x${m.tiling.canvas.width} canvas cut into ${m.tiling.tiles} tiles of
             ${m.tiling.tileSize} px (left edges ${m.tiling.left.join(', ')}; top edges ${m.tiling.top.join(', ')}); preprocess.onnx outputs
             the tiles as one batch, head.onnx scores each tile, blends the tile maps into the canvas map
             (linear ramps across each overlap) and takes the score over the picture, whose [height, width]
             the runners feed as the int64 input 'content'. The map is the canvas's; runners crop it to the picture.
` : ''}  threshold.json: the model's threshold policy at export time (null: none was set; verdicts are 'unjudged').
  run.mjs: Node runner (onnxruntime-node + sharp; 'npm install' here installs the pinned versions).
  run.py: Python runner (onnxruntime + numpy + Pillow).
  golden/: the parity test's images and, in golden/expected/, the station's maps (raw float32).
  manifest.json: sha256 and size of every file, the tolerance and the parity results.

Run
  node run.mjs <image or folder>... [--json] [--maps <dir>]
  python3 run.py <image or folder>... [--json] [--maps <dir>]
  Both print CSV file,score,verdict; verdict is pass, review or fail under threshold.json.

Tolerance
  Scores within ${m.tolerance.score} relative and maps within ${m.tolerance.map} of the map's range of the station's,
  on the golden images (float32 heads differ by summation order only; int8 heads quantise activations
  per call). The Python runner decodes with Pillow: identical for 8-bit and 16-bit grey PNG/TIFF; JPEG
  may differ slightly, and Pillow reads 16-bit colour images as 8-bit (use the Node runner for those).

Check
  argus export --verify <this folder>   re-hashes every file and re-runs the golden set.
`;
}
