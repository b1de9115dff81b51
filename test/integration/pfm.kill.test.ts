/**
 * Resume after kill -9, for a trained method: the real `argus` command trains PFM on real metal-plate
 * images, is killed with SIGKILL once its per-project checkpoint holds at least one finished epoch,
 * and `argus jobs --resume` continues from that checkpoint. The resumed model must score like the
 * model of an uninterrupted training of the same images, settings and seed (within 1e-4).
 */
import { readdirSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { readTensorFile } from '../../src-main/engine/training/tensor-file.ts';
import { decodeModel } from '../../src-main/methods/persistence.ts';
import { createProject, jobs, models, openProject } from '../../src-main/store/index.ts';
import { runCli, startCli } from '../fixtures/cli.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const IMAGES = 6;
const BATCH = 2;
const EPOCHS = 12;
const STEPS_PER_EPOCH = IMAGES / BATCH;
// 128 px and small latent sizes keep it quick; checkpointing and resuming do not depend on them
const SETTINGS = ['--method', 'pfm', '--resize', 'stretch', '--set', 'height=128', '--set', 'width=128', '--set', `epochs=${EPOCHS}`, '--set', `batchSize=${BATCH}`, '--set', 'latent=16,32,64'];

describe.sequential('kill -9 in the middle of a PFM training, then argus jobs --resume', () => {
  setSessionLogger(() => {});
  const root = mkdtempSync(join(tmpdir(), 'argus-pfm-kill-'));
  const dir = join(root, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: IMAGES, testGood: 1, testDefect: 2 });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('resumes from the last checkpointed epoch and ends with the scores of an uninterrupted run', async () => {
    createProject(dir, 'pfm-kill').close();
    const imported = await runCli(['import', '--project', dir, '--product', 'P', '--mvtec', data]);
    expect(imported.code, imported.output).toBe(0);
    const full = await runCli(['train', '--project', dir, '--product', 'P', ...SETTINGS]);
    expect(full.code, full.output).toBe(0);

    const child = startCli(['train', '--project', dir, '--product', 'P', ...SETTINGS]);
    const checkpoints = join(dir, 'checkpoints');
    const deadline = Date.now() + 120_000;
    let step = 0;
    while (step < STEPS_PER_EPOCH) {
      if (!child.running) throw new Error(`argus exited (${String(await child.exited)}) before a checkpoint:\n${child.output()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a checkpoint:\n${child.output()}`);
      const file = (() => { try { return readdirSync(checkpoints).find((f) => f.startsWith('pfm-') && f.endsWith('.ckpt')); } catch { return undefined; } })();
      if (file) step = Number(readTensorFile(join(checkpoints, file)).meta['step']);
      else await sleep(10);
    }
    await child.kill();
    expect(step).toBeLessThan(EPOCHS * STEPS_PER_EPOCH);

    let killedJob: number;
    const p = openProject(dir);
    try {
      const train = jobs.list(p).filter((j) => j.kind === 'train').sort((a, b) => b.id - a.id)[0]!;
      expect(train.status).toBe('interrupted');
      killedJob = train.id;
      expect(models.list(p, 1)).toHaveLength(1);
    } finally {
      p.close();
    }
    const resumed = await runCli(['jobs', '--project', dir, '--resume', String(killedJob)]);
    expect(resumed.code, resumed.output).toBe(0);

    const q = openProject(dir, { readonly: true });
    let bytes: Buffer[];
    try {
      const list = models.list(q, 1).sort((a, b) => a.version - b.version);
      expect(list.map((m) => m.method)).toEqual(['pfm', 'pfm']);
      bytes = list.map((m) => models.readModelBlob(q, m, 'model'));
    } finally {
      q.close();
    }
    const [a, b] = await Promise.all(bytes.map((x, i) => decodeModel(x, `model ${i + 1}`)));
    const describeB = b!.describe() as { training: { resumedAtEpoch: number; epochs: number } };
    expect(describeB.training.resumedAtEpoch).toBeGreaterThanOrEqual(1);
    expect(describeB.training.epochs).toBe(EPOCHS);
    const ds = scanMvtec(data);
    const batch = (await loadBatches(ds.test, a!.input, { batchSize: ds.test.length }).next()).value!.batch;
    const [pa, pb] = [await a!.predict(batch), await b!.predict(batch)];
    pa.forEach((x, i) => expect(Math.abs(x.score - pb[i]!.score)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(x.score))));
  });
});
