/**
 * Nothing lost, at the level of whole jobs: the real `argus` command runs an import, a training and
 * an inspection on real metal-plate images; each is killed with SIGKILL at a random moment once the
 * database shows it provably half done (read-only peeks while it works), resumed with
 * `argus jobs --resume`, killed again, and finally resumed to the end. After every kill the project
 * must reopen with integrity_check ok, the job marked interrupted, every committed row intact with
 * files that hash right and no partial rows or files; at the end every piece of work is there exactly
 * once. The kill moments come from a seeded generator: ARGUS_KILL_SEED=<seed> replays a run.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createProject, images, jobs, masks, models, openProject, results, sha256Hex, verifyProject } from '../../src-main/store/index.ts';
import { startCli, type CliChild } from '../fixtures/cli.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { lcg } from '../fixtures/lcg.ts';
import { tempDir } from '../fixtures/store.ts';
import { INSPECTION_BATCH } from '../../src-main/services/inspection.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const KILLS = 2;
/** Inspection commits its results in batches of this many images. */
const BATCH = INSPECTION_BATCH;
/** Images the inspection's folder adds to those already imported. */
const NEW_IMAGES = 16;

interface PeekedJob { id: number; status: string; progress: number; resumes_job_id: number | null }

/** A read-only connection to the project's database while a child writes to it. */
class Peek {
  readonly db: Database.Database;
  constructor(dir: string) {
    this.db = new Database(join(dir, 'argus.db'), { readonly: true, fileMustExist: true });
  }
  n(sql: string, ...args: unknown[]): number {
    return (this.db.prepare(sql).get(...args) as { n: number }).n;
  }
  job(kind: string, after: number): PeekedJob | undefined {
    return this.db.prepare('SELECT id, status, progress, resumes_job_id FROM jobs WHERE kind = ? AND id > ? ORDER BY id DESC LIMIT 1').get(kind, after) as never;
  }
  close(): void {
    this.db.close();
  }
}

/** Polls `probe` until it returns something truthy; fails if the child ends first. */
async function until<T>(child: CliChild, what: string, probe: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (!child.running) throw new Error(`argus exited (${String(await child.exited)}) before ${what}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${child.output()}`);
    await sleep(10);
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

/**
 * What must hold after any kill, once the project is reopened (recovery ran): integrity, the job
 * interrupted, every row's file present and hashing to its name, every stored file complete (named by
 * its own hash, so none is half written), tmp/ empty, and no blob row that nothing refers to.
 */
function checkRecovered(dir: string, jobId: number): void {
  const p = openProject(dir);
  try {
    expect(p.recovery.interruptedJobs).toEqual([jobId]);
    expect(jobs.get(p, jobId).status).toBe('interrupted');
    expect(verifyProject(p)).toMatchObject({ ok: true, integrity: ['ok'], foreignKeyViolations: 0, missing: [], corrupt: [] });
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    for (const file of [...filesUnder(join(dir, 'images')), ...filesUnder(join(dir, 'blobs'))]) {
      expect(sha256Hex(readFileSync(file)), relative(dir, file)).toBe(basename(file).replace(/\..*$/, ''));
    }
    const orphans = p.db.prepare(`SELECT count(*) AS n FROM blobs b WHERE
      NOT EXISTS (SELECT 1 FROM masks WHERE blob_sha256 = b.sha256) AND NOT EXISTS (SELECT 1 FROM model_blobs WHERE blob_sha256 = b.sha256)
      AND NOT EXISTS (SELECT 1 FROM results WHERE map_sha256 = b.sha256 OR mask_sha256 = b.sha256)
      AND NOT EXISTS (SELECT 1 FROM reports WHERE blob_sha256 = b.sha256)`).get() as { n: number };
    expect(orphans.n).toBe(0);
  } finally {
    p.close();
  }
}

/** The chain of job ids from the first (killed) one to `last`, oldest first. */
function chainOf(dir: string, last: number): number[] {
  const p = openProject(dir, { readonly: true });
  try {
    return jobs.lineage(p, last).reverse();
  } finally {
    p.close();
  }
}

const seed = Number(process.env['ARGUS_KILL_SEED'] ?? Math.floor(Math.random() * 1e9));
const random = lcg(seed);

describe.sequential(`kill -9 in the middle of real jobs, then resume (ARGUS_KILL_SEED=${seed})`, () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-kill-'));
  const dir = join(root, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 16, testGood: 10, testDefect: 14 });
  const datasetFiles = ['train/good', 'test/good', 'test/defect'].flatMap((sub) => readdirSync(join(data, sub)).map((f) => join(data, sub, f))).sort();
  const defective = new Set(readdirSync(join(data, 'test/defect')).map((f) => join(data, 'test/defect', f)));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it(`an import killed ${KILLS} times keeps every committed image and, resumed, imports each file exactly once`, async () => {
    createProject(dir, 'kills').close();
    let previous: number | null = null;
    let lastJob = 0;
    for (let round = 0; round <= KILLS; round++) {
      const child: CliChild = previous === null
        ? startCli(['import', '--project', dir, '--product', 'P', '--mvtec', data])
        : startCli(['jobs', '--project', dir, '--resume', String(previous)]);
      const peek = new Peek(dir);
      try {
        const job: PeekedJob = await until(child, 'the import job starts', () => peek.job('import', lastJob));
        lastJob = job.id;
        expect(job.resumes_job_id).toBe(previous);
        if (round === KILLS) {
          expect(await child.exited, child.output()).toBe(0);
          break;
        }
        const remaining = datasetFiles.length - peek.n('SELECT count(*) AS n FROM images');
        const target = 1 + Math.floor(random() * Math.max(1, Math.floor(remaining / (KILLS - round + 1))));
        await until(child, `${target} images of job ${job.id}`, () => peek.n('SELECT count(*) AS n FROM images WHERE job_id = ?', job.id) >= target);
        await sleep(random() * 40);
        const committed = peek.db.prepare('SELECT id, sha256 FROM images WHERE job_id = ?').all(job.id) as { id: number; sha256: string }[];
        expect(peek.db.prepare('SELECT status FROM jobs WHERE id = ?').pluck().get(job.id)).toBe('running');
        await child.kill();
        expect(peek.n('SELECT count(*) AS n FROM images')).toBeLessThan(datasetFiles.length);
        peek.close();
        checkRecovered(dir, job.id);
        const p = openProject(dir, { readonly: true });
        try {
          for (const c of committed) {
            const image = images.get(p, c.id);
            expect(image.sha256).toBe(c.sha256);
            expect(images.readBytes(p, image).length).toBe(image.byteSize);
          }
        } finally {
          p.close();
        }
        previous = job.id;
      } finally {
        if (peek.db.open) peek.close();
      }
    }
    const chain = chainOf(dir, lastJob);
    expect(chain).toHaveLength(KILLS + 1);
    const p = openProject(dir);
    try {
      expect(verifyProject(p).ok).toBe(true);
      const all = images.list(p, { productId: 1 });
      expect(all.map((i) => i.originalPath).sort()).toEqual(datasetFiles);
      expect(new Set(all.map((i) => i.sha256)).size).toBe(all.length);
      for (const image of all) {
        expect(chain).toContain(image.jobId);
        expect(masks.find(p, image.id, 'ground_truth') !== undefined, image.originalPath).toBe(defective.has(image.originalPath));
      }
      expect(chain.slice(0, -1).map((id) => jobs.get(p, id).status)).toEqual(Array(KILLS).fill('interrupted'));
      const last = jobs.get(p, lastJob);
      expect(last.status).toBe('succeeded');
      const byLast = all.filter((i) => i.jobId === lastJob).length;
      expect(last.result).toEqual({ imported: byLast, duplicates: 0, failed: 0, problems: [] });
    } finally {
      p.close();
    }
  });

  it(`a training killed ${KILLS} times stores nothing partial and, resumed, produces model v1`, async () => {
    const before = openProject(dir, { readonly: true });
    const blobsBefore = (before.db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n;
    const firstJob = (before.db.prepare('SELECT max(id) AS n FROM jobs').get() as { n: number }).n;
    before.close();
    let previous: number | null = null;
    let lastJob = firstJob;
    for (let round = 0; round <= KILLS; round++) {
      const child: CliChild = previous === null
        ? startCli(['train', '--project', dir, '--product', 'P', '--set', 'height=128', '--set', 'width=128'])
        : startCli(['jobs', '--project', dir, '--resume', String(previous)]);
      const peek = new Peek(dir);
      try {
        const job: PeekedJob = await until(child, 'the training job starts', () => {
          const j = peek.job('train', lastJob);
          return j?.status === 'running' ? j : undefined;
        });
        lastJob = job.id;
        if (round === KILLS) {
          expect(await child.exited, child.output()).toBe(0);
          break;
        }
        // while the worker loads the backbone, or after the first features are in: feature extraction,
        // the coreset, scoring the training sample (the whole fit takes seconds after the first progress)
        if (random() < 1 / 3) await sleep(random() * 600);
        else {
          await until(child, `progress of job ${job.id}`, () => peek.n('SELECT count(*) AS n FROM jobs WHERE id = ? AND progress > 0', job.id) > 0);
          await sleep(random() * 1200);
        }
        expect(peek.db.prepare('SELECT status FROM jobs WHERE id = ?').pluck().get(job.id)).toBe('running');
        await child.kill();
        peek.close();
        checkRecovered(dir, job.id);
        const p = openProject(dir, { readonly: true });
        try {
          expect(models.list(p, 1)).toEqual([]);
          expect((p.db.prepare('SELECT count(*) AS n FROM model_blobs').get() as { n: number }).n).toBe(0);
          expect((p.db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n).toBe(blobsBefore);
        } finally {
          p.close();
        }
        previous = job.id;
      } finally {
        if (peek.db.open) peek.close();
      }
    }
    const chain = chainOf(dir, lastJob);
    expect(chain).toHaveLength(KILLS + 1);
    const p = openProject(dir);
    try {
      expect(verifyProject(p).ok).toBe(true);
      const list = models.list(p, 1);
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ version: 1, jobId: lastJob, method: 'patchcore' });
      expect(models.readModelBlob(p, list[0]!, 'model').length).toBeGreaterThan(1000);
      expect(chain.slice(0, -1).map((id) => jobs.get(p, id).status)).toEqual(Array(KILLS).fill('interrupted'));
      expect(jobs.get(p, lastJob).status).toBe('succeeded');
    } finally {
      p.close();
    }
  });

  it(`an inspection killed ${KILLS} times keeps every committed result and, resumed, scores each image exactly once`, async () => {
    // a folder of copies of every imported image (the product already holds them) and of NEW_IMAGES
    // further ones that the inspection imports first
    const line = join(tempDir(), 'line');
    mkdirSync(line);
    for (const f of datasetFiles) copyFileSync(f, join(line, `${basename(f, '.png')}-${f.includes('/train/') ? 'tr' : 'te'}.png`));
    const source = join(sharedDataset('mpdd_metal_plate'), 'test/defect');
    const fresh = readdirSync(source).sort().filter((f) => !defective.has(join(data, 'test/defect', f))).slice(0, NEW_IMAGES);
    for (const f of fresh) copyFileSync(join(source, f), join(line, `${basename(f, '.png')}-new.png`));
    const total = datasetFiles.length + NEW_IMAGES;
    const start = openProject(dir, { readonly: true });
    const modelId = models.list(start, 1)[0]!.id;
    let lastJob = (start.db.prepare('SELECT max(id) AS n FROM jobs').get() as { n: number }).n;
    start.close();
    const kept: Array<{ id: number; image_id: number; job_id: number; map_sha256: string; created_at: string }> = [];
    let previous: number | null = null;
    for (let round = 0; round <= KILLS; round++) {
      const child: CliChild = previous === null
        ? startCli(['inspect', '--project', dir, '--product', 'P', line])
        : startCli(['jobs', '--project', dir, '--resume', String(previous)]);
      const peek = new Peek(dir);
      try {
        const job: PeekedJob = await until(child, 'the inspection job starts', () => peek.job('inspect', lastJob));
        lastJob = job.id;
        if (round === KILLS) {
          expect(await child.exited, child.output()).toBe(0);
          break;
        }
        if (round === 0 && random() < 1 / 3) {
          // while it imports the folder's new images
          const target = 1 + Math.floor(random() * (NEW_IMAGES - 4));
          await until(child, `${target} images imported by job ${job.id}`, () => peek.n('SELECT count(*) AS n FROM images WHERE job_id = ?', job.id) >= target);
          await sleep(random() * 30);
        } else {
          // after one or more committed batches, leaving at least two batches for every later round and
          // two more for the kill to land before the end (a batch of 2 images takes a tenth of a second)
          const remaining = total - peek.n('SELECT count(*) AS n FROM results WHERE model_id = ?', modelId);
          const roundsLeft = KILLS - round - 1;
          const most = Math.max(1, Math.floor((remaining - 1 - 2 * BATCH * (roundsLeft + 1)) / BATCH) - 1);
          const batches = 1 + Math.floor(random() * most);
          await until(child, `${batches} result batches of job ${job.id}`, () => peek.n('SELECT count(*) AS n FROM results WHERE job_id = ?', job.id) >= batches * BATCH);
          await sleep(random() * 40);
        }
        const committed = peek.db.prepare('SELECT id, image_id, job_id, map_sha256, created_at FROM results WHERE job_id = ?').all(job.id) as typeof kept;
        expect(peek.db.prepare('SELECT status FROM jobs WHERE id = ?').pluck().get(job.id)).toBe('running');
        await child.kill();
        const after = peek.n('SELECT count(*) AS n FROM results WHERE model_id = ?', modelId);
        expect(after, 'the kill came after the last batch').toBeLessThan(total);
        peek.close();
        checkRecovered(dir, job.id);
        const p = openProject(dir, { readonly: true });
        try {
          for (const c of committed) {
            const r = results.get(p, c.id);
            expect(r).toMatchObject({ imageId: c.image_id, jobId: job.id, mapSha256: c.map_sha256 });
            expect(results.readMap(p, r)!.length).toBeGreaterThan(0);
          }
          // every result of the killed job, even those committed after the last peek, is whole
          expect(results.list(p, { jobId: job.id }).length % BATCH).toBe(0);
        } finally {
          p.close();
        }
        kept.push(...committed);
        previous = job.id;
      } finally {
        if (peek.db.open) peek.close();
      }
    }
    const chain = chainOf(dir, lastJob);
    expect(chain).toHaveLength(KILLS + 1);
    const p = openProject(dir);
    try {
      expect(verifyProject(p).ok).toBe(true);
      const all = results.list(p, { modelId });
      expect(all).toHaveLength(total);
      expect(new Set(all.map((r) => r.imageId)).size).toBe(total);
      const stored = images.list(p, { productId: 1 });
      expect(stored).toHaveLength(total);
      const added = stored.filter((i) => i.originalPath.endsWith('-new.png'));
      expect(added).toHaveLength(NEW_IMAGES);
      for (const i of added) expect(chain).toContain(i.jobId);
      for (const r of all) expect(chain).toContain(r.jobId);
      // what the killed runs committed was kept as it was, not scored again
      const byId = new Map(all.map((r) => [r.id, r]));
      for (const k of kept) expect(byId.get(k.id)).toMatchObject({ imageId: k.image_id, jobId: k.job_id, mapSha256: k.map_sha256, createdAt: k.created_at });
      const last = jobs.get(p, lastJob);
      expect(last.status).toBe('succeeded');
      expect((last.result as { inspected: number }).inspected).toBe(all.filter((r) => r.jobId === lastJob).length);
      expect(chain.slice(0, -1).map((id) => jobs.get(p, id).status)).toEqual(Array(KILLS).fill('interrupted'));
    } finally {
      p.close();
    }
  });
});
