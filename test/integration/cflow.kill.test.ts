/**
 * A CFLOW-AD training killed with SIGKILL continues where its checkpoint left it: the real `argus`
 * command trains `cflow` on imported metal-plate images, is killed once the project's checkpoint holds
 * at least one finished sub-epoch, is resumed with `argus jobs --resume`, and its model scores test
 * images within 1e-4 of a training of the same images and seed that was never interrupted.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { readTensorFile } from '../../src-main/engine/training/index.ts';
import type { CflowModel } from '../../src-main/methods/cflow/model.ts';
import { decodeModel } from '../../src-main/methods/persistence.ts';
import { createProject, models, openProject } from '../../src-main/store/index.ts';
import { runCli, startCli } from '../fixtures/cli.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

beforeAll(() => setSessionLogger(() => {}));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SETTINGS = ['height=128', 'width=128', 'blocks=2', 'epochs=2', 'subEpochs=1'].flatMap((s) => ['--set', s]);

/** The project's CFLOW checkpoint (written after each sub-epoch, atomically), if any. */
function checkpointFile(dir: string): string | undefined {
  const folder = join(dir, 'checkpoints');
  if (!existsSync(folder)) return undefined;
  const file = readdirSync(folder).find((f) => f.startsWith('cflow-') && f.endsWith('.ckpt'));
  return file && join(folder, file);
}

const checkpointSubEpochs = (dir: string): number => {
  const file = checkpointFile(dir);
  return file ? Number(readTensorFile(file).meta['subEpochs']) : 0;
};

async function modelOf(dir: string, version: number): Promise<CflowModel> {
  const p = openProject(dir, { readonly: true });
  try {
    const m = models.list(p, 1).find((x) => x.version === version)!;
    return (await decodeModel(models.readModelBlob(p, m, 'model'), `model v${version}`)) as CflowModel;
  } finally {
    p.close();
  }
}

describe.sequential('kill -9 in the middle of a CFLOW-AD training, then resume', () => {
  const root = mkdtempSync(join(tmpdir(), 'argus-cflow-kill-'));
  const dir = join(root, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 2, testDefect: 2 });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('the resumed model scores within 1e-4 of an uninterrupted training with the same seed', { timeout: 300_000 }, async () => {
    createProject(dir, 'cflow-kill').close();
    const imported = await runCli(['import', '--project', dir, '--product', 'P', '--mvtec', data]);
    expect(imported.code, imported.output).toBe(0);

    const child = startCli(['train', '--project', dir, '--product', 'P', '--method', 'cflow', ...SETTINGS]);
    const deadline = Date.now() + 120_000;
    // the first checkpoint holds one finished sub-epoch: kill at once, with the second epoch to go
    while (!checkpointFile(dir)) {
      if (!child.running) throw new Error(`argus exited (${String(await child.exited)}) before its first checkpoint:\n${child.output()}`);
      if (Date.now() > deadline) throw new Error(`no checkpoint after 120 s:\n${child.output()}`);
      await sleep(5);
    }
    await child.kill();
    const done = checkpointSubEpochs(dir);
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(2);
    const p = openProject(dir);
    const jobId = p.db.prepare("SELECT max(id) AS n FROM jobs WHERE kind = 'train'").pluck().get() as number;
    expect(models.list(p, 1)).toEqual([]);
    p.close();

    const resumed = await runCli(['jobs', '--project', dir, '--resume', String(jobId)]);
    expect(resumed.code, resumed.output).toBe(0);
    // the stored model is the only trace left: its checkpoint is removed
    expect(checkpointSubEpochs(dir)).toBe(0);
    const again = await runCli(['train', '--project', dir, '--product', 'P', '--method', 'cflow', ...SETTINGS]);
    expect(again.code, again.output).toBe(0);

    const [interrupted, uninterrupted] = [await modelOf(dir, 1), await modelOf(dir, 2)];
    expect(interrupted.training!.resumedSubEpochs).toBe(done);
    expect(uninterrupted.training!.resumedSubEpochs).toBe(0);
    const ds = scanMvtec(data);
    const batch = (await loadBatches(ds.test, interrupted.input, { batchSize: 4 }).next()).value!.batch;
    const [a, b] = [await interrupted.predict(batch), await uninterrupted.predict(batch)];
    a.forEach((pa, i) => {
      expect(Math.abs(pa.score - b[i]!.score)).toBeLessThan(1e-4);
      let worst = 0;
      for (let k = 0; k < pa.map.length; k++) worst = Math.max(worst, Math.abs(pa.map[k]! - b[i]!.map[k]!));
      expect(worst).toBeLessThan(1e-4);
    });
  });
});
