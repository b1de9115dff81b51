/**
 * Model export end to end on real metal-plate images: every method is trained small, exported through
 * the API, and its package's own runners (spawned as separate processes) must reproduce the station's
 * golden scores and maps; `verify` re-checks hashes and parity and fails on one flipped byte.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportResult } from '../../src-main/api/contract.ts';
import type { ValueInfo } from '../../src-main/engine/onnx/graph.ts';
import { importModel } from '../../src-main/engine/onnx/importer.ts';
import { f32, openSession, ort } from '../../src-main/engine/session.ts';
import { sha256File } from '../../src-main/features/backbones.ts';
import { ExportError, pythonUnavailable, verifyPackage, writePackage, type PackageManifest } from '../../src-main/export/package.ts';
import { decodeModel } from '../../src-main/methods/persistence.ts';
import { Station } from '../../src-main/services/station.ts';
import { models, thresholds } from '../../src-main/store/index.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { REPO_ROOT } from '../fixtures/cli.ts';
import { call, finished } from '../fixtures/station.ts';

interface Case {
  readonly name: string;
  readonly method: string;
  readonly config: Record<string, number | string | boolean | number[]>;
  readonly precision: 'float32' | 'int8';
  /** A tiled model's canvas and its 128 px tiles' left and top edges. */
  readonly tiles?: { readonly height: number; readonly width: number; readonly left: readonly number[]; readonly top: readonly number[] };
}

/** A long canvas cut into three 128 px tiles (left edges 0, 64, 128): the square golden pictures fill only its left half. */
const TILED = { resize: 'tile', height: 128, width: 256, tileSize: 128, tileOverlap: 32 } as const;
const ONE_ROW = { height: 128, width: 256, left: [0, 64, 128], top: [0] };

const CASES: readonly Case[] = [
  { name: 'patchcore', method: 'patchcore', config: { height: 128, width: 128 }, precision: 'float32' },
  { name: 'padim', method: 'padim', config: { height: 128, width: 128 }, precision: 'float32' },
  { name: 'simplenet', method: 'simplenet', config: { height: 128, width: 128, batchSize: 2, epochs: 1 }, precision: 'float32' },
  { name: 'pfm', method: 'pfm', config: { height: 128, width: 128, batchSize: 4, epochs: 1, latent: [16, 32, 64] }, precision: 'int8' },
  { name: 'pefm', method: 'pefm', config: { height: 128, width: 128, batchSize: 4, epochs: 1, latent: [16, 32, 64] }, precision: 'int8' },
  { name: 'cflow', method: 'cflow', config: { height: 128, width: 128, blocks: 2, epochs: 1, subEpochs: 1 }, precision: 'int8' },
  // the paper's image-score re-weighting and letterboxed input (the golden set holds a non-square picture)
  { name: 'patchcore re-weighted, letterboxed', method: 'patchcore', config: { height: 128, width: 96, reweightNeighbours: 3, resize: 'letterbox' }, precision: 'float32' },
  // tiled models: the tiles are cut, scored and stitched inside the graphs; int8 heads quantise per tile, as the station
  // (SimpleNet, PEFM and CFLOW-AD tiled pass the same way: README "Model export")
  { name: 'tiled patchcore', method: 'patchcore', config: { ...TILED }, precision: 'float32', tiles: ONE_ROW },
  { name: 'tiled padim, two rows of tiles', method: 'padim', config: { ...TILED, height: 192 }, precision: 'float32', tiles: { height: 192, width: 256, left: [0, 64, 128], top: [0, 64] } },
  { name: 'tiled pfm', method: 'pfm', config: { ...TILED, batchSize: 4, epochs: 1, latent: [16, 32, 64] }, precision: 'int8', tiles: ONE_ROW },
];

/**
 * A tiled head's score is its map's maximum over the picture window fed as `content`, not over the
 * canvas: checked on arbitrary tap values with a window that leaves out the canvas's largest value
 * (the golden pictures alone cannot show it: their maps peak inside the picture).
 */
async function expectScoreOverPicture(headPath: string, inputs: readonly ValueInfo[], canvas: { height: number; width: number }): Promise<void> {
  const session = await openSession(headPath, 'cpu');
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const feeds = Object.fromEntries(inputs.filter((i) => i.name !== 'content').map((i) => {
    const dims = i.shape as number[];
    return [i.name, f32(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, next), dims)];
  }));
  const scoreOver = async (height: number, width: number) => {
    const r = await session.run({ ...feeds, content: new ort.Tensor('int64', BigInt64Array.of(BigInt(height), BigInt(width)), [2]) });
    return { score: r['score']!.data[0] as number, map: r['map']!.data as Float32Array };
  };
  const whole = await scoreOver(canvas.height, canvas.width);
  const peak = whole.map.reduce((best, v, i) => (v > whole.map[best]! ? i : best), 0);
  const [y, x] = [Math.floor(peak / canvas.width), peak % canvas.width];
  const [height, width] = x > 0 ? [canvas.height, x] : [y, canvas.width];
  const window = await scoreOver(height, width);
  let best = -Infinity;
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) best = Math.max(best, window.map[r * canvas.width + c]!);
  await session.release();
  expect(whole.score).toBe(whole.map[peak]);
  expect(window.score).toBe(best);
  expect(window.score).toBeLessThan(whole.score);
}

function flipByte(path: string): void {
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(path, bytes);
}

describe('model export with a parity self-test', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-export-'));
  const dir = join(root, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 2, testDefect: 2 });
  const station = new Station();
  let productId = 0;
  const skipPython = pythonUnavailable();
  beforeAll(async () => {
    if (skipPython) console.log(`Python runner parity is skipped: ${skipPython}`);
    await call(station, 'project.create', { dir, name: 'Plates' });
    productId = (await call(station, 'products.create', { name: 'PN-7' })).id;
    const imported = await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }));
    expect(imported.status).toBe('succeeded');
    // a non-square part of a real good image, so that resizing differs between the axes
    const crops = join(root, 'crops');
    mkdirSync(crops);
    const good = join(data, 'test/good', readdirSync(join(data, 'test/good'))[0]!);
    await sharp(good).extract({ left: 40, top: 100, width: 400, height: 260 }).png().toFile(join(crops, 'crop.png'));
    const cropped = await finished(station, await call(station, 'images.import', { productId, paths: [crops], layout: 'files', split: 'test', verdict: 'good' }));
    expect(cropped.status).toBe('succeeded');
  });
  afterAll(async () => {
    await station.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  async function train(c: Case): Promise<number> {
    const job = await finished(station, await call(station, 'models.train', { productId, method: c.method as 'patchcore', config: c.config }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const list = await call(station, 'models.list', { productId });
    return list[list.length - 1]!.id;
  }

  for (const c of CASES) {
    it(`exports a ${c.name} model whose package reproduces the station's scores and maps`, async () => {
      const modelId = await train(c);
      const out = join(root, `export-${c.name.replace(/\W+/g, '-')}`);
      const result: ExportResult = await call(station, 'models.export', { modelId, out });
      const node = result.parity.find((p) => p.runner === 'node')!;
      console.log(`${c.name} (${result.precision}): node worst score diff ${node.worstScoreDiff.toExponential(2)}, map diff ${node.worstMapDiff.toExponential(2)}`
        + `; python ${result.parity[1]!.status} ${result.parity[1]!.worstScoreDiff.toExponential(2)} / ${result.parity[1]!.worstMapDiff.toExponential(2)}`);
      expect(node.status).toBe('passed');
      expect(result.parity[1]!.status).toBe(skipPython ? 'skipped' : 'passed');
      expect(result.goldenImages).toBe(5);
      expect(node.images.map((i) => i.passed)).toEqual([true, true, true, true, true]);
      expect(result.precision).toBe(c.precision);
      for (const f of ['backbone.onnx', 'head.onnx', 'preprocess.onnx', 'preprocess.json', 'threshold.json', 'manifest.json', 'run.mjs', 'run.py', 'README.txt']) {
        expect(existsSync(join(out, f)), f).toBe(true);
      }
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as PackageManifest;
      expect(manifest.method).toBe(c.method);
      const t = c.tiles;
      const tiling = t ? { canvas: { height: t.height, width: t.width }, tileSize: 128, tileOverlap: 32, tiles: t.left.length * t.top.length, left: t.left, top: t.top } : null;
      expect(manifest.tiling === null ? null : { ...manifest.tiling, rule: undefined }).toEqual(tiling && { ...tiling, rule: undefined });
      expect(result.tiling).toEqual(tiling);
      if (t) {
        // every tile reads one copy of the inner head's parameters: the package is not tiles times larger
        const head = importModel(join(out, 'head.onnx')).graph;
        const parameters = head.initializers.filter((t) => t.data.length > 4096).map((t) => t.name);
        expect(parameters.length).toBeGreaterThan(0);
        expect(parameters.every((n) => n.startsWith('tile/') || n.startsWith('blend'))).toBe(true);
        await expectScoreOverPicture(join(out, 'head.onnx'), head.inputs, t);
      }
      console.log(`${c.name}: head.onnx ${manifest.files.find((f) => f.path === 'head.onnx')!.size} bytes, package ${manifest.files.reduce((a, f) => a + f.size, 0)} bytes`);
      // every file but the manifest itself is listed with its sha256
      const listed = new Set(manifest.files.map((f) => f.path));
      const walk = (d: string, prefix = ''): string[] => readdirSync(join(d, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(d, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
      expect(walk(out).filter((f) => f !== 'manifest.json').sort()).toEqual([...listed].sort());
      for (const f of manifest.files) expect(sha256File(join(out, f.path)), f.path).toBe(f.sha256);

      // verify re-runs the export's own runner: the tiled packages are verified here, the first one by the tamper test below
      if (t) expect((await verifyPackage(out)).parity[0]!.status).toBe('passed');
    });
  }

  it('exports PatchCore normalised per position, stretched and tiled, whose packages reproduce the station', async () => {
    // per-position normalisation needs at least 16 normal images (half held out): a product of its own
    const many = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 16, testGood: 2, testDefect: 2 });
    const aligned = (await call(station, 'products.create', { name: 'PN-7 on a fixture' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId: aligned, paths: [many], layout: 'mvtec' }))).status).toBe('succeeded');
    for (const config of [{ resize: 'stretch', height: 128, width: 128, positionNorm: true }, { ...TILED, positionNorm: true }]) {
      const job = await finished(station, await call(station, 'models.train', { productId: aligned, method: 'patchcore', config }));
      expect(job.status, job.error ?? '').toBe('succeeded');
      const list = await call(station, 'models.list', { productId: aligned });
      const model = list[list.length - 1]!;
      expect(model.config).toMatchObject({ positionNorm: true, resize: config.resize });
      const out = join(root, `export-position-norm-${config.resize}`);
      const result: ExportResult = await call(station, 'models.export', { modelId: model.id, out });
      const node = result.parity.find((p) => p.runner === 'node')!;
      expect(node.status).toBe('passed');
      expect(result.parity[1]!.status).toBe(skipPython ? 'skipped' : 'passed');
      expect(result.goldenImages).toBe(4);
      expect(result.tiling === null).toBe(config.resize === 'stretch');
      // the score is the normalised map's largest value over the picture the runners feed as content
      const head = importModel(join(out, 'head.onnx')).graph;
      await expectScoreOverPicture(join(out, 'head.onnx'), head.inputs, { height: config.height, width: config.width });
    }
    rmSync(many, { recursive: true, force: true });
  }, 300_000);

  it('refuses a model with its image score at a second scale, saying why, and writes nothing', async () => {
    // a product of its own, so that the CLI test below still finds its tiled model the newest
    const own = (await call(station, 'products.create', { name: 'PN-7 long' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId: own, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const config = { resize: 'tile', height: 192, width: 384, tileSize: 128, tileOverlap: 32, scoreSide: 128, coresetRatio: 0.1 };
    const job = await finished(station, await call(station, 'models.train', { productId: own, method: 'patchcore', config }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const id = (await call(station, 'models.list', { productId: own })).at(-1)!.id;
    const out = join(root, 'export-two-scale');
    await expect(call(station, 'models.export', { modelId: id, out })).rejects.toThrow(/takes its image score at a second scale \(a short side of 128 px\), which a package cannot run yet/);
    expect(existsSync(out)).toBe(false);
  });

  it('verify names a flipped byte in head.onnx or backbone.onnx, and a graph altered with an updated manifest fails parity', async () => {
    const modelId = (await call(station, 'models.list', { productId }))[0]!.id;
    const out = join(root, 'export-tamper');
    await call(station, 'models.export', { modelId, out });
    const copy = (name: string) => {
      const d = join(root, name);
      cpSync(out, d, { recursive: true });
      return d;
    };
    // the command line: the untouched package verifies, a flipped byte in either graph fails naming the file
    const verify = (d: string) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'argus.js'), 'export', '--verify', d], { encoding: 'utf8' });
    const untouched = verify(out);
    expect(untouched.status, untouched.stderr).toBe(0);
    expect(untouched.stdout).toMatch(/files match manifest\.json/);
    expect(untouched.stdout).toMatch(/node runner: passed/);
    for (const graph of ['head.onnx', 'backbone.onnx']) {
      const d = copy(`flipped-${graph}`);
      flipByte(join(d, graph));
      await expect(verifyPackage(d)).rejects.toThrow(new RegExp(`altered: ${graph.replace('.', '\\.')} \\(sha256 differs`));
      const r = verify(d);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${graph} (sha256 differs from the manifest)`);
    }

    // a consistent forgery: head.onnx changed and its manifest entry updated still fails the golden set
    const d = copy('forged');
    const manifest = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as PackageManifest;
    const head = readFileSync(join(d, 'head.onnx'));
    // scale the map by changing the last initialiser's float bytes: find the map rows matrix by its name
    const marker = Buffer.from('map_rows');
    const at = head.indexOf(marker);
    expect(at).toBeGreaterThan(0);
    const forged = Buffer.from(head);
    // the raw data follows the name within a few bytes; perturb a block of bytes after it
    for (let i = at + 64; i < at + 64 + 4096 && i < forged.length; i += 4) forged[i + 3] = forged[i + 3]! ^ 0x01;
    writeFileSync(join(d, 'head.onnx'), forged);
    const files = manifest.files.map((f) => (f.path === 'head.onnx' ? { ...f, sha256: sha256File(join(d, 'head.onnx')), size: forged.length } : f));
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...manifest, files }));
    await expect(verifyPackage(d)).rejects.toThrow(/fails its parity test/);
  });

  it('refuses an export whose package does not reproduce the station: differences per image, nothing left behind', async () => {
    const p = station.project();
    const record = (await call(station, 'models.list', { productId }))[0]!;
    const model = await decodeModel(new Uint8Array(models.readModelBlob(p, models.get(p, record.id), 'model')));
    const earlier = join(root, 'export-patchcore');
    const manifest = JSON.parse(readFileSync(join(earlier, 'manifest.json'), 'utf8')) as PackageManifest;
    // the station's golden results with one image's score 1 % off: no package can match them
    const golden = manifest.golden.map((g, i) => ({
      path: join(earlier, g.file), name: g.file.replace(/^golden\/\d+-/, ''), label: g.label, score: i === 1 ? g.score * 1.01 : g.score,
      map: new Float32Array(new Uint8Array(readFileSync(join(earlier, g.map))).buffer), mapWidth: g.mapWidth, mapHeight: g.mapHeight,
    }));
    const out = join(root, 'refused');
    const identity = { id: record.id, version: record.version, productId, productName: 'PN-7', projectName: 'Plates' };
    const refused = writePackage({ out, model, identity, threshold: null, golden });
    await expect(refused).rejects.toThrow(ExportError);
    await expect(refused).rejects.toThrow(/export refused[\s\S]*node runner: failed[\s\S]*golden\/02-[^:]+: station [\d.]+, package [\d.]+; score difference 9\.9\de-3/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses a non-empty folder that is not an earlier export of the same model, and replaces its own earlier export', async () => {
    const [first, second] = await call(station, 'models.list', { productId });
    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'keep me');
    await expect(call(station, 'models.export', { modelId: first!.id, out: foreign })).rejects.toThrow(/not empty and is not an earlier export/);
    expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me');
    await expect(call(station, 'models.export', { modelId: first!.id, out: 'relative/path' })).rejects.toThrow(/absolute path/);
    const again = join(root, 'export-patchcore');
    await expect(call(station, 'models.export', { modelId: second!.id, out: again })).rejects.toThrow(/earlier export of model/);
    // with a threshold and review band, both runners print the verdicts the station gives the same scores
    const golden = (JSON.parse(readFileSync(join(again, 'manifest.json'), 'utf8')) as PackageManifest).golden.map((g) => g.score).sort((a, b) => a - b);
    const policy = await call(station, 'thresholds.set', { modelId: first!.id, imageThreshold: golden[2]!, reviewLow: golden[1]!, reviewHigh: golden[3]!, pixelThreshold: null, note: 'export test' });
    const redone = await call(station, 'models.export', { modelId: first!.id, out: again });
    expect(redone.parity[0]!.status).toBe('passed');
    expect(JSON.parse(readFileSync(join(again, 'threshold.json'), 'utf8'))).toMatchObject({ version: policy.version, imageThreshold: golden[2], reviewLow: golden[1], reviewHigh: golden[3] });
    const runners = [[process.execPath, 'run.mjs'], ...(skipPython ? [] : [[process.env['ARGUS_PYTHON'] || 'python3', 'run.py']])];
    for (const [cmd, script] of runners) {
      const r = spawnSync(cmd!, [script!, 'golden'], { cwd: again, encoding: 'utf8', env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules') } });
      expect(r.status, r.stderr).toBe(0);
      const [header, ...rows] = r.stdout.trim().split('\n');
      expect(header).toBe('file,score,verdict');
      expect(rows).toHaveLength(5);
      for (const row of rows) {
        const [, score, verdict] = row.split(',');
        expect(verdict, `${script}: ${row}`).toBe(thresholds.decide({ ...policy }, Number(score)));
      }
      expect(new Set(rows.map((row) => row.split(',')[2]))).toEqual(new Set(['pass', 'review', 'fail']));
    }
  });

  it('argus export writes the product\'s newest model (tiled) from the command line and prints its tiles and parity', async () => {
    const newest = (await call(station, 'models.list', { productId })).at(-1)!;
    await station.closeProject(); // the CLI opens the project itself
    const out = join(root, 'cli-export');
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'argus.js'), 'export', '--project', dir, '--product', 'PN-7', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/exported to .*cli-export: \d+ files, 5 golden images/);
    expect(r.stdout).toMatch(/tiled: 3 tiles of 128 px over a 128x256 canvas/);
    expect(r.stdout).toMatch(/node runner: passed/);
    expect((await verifyPackage(out)).manifest.method).toBe(newest.method);
  }, 120_000);
});
