/**
 * Bad input, through the real Station API (station.handle) and the real CLI: broken, empty, enormous,
 * unsupported and duplicate files in one import batch, masks of the wrong size, paths that lead out of
 * the project, a second writer, missing and corrupt projects, and a seeded fuzz of every API method
 * with malformed requests. Each is a clear error (an ApiResponse with a stable code, or one line of an
 * import's summary) while the rest of the batch goes on; nothing is INTERNAL, nothing throws or hangs.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { API, API_METHODS, type ApiMethod, type ApiResponse } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { images, models, results } from '../../src-main/store/index.ts';
import { encodePng } from '../../src-main/vision/picture.ts';
import { runCli } from '../fixtures/cli.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { lcg } from '../fixtures/lcg.ts';
import { tempDir } from '../fixtures/store.ts';
import { call, finished } from '../fixtures/station.ts';

const MPDD = sharedDataset('mpdd_metal_plate');
const TILE = sharedDataset('magnetic_tile');
const realPng = (i: number): string => join(MPDD, 'train/good', readdirSync(join(MPDD, 'train/good')).sort()[i]!);
const realJpeg = (i: number): string => join(TILE, 'train/good', readdirSync(join(TILE, 'train/good')).sort()[i]!);

type Failure = { code: string; message: string };

/** A station whose unexpected errors are collected (every test asserts there were none). */
function newStation(): { station: Station; internal: unknown[] } {
  const internal: unknown[] = [];
  const station = new Station({ onInternalError: (err) => internal.push(err) });
  return { station, internal };
}

const stations: Array<{ station: Station; internal: unknown[] }> = [];
afterEach(async () => {
  for (const s of stations.splice(0)) {
    await s.station.close();
    expect(s.internal, 'internal errors').toEqual([]);
  }
});

function station(): Station {
  const s = newStation();
  stations.push(s);
  return s.station;
}


async function failure(s: Station, method: string, input: unknown): Promise<Failure> {
  const r = await s.handle(method, input);
  if (r.ok) throw new Error(`${method} succeeded, expected a failure: ${JSON.stringify(r.value).slice(0, 200)}`);
  return r.error;
}


interface Summary { imported: number; duplicates: number; failed: number; problems: Array<{ path: string; problem: string }> }

// ---------------------------------------------------------------------------------------------
// Crafted files

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A well-formed PNG header (valid IHDR with its CRC) declaring width x height 8-bit grey, with a
 * little compressed data: a decoder that believed it would allocate width*height bytes and more.
 */
function declaredPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(64 * 1024))), pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

async function greyPng(width: number, height: number, value = 255): Promise<Buffer> {
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % width) % 7 === 0 ? value : 0;
  return (await encodePng(pixels, width, height, 1)).png;
}

function garbage(n: number, seed: number): Buffer {
  const r = lcg(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
}

/** A folder of good images and every kind of bad file; `bad` maps each bad path to the reason expected. */
async function badBatch(root: string): Promise<{ folder: string; extra: string[]; good: number; bad: Map<string, RegExp> }> {
  const folder = join(root, 'batch');
  mkdirSync(join(folder, 'sub'), { recursive: true });
  const bad = new Map<string, RegExp>();
  const put = (name: string, data: Buffer, reason?: RegExp): string => {
    const path = join(folder, name);
    writeFileSync(path, data);
    if (reason) bad.set(path, reason);
    return path;
  };
  copyFileSync(realPng(0), join(folder, 'good-0.png'));
  copyFileSync(realPng(1), join(folder, 'sub', 'good-1.png'));
  copyFileSync(realJpeg(0), join(folder, 'good-2.jpg'));
  put('large-allowed.png', await greyPng(4000, 3000));
  const png = readFileSync(realPng(2));
  const jpeg = readFileSync(realJpeg(1));
  put('garbage.png', garbage(5000, 7), /unsupported format/);
  put('truncated.png', png.subarray(0, png.length >> 1), /png: .*(read error|truncat|premature|end)/i);
  put('truncated.jpg', jpeg.subarray(0, jpeg.length >> 1), /jpeg: .*premature end/i);
  put('empty.png', Buffer.alloc(0), /empty/);
  put('text.png', Buffer.from('this is a text file renamed .png\n'.repeat(20)), /unsupported format/);
  put('animation.png', Buffer.concat([Buffer.from('GIF89a'), garbage(300, 8)]), /unsupported format/);
  put('enormous.png', declaredPng(30000, 30000), /exceeds? (the )?pixel limit|30000x30000 exceed the limit/);
  put('notes.gif', Buffer.concat([Buffer.from('GIF89a'), garbage(300, 9)]), /not an image file \(\.gif\)/);
  copyFileSync(realPng(0), join(folder, 'sub', 'duplicate.png'));
  bad.set(join(folder, 'sub', 'duplicate.png'), /duplicate of image \d+/);
  symlinkSync(join(folder, 'self.png'), join(folder, 'self.png'));
  bad.set(join(folder, 'self.png'), /cannot read:.*(ELOOP|symbolic links)/);
  symlinkSync(join(folder, 'nowhere.png'), join(folder, 'dangling.png'));
  bad.set(join(folder, 'dangling.png'), /cannot read:.*ENOENT/);
  symlinkSync(folder, join(folder, 'sub', 'loop'));
  bad.set(join(folder, 'sub', 'loop'), /symbolic link loop/);
  // named one by one next to the folder: a missing file, an unsupported one, the same good file again
  const extra = [join(root, 'no-such-file.png'), join(folder, 'notes.gif'), join(folder, 'good-0.png')];
  bad.set(join(root, 'no-such-file.png'), /no such file/);
  return { folder, extra, good: 4, bad };
}

function expectProblems(summary: Summary, bad: Map<string, RegExp>): void {
  for (const [path, reason] of bad) {
    const lines = summary.problems.filter((p) => p.path === path);
    expect(lines.length, `a problem line for ${path} in ${JSON.stringify(summary.problems, null, 1)}`).toBeGreaterThan(0);
    expect(lines[0]!.problem, path).toMatch(reason);
  }
  const known = new Set(bad.keys());
  const unexpected = summary.problems.filter((p) => !known.has(p.path));
  // the good file named a second time is a duplicate of itself
  expect(unexpected.map((p) => p.problem)).toEqual([expect.stringMatching(/duplicate of image/)]);
}

// ---------------------------------------------------------------------------------------------

describe('an import batch with bad files', () => {
  it('succeeds, imports the good files and lists each bad one with its reason (API)', async () => {
    const root = tempDir('argus-bad-');
    const s = station();
    await call(s, 'project.create', { dir: join(root, 'project'), name: 'bad input' });
    const product = await call(s, 'products.create', { name: 'PN-1' });
    const { folder, extra, good, bad } = await badBatch(root);
    const job = await finished(s, await call(s, 'images.import', { productId: product.id, paths: [folder, ...extra] }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const summary = job.result as Summary;
    expect(summary).toMatchObject({ imported: good, duplicates: 2, failed: 8 });
    expectProblems(summary, bad);
    const list = await call(s, 'images.list', { productId: product.id });
    expect(list.items.map((i) => i.originalPath.slice(folder.length + 1)).sort()).toEqual(['good-0.png', 'good-2.jpg', 'large-allowed.png', 'sub/good-1.png']);
    expect(list.items.find((i) => i.originalPath.endsWith('large-allowed.png'))).toMatchObject({ width: 4000, height: 3000 });
    // the station still answers, and the images are whole
    for (const image of list.items) {
      const pic = await call(s, 'images.picture', { id: image.id, maxSide: 64 });
      expect(Math.max(pic.width, pic.height)).toBe(64);
    }
  });

  it('in the MVTec layout: a mask of the wrong size or a broken mask is one line, its image is kept without it', async () => {
    const root = tempDir('argus-bad-');
    const data = subsetDataset(MPDD, { train: 3, testGood: 1, testDefect: 3 });
    const maskDir = join(data, 'ground_truth/defect');
    const [small, broken] = readdirSync(maskDir).sort();
    writeFileSync(join(maskDir, small!), await greyPng(100, 60));
    writeFileSync(join(maskDir, broken!), garbage(2000, 3));
    const s = station();
    await call(s, 'project.create', { dir: join(root, 'project'), name: 'masks' });
    const product = await call(s, 'products.create', { name: 'PN-2' });
    const job = await finished(s, await call(s, 'images.import', { productId: product.id, paths: [data], layout: 'mvtec' }));
    expect(job.status, job.error ?? '').toBe('succeeded');
    const summary = job.result as Summary;
    expect(summary).toMatchObject({ imported: 7, duplicates: 0, failed: 0 });
    expect(summary.problems).toEqual([
      { path: join(maskDir, small!), problem: expect.stringMatching(/mask is 100x60 but its image is 512x512/) },
      { path: join(maskDir, broken!), problem: expect.stringMatching(/mask not imported.*unrecognised image format/) },
    ]);
    const list = await call(s, 'images.list', { productId: product.id, split: 'test', verdict: 'defective' });
    expect(list.items.map((i) => i.hasGroundTruth)).toEqual([false, false, true]);
  });

  it('through the CLI: exit 0, the good files imported, each bad one on stderr', async () => {
    const root = tempDir('argus-bad-');
    const dir = join(root, 'project');
    expect((await runCli(['project', 'create', dir])).code).toBe(0);
    const { folder, extra, good, bad } = await badBatch(root);
    const run = await runCli(['import', '--project', dir, '--product', 'PN-3', folder, ...extra]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(`imported ${good}, duplicates 2, failed 8`);
    for (const [path] of bad) expect(run.output).toContain(`${path}: `);
    expect(run.output).not.toMatch(/internal error|Error:|at .*\.ts:\d+/);
  });
});

describe('masks.set', () => {
  it('refuses a PNG of the wrong size, bytes that are not a PNG and a PNG that does not decode (BAD_INPUT); takes a good one', async () => {
    const root = tempDir('argus-bad-');
    const s = station();
    await call(s, 'project.create', { dir: join(root, 'project'), name: 'masks' });
    const product = await call(s, 'products.create', { name: 'PN-4' });
    const job = await finished(s, await call(s, 'images.import', { productId: product.id, paths: [realPng(3)] }));
    expect(job.status).toBe('succeeded');
    const [image] = (await call(s, 'images.list', { productId: product.id })).items;
    const set = (png: Buffer) => s.handle('masks.set', { imageId: image!.id, kind: 'ground_truth', png: png.toString('base64') });
    const wrongSize = await set(await greyPng(511, 512));
    expect(wrongSize).toMatchObject({ ok: false, error: { code: 'BAD_INPUT', message: expect.stringMatching(/511x512 but the image is 512x512/) } });
    expect(await set(readFileSync(realJpeg(0)))).toMatchObject({ ok: false, error: { code: 'BAD_INPUT', message: expect.stringMatching(/not a PNG/) } });
    expect(await set(garbage(100, 1))).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    // the right IHDR, then junk: the header alone must not be enough
    const fake = Buffer.concat([declaredPng(512, 512).subarray(0, 33), garbage(500, 2)]);
    expect(await set(fake)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect(await set(declaredPng(512, 512))).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect(await s.handle('masks.set', { imageId: image!.id, kind: 'ground_truth', png: '###' })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await s.handle('masks.get', { imageId: image!.id, kind: 'ground_truth' })).toEqual({ ok: true, value: null });
    const good = await set(await greyPng(512, 512));
    expect(good).toMatchObject({ ok: true, value: { width: 512, height: 512, kind: 'ground_truth' } });
  });
});

describe('projects: busy, missing, corrupt, outside', () => {
  it('a second read-write opener (another station, another process) gets PROJECT_BUSY; the first keeps working', async () => {
    const root = tempDir('argus-bad-');
    const dir = join(root, 'project');
    const first = station();
    await call(first, 'project.create', { dir, name: 'busy' });
    const second = station();
    expect(await failure(second, 'project.open', { dir })).toMatchObject({ code: 'PROJECT_BUSY', message: expect.stringMatching(/busy/) });
    expect(await second.handle('project.current', {})).toEqual({ ok: true, value: null });
    const cli = await runCli(['import', '--project', dir, '--product', 'PN', realPng(0)]);
    expect(cli.code).toBe(1);
    expect(cli.output).toMatch(/argus: project .* is busy/);
    await call(first, 'products.create', { name: 'still writable' });
    await call(first, 'project.close', {});
    await call(second, 'project.open', { dir });
    expect((await call(second, 'products.list', {})).map((p) => p.name)).toEqual(['still writable']);
  });

  it('project.open on a folder or file that is no project is NOT_FOUND; project.create where it cannot be is a clear error', async () => {
    const root = tempDir('argus-bad-');
    const s = station();
    writeFileSync(join(root, 'file.txt'), 'hello');
    expect(await failure(s, 'project.open', { dir: root })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await failure(s, 'project.open', { dir: join(root, 'file.txt') })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await failure(s, 'project.open', { dir: join(root, 'missing', 'deeper') })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await failure(s, 'project.create', { dir: root, name: 'x' })).toMatchObject({ code: 'CONFLICT' });
    expect(await failure(s, 'project.create', { dir: join(root, 'file.txt'), name: 'x' })).toMatchObject({ code: 'CONFLICT' });
    expect(await failure(s, 'project.create', { dir: join(root, 'file.txt', 'below'), name: 'x' })).toMatchObject({ code: 'BAD_INPUT' });
    expect(await failure(s, 'project.create', { dir: '/proc/argus-cannot-be-here', name: 'x' })).toMatchObject({ code: 'BAD_INPUT' });
    expect(await failure(s, 'project.create', { dir: join(root, 'n'.repeat(300)), name: 'x' })).toMatchObject({ code: 'BAD_INPUT' });
    expect(await s.handle('project.current', {})).toEqual({ ok: true, value: null });
  });

  it('a corrupted database is PROJECT_CORRUPT, whatever the damage', async () => {
    const root = tempDir('argus-bad-');
    const s = station();
    const make = async (name: string): Promise<string> => {
      const dir = join(root, name);
      await call(s, 'project.create', { dir, name });
      const product = await call(s, 'products.create', { name: 'P' });
      for (let i = 0; i < 40; i++) await call(s, 'products.create', { name: `P-${i}`, description: 'x'.repeat(2000) });
      await finished(s, await call(s, 'images.import', { productId: product.id, paths: [realPng(4)] }));
      await call(s, 'project.close', {});
      return dir;
    };
    const damage = async (name: string, change: (db: Buffer) => Buffer): Promise<string> => {
      const dir = await make(name);
      const file = join(dir, 'argus.db');
      writeFileSync(file, change(readFileSync(file)));
      return dir;
    };
    const cases = {
      garbage: await damage('garbage', (db) => garbage(db.length, 11)),
      'garbage pages': await damage('pages', (db) => {
        const out = Buffer.from(db);
        garbage(3 * 4096, 12).copy(out, 4096 * 2);
        return out;
      }),
      'schema page': await damage('schema', (db) => {
        const out = Buffer.from(db);
        garbage(4096 - 100, 13).copy(out, 100);
        return out;
      }),
      truncated: await damage('truncated', (db) => db.subarray(0, Math.floor(db.length / 3))),
      'header only': await damage('header', (db) => db.subarray(0, 100)),
    };
    const other = join(root, 'other');
    mkdirSync(other);
    const foreign = new Database(join(other, 'argus.db'));
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    for (const [what, dir] of [...Object.entries(cases), ['not an Argus database', other] as const]) {
      const r = await s.handle('project.open', { dir });
      expect(r, what).toMatchObject({ ok: false, error: { code: 'PROJECT_CORRUPT' } });
    }
    expect(await s.handle('project.current', {})).toEqual({ ok: true, value: null });
  });

  it('a stored path tampered to lead outside the project is PATH_OUTSIDE_PROJECT; the file is never read', async () => {
    const root = tempDir('argus-bad-');
    const dir = join(root, 'project');
    const s = station();
    await call(s, 'project.create', { dir, name: 'tampered' });
    const product = await call(s, 'products.create', { name: 'P' });
    await finished(s, await call(s, 'images.import', { productId: product.id, paths: [realPng(5), realPng(6), realPng(7), realPng(8)] }));
    const ids = (await call(s, 'images.list', { productId: product.id })).items.map((i) => i.id);
    expect(ids).toHaveLength(4);
    await call(s, 'project.close', {});
    const outside = join(root, 'secret.png');
    copyFileSync(realPng(5), outside);
    symlinkSync(outside, join(dir, 'images', 'escape.png'));
    const db = new Database(join(dir, 'argus.db'));
    const tamper = db.prepare('UPDATE images SET stored_path = ? WHERE id = ?');
    tamper.run('../../etc/passwd', ids[0]);
    tamper.run('/etc/passwd', ids[1]);
    tamper.run('images/escape.png', ids[2]);
    tamper.run('images', ids[3]);
    db.close();
    await call(s, 'project.open', { dir });
    for (const id of ids.slice(0, 3)) {
      const r = await s.handle('images.picture', { id, maxSide: 64 });
      expect(r, `image ${id}`).toMatchObject({ ok: false, error: { code: 'PATH_OUTSIDE_PROJECT', message: expect.stringMatching(/outside the project/) } });
    }
    // a stored path naming a folder inside the project is damage, not a crash
    expect(await s.handle('images.picture', { id: ids[3]!, maxSide: 64 })).toMatchObject({ ok: false, error: { code: 'PROJECT_CORRUPT' } });
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing every method

/** Calls that start work or change which project is open: only ever sent when the schema refuses them. */
const SIDE_EFFECTS = new Set<ApiMethod>(['project.create', 'project.open', 'project.close', 'images.import', 'models.train', 'models.evaluate', 'inspection.run', 'results.decide', 'results.label', 'models.extend', 'runs.stop', 'products.setIgnore', 'models.export', 'results.explain', 'images.upload']);
const ALLOWED = ['INVALID_REQUEST', 'NOT_FOUND', 'BAD_INPUT', 'NO_PROJECT', 'CONFLICT'];

/** A valid request of each method (ids of the fixture project: product 1, image 1, model 1, job 1). */
function templates(dir: string): Record<ApiMethod, Record<string, unknown>> {
  return {
    'project.create': { dir: join(dir, 'new'), name: 'x' }, 'project.open': { dir }, 'project.close': {}, 'project.current': {},
    'products.list': {}, 'products.create': { name: 'fuzz', description: '' },
    'images.import': { productId: 1, paths: [dir], layout: 'files', split: 'train', verdict: 'good' },
    'images.list': { productId: 1, split: 'train', verdict: 'good', defectType: 'scratch', modelId: 1, scoreMin: 0, scoreMax: 9, decision: 'none', offset: 0, limit: 10 },
    'images.get': { id: 1 }, 'images.counts': { productId: 1 },
    'images.upload': { productId: 1, split: 'train', verdict: 'good', files: [{ name: 'a.png', base64: 'iVBORw0KGgo=' }] },
    'images.picture': { id: 1, maxSide: 64 }, 'images.label': { ids: [1], verdict: 'defective', defectType: 'scratch' },
    'images.setSplit': { ids: [1], split: 'train' },
    'masks.set': { imageId: 1, kind: 'ignore', png: 'iVBORw0KGgo=' }, 'masks.get': { imageId: 1, kind: 'ignore' }, 'masks.delete': { imageId: 1, kind: 'ignore' },
    'products.setIgnore': { productId: 1, png: null }, 'products.ignore': { productId: 1 },
    'defectTypes.list': { productId: 1 }, 'defectTypes.add': { productId: 1, name: 'fuzz', colour: '#112233' }, 'defectTypes.rename': { id: 1, name: 'fuzz 2' },
    'defectTypes.recolour': { id: 1, colour: '#445566' }, 'defectTypes.remove': { id: 1 }, 'defectTypes.reorder': { productId: 1, ids: [1] },
    'models.train': { productId: 1, method: 'patchcore', backbone: 'mobilenet_v2_features', config: { height: 128 } },
    'models.proposeInput': { productId: 1, method: 'patchcore' }, 'backbones.list': { method: 'patchcore' }, 'models.list': { productId: 1 }, 'models.get': { id: 1 }, 'models.evaluate': { modelId: 1 }, 'models.scores': { modelId: 1 },
    'evaluations.latest': { modelId: 1 }, 'evaluations.list': { productId: 1, all: true }, 'evaluations.compare': { modelIds: [1, 2] },
    'models.export': { modelId: 1, out: join(dir, 'export') },
    'thresholds.list': { modelId: 1 },
    'thresholds.set': { modelId: 1, imageThreshold: 1, pixelThreshold: 1, reviewLow: 0.5, reviewHigh: 1.5, note: '' },
    'inspection.run': { modelId: 1, imageIds: [1], name: 'Lot 1', watch: false },
    'runs.list': { productId: 1, modelId: 1 }, 'runs.get': { id: 1 }, 'runs.stop': { id: 1 },
    'results.list': { modelId: 1, verdict: 'pass', jobId: 1, runId: 1, source: 'inspection', queue: 'awaiting', order: 'uncertainty', offset: 0, limit: 10 },
    'results.decide': { resultId: 1, verdict: 'fail', defectType: 'scratch', note: 'n', by: 'fuzz' }, 'results.decisions': { resultId: 1 }, 'results.get': { id: 1 },
    'results.label': { resultIds: [1], as: 'defect' }, 'models.extend': { modelId: 1, imageIds: [1] }, 'results.overlay': { id: 1, maxSide: 64, layers: { heatmap: true, detector: true, refined: true, truth: true } },
    'results.map': { id: 1 }, 'results.mask': { id: 1, kind: 'refined' }, 'results.explain': { resultId: 1, maxSide: 64 },
    'results.repaired': { id: 1, maxSide: 64 }, 'refine.run': { resultId: 1, settings: { ablation: 'none', tau: 0.2 } },
    'reports.create': { modelId: 1, format: 'csv', title: 't' }, 'reports.list': { productId: 1 }, 'reports.content': { id: 1 },
    'jobs.list': { status: 'succeeded' }, 'jobs.get': { id: 1 }, 'jobs.cancel': { id: 1 }, 'jobs.resume': { id: 1 },
  };
}

/**
 * Only an in-process caller can send these (transports carry JSON): an object whose every property
 * read throws, or a proxy whose key listing throws.
 */
function hostile(shape: Record<string, unknown>, r: () => number): object {
  const made = r() < 0.5
    ? Object.defineProperties({}, Object.fromEntries(Object.keys(shape).map((k) => [k, { enumerable: true, get: () => { throw new Error(`getter ${k}`); } }])))
    : new Proxy({ ...shape }, { ownKeys: () => { throw new Error('ownKeys'); }, get: () => { throw new Error('get'); } });
  HOSTILE.add(made);
  return made;
}
const HOSTILE = new WeakSet<object>();

/** An own property, even for names like __proto__ that an assignment would treat specially. */
function own(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function junkMaker(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const keys = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'extra', '', 'id', 'ids', 'dir', '💥', 'a'.repeat(300)];
  const junk = (depth = 0): unknown => {
    switch (Math.floor(r() * (depth > 3 ? 9 : 15))) {
      case 0: return pick([null, undefined, true, false]);
      case 1: return pick([0, -0, -1, 1.5, -(2 ** 31), 2 ** 53, 2 ** 64, -1e308, 1e308, Number.MIN_VALUE, Number.EPSILON]);
      case 2: return pick([NaN, Infinity, -Infinity]);
      case 3: return pick(['', ' ', '\0', '\u0000x', '../../etc/passwd', '/etc/passwd', 'C:\\Windows', '%00', '${x}', '<script>', '1', '-1', 'NaN', 'true', 'null', '__proto__']);
      case 4: return 'x'.repeat(1 + Math.floor(r() * 300_000));
      case 5: return String.fromCharCode(...Array.from({ length: 1 + Math.floor(r() * 50) }, () => Math.floor(r() * 0xffff)));
      case 6: return pick([10n, Symbol('s'), () => 1, new Date(0), new Map([[1, 2]]), new Uint8Array(4), Object.create(null) as object]);
      case 7: return pick(['train', 'good', 'pass', 'patchcore', 'html', 'ground_truth', 'succeeded', 'mvtec', 'defective']);
      case 8: return Math.floor(r() * 5) + 1;
      case 9: return Array.from({ length: Math.floor(r() * 5) }, () => junk(depth + 1));
      case 10: {
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(r() * 4); i > 0; i--) own(o, pick(keys), junk(depth + 1));
        return o;
      }
      case 11: return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}') as unknown;
      case 12: {
        let deep: unknown = 1;
        for (let i = 200 + Math.floor(r() * 2000); i > 0; i--) deep = r() < 0.5 ? [deep] : { a: deep };
        return deep;
      }
      case 13: return hostile({ a: 1 }, r);
      default: return Array.from({ length: r() < 0.05 ? 100_001 : pick([1001, 10_001]) }, (_, i) => i + 1);
    }
  };
  return { junk, pick, keys };
}

/** A malformed variant of `template`: 1-3 mutations, or a request that is no object at all. */
function mutate(template: Record<string, unknown>, r: () => number): unknown {
  const { junk, pick, keys } = junkMaker(r);
  if (r() < 0.08) return pick([null, undefined, 0, 'request', [], [template], true, junk(), hostile(template, r)]);
  const req: Record<string, unknown> = { ...template };
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const fields = Object.keys(req);
    const op = Math.floor(r() * 5);
    if (op === 0 && fields.length > 0) delete req[pick(fields)];
    else if (op === 1 || (op === 0 && fields.length === 0)) own(req, pick(keys), junk());
    else if (fields.length > 0) {
      const key = pick(fields);
      const v = req[key];
      if (Array.isArray(v) && r() < 0.5) req[key] = [...v, junk()];
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !HOSTILE.has(v) && r() < 0.5) {
        const inner = { ...(v as Record<string, unknown>) };
        own(inner, pick(keys), junk());
        req[key] = inner;
      } else req[key] = junk();
    }
  }
  return req;
}

async function answerWithin(s: Station, method: string, input: unknown, ms = 10_000): Promise<ApiResponse<unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${method} did not answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([s.handle(method, input), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const FUZZ_PER_METHOD = Number(process.env['ARGUS_FUZZ_PER_METHOD'] ?? 300);

describe('fuzzing every API method with malformed requests', () => {
  async function fuzz(s: Station, dir: string, seed: number): Promise<{ sent: number; valid: number }> {
    const r = lcg(seed);
    const base = templates(dir);
    let sent = 0;
    let valid = 0;
    for (const method of API_METHODS) {
      for (let i = 0; i < FUZZ_PER_METHOD; i++) {
        const input = mutate(base[method], r);
        let schemaOk: boolean;
        try {
          schemaOk = API[method].input.safeParse(input ?? {}).success;
        } catch {
          schemaOk = false;
        }
        if (schemaOk && SIDE_EFFECTS.has(method)) continue;
        const where = `${method} #${i} (seed ${seed}): ${describeInput(input)}`;
        let answer: ApiResponse<unknown>;
        try {
          answer = await answerWithin(s, method, input);
        } catch (err) {
          throw new Error(`${where} threw: ${(err as Error).message}`);
        }
        sent++;
        expect(typeof answer.ok, where).toBe('boolean');
        if (!schemaOk) {
          expect(answer, where).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.any(String) } });
        } else {
          valid++;
          if (!answer.ok) expect(ALLOWED, `${where}: ${answer.error.code} ${answer.error.message}`).toContain(answer.error.code);
        }
      }
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    return { sent, valid };
  }

  it(`answers ${FUZZ_PER_METHOD} malformed requests per method with no project open: ok:false with a stable code, never INTERNAL`, async () => {
    const s = station();
    const { sent } = await fuzz(s, tempDir('argus-fuzz-'), 20240611);
    expect(sent).toBeGreaterThan(API_METHODS.length * FUZZ_PER_METHOD * 0.7);
    expect(await s.handle('project.current', {})).toEqual({ ok: true, value: null });
  });

  it('and the same with a project open that holds a product, an image, a model, a result and a job', async () => {
    const root = tempDir('argus-fuzz-');
    const dir = join(root, 'project');
    const s = station();
    await call(s, 'project.create', { dir, name: 'fuzz' });
    const product = await call(s, 'products.create', { name: 'P' });
    await finished(s, await call(s, 'images.import', { productId: product.id, paths: [realPng(9)] }));
    const p = s.currentProject!;
    const model = models.add(p, {
      productId: product.id, method: 'patchcore', backboneId: 'mobilenet_v2_features', backboneSha256: 'a'.repeat(64), config: {},
      dataManifestSha256: 'b'.repeat(64), blobs: { model: new Uint8Array(64) },
    });
    results.add(p, { imageId: 1, modelId: model.id, score: 0.5, verdict: 'unjudged', map: new Uint8Array(16) });
    const { sent, valid } = await fuzz(s, dir, 977);
    expect(sent).toBeGreaterThan(API_METHODS.length * FUZZ_PER_METHOD * 0.7);
    expect(valid).toBeGreaterThan(100);
    expect((await call(s, 'project.current', {}))?.dir).toBe(dir);
    expect(images.count(p, product.id)).toBe(1);
  });

  it('refuses training settings that the method does not have or that have the wrong type or size (INVALID_REQUEST)', async () => {
    const root = tempDir('argus-fuzz-');
    const s = station();
    await call(s, 'project.create', { dir: join(root, 'project'), name: 'train' });
    const product = await call(s, 'products.create', { name: 'P' });
    await finished(s, await call(s, 'images.import', { productId: product.id, paths: [realPng(10)] }));
    for (const config of [{ constructor: 1 }, { toString: 'x' }, { hasOwnProperty: true }, { nope: 1 }, { height: 'big' }, { height: true }, { height: 100_000 }, { width: 0 }, { height: 127.5 }, { coresetRatio: 'x' }]) {
      const r = await s.handle('models.train', { productId: product.id, method: 'patchcore', config });
      expect(r, JSON.stringify(config)).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    }
    expect(await call(s, 'jobs.list', { status: 'queued' })).toEqual([]);
    expect((await call(s, 'jobs.list', {})).map((j) => j.kind)).toEqual(['import']);
  });
});

function describeInput(input: unknown): string {
  try {
    const text = JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'string' && v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v));
    return text === undefined ? String(input) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch (err) {
    return `<${(err as Error).message}>`;
  }
}
