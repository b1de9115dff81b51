/**
 * One project, two front doors: a project made with the CLI opens in the station's browser mode (the
 * same HTTP API the screens use) and a project made there is read by the CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer } from '../../src-main/transport/http-server.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

const ARGUS = resolve(import.meta.dirname, '../../bin/argus.js');
const argus = (...args: string[]) => execFileSync(process.execPath, [ARGUS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function withBrowserMode<T>(fn: (call: (method: string, input: unknown) => Promise<unknown>) => Promise<T>): Promise<T> {
  const station = new Station();
  const server = await startBrowserServer(station, { port: 0 });
  const call = async (method: string, input: unknown) => {
    const res = await fetch(`${server.origin}/api/${method}`, { method: 'POST', headers: { Authorization: `Bearer ${server.token}` }, body: JSON.stringify(input) });
    const body = (await res.json()) as ApiResponse<unknown>;
    if (!body.ok) throw new Error(`${method}: ${body.error.code} ${body.error.message}`);
    return body.value;
  };
  try {
    return await fn(call);
  } finally {
    await server.close();
    await station.close();
  }
}

describe('projects shared by the CLI and the station', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-interop-'));
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 3, testGood: 1, testDefect: 2 });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('opens a CLI-made project in browser mode with its product, images and masks', async () => {
    const dir = join(work, 'from-cli');
    argus('project', 'create', dir, '--name', 'Made on the CLI');
    expect(argus('import', '--project', dir, '--product', 'PN-1', '--mvtec', data)).toContain('imported 6');
    await withBrowserMode(async (call) => {
      const info = (await call('project.open', { dir })) as { name: string };
      expect(info.name).toBe('Made on the CLI');
      const [product] = (await call('products.list', {})) as Array<{ id: number; name: string; imageCount: number }>;
      expect(product).toMatchObject({ name: 'PN-1', imageCount: 6 });
      const page = (await call('images.list', { productId: product!.id, split: 'test' })) as { items: Array<{ verdict: string; hasGroundTruth: boolean }> };
      expect(page.items.filter((i) => i.verdict === 'defective' && i.hasGroundTruth)).toHaveLength(2);
    });
  });

  it('reads a project made in browser mode from the CLI, after the station has let go of it', async () => {
    const dir = join(work, 'from-station');
    await withBrowserMode(async (call) => {
      await call('project.create', { dir, name: 'Made in the station' });
      await call('products.create', { name: 'PN-2', description: 'brackets' });
    });
    const jobs = argus('jobs', '--project', dir);
    expect(jobs).toContain('kind');
    expect(() => argus('results', '--project', dir, '--product', 'PN-2')).toThrow(/no model yet/);
    expect(argus('import', '--project', dir, '--product', 'PN-2', join(data, 'train', 'good'))).toContain('imported 3');
    expect(argus('train', '--project', dir, '--product', 'PN-2', '--set', 'height=128', '--set', 'width=128')).toContain('model 1:');
    // a stored model scores images straight from the project (read-only), heatmaps beside
    const out = join(work, 'heatmaps');
    const defect = join(data, 'test', 'defect');
    const infer = argus('infer', '--project', dir, '--model', '1', '--out', out, ...readdirSync(defect).map((f) => join(defect, f)));
    expect(infer).toMatch(/score \d+\.\d+/);
    expect(infer).toContain('.heatmap.png');
    // another backbone: PatchCore reads it at the same strides, and the model scores like the first
    expect(argus('train', '--project', dir, '--product', 'PN-2', '--backbone', 'mobilenet_v1_features', '--set', 'height=128', '--set', 'width=128'))
      .toMatch(/model 2: 'PN-2' v2 \(patchcore, mobilenet_v1_features\)/);
    expect(argus('infer', '--project', dir, '--model', '2', '--out', join(work, 'heatmaps-v1'), join(defect, readdirSync(defect)[0]!))).toMatch(/score \d+\.\d+/);
  });
});
