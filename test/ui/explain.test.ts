/**
 * "Why flagged?" in the review viewer, in Chromium against a real station: a PatchCore model trained
 * on real metal-plate images, its inspection reviewed; the viewer shows the flagged patch beside the
 * nearest normal patch of the memory bank with their distance, as results.explain answers.
 *
 * Screenshots at 1920x1080 land in $ARGUS_UI_SHOTS (default /tmp/argus-ui).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { score } from '../../src-renderer/src/lib/format.ts';
import { ensureRendererBuilt, RENDERER, SHOTS, openWatchedPage } from '../fixtures/browser.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';


describe('Why flagged? in the review viewer', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-ui-explain-'));
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 1, testDefect: 2 });
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureRendererBuilt();
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
    await call(station, 'project.create', { dir: join(work, 'project'), name: 'Metal plates' });
    const productId = (await call(station, 'products.create', { name: 'PN-7 bracket' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const train = await finished(station, await call(station, 'models.train', { productId, method: 'patchcore', config: { height: 128, width: 128 } }));
    expect(train.status, train.error ?? '').toBe('succeeded');
    const [model] = await call(station, 'models.list', { productId });
    const tests = (await call(station, 'images.list', { productId, split: 'test' })).items;
    expect((await finished(station, await call(station, 'inspection.run', { modelId: model!.id, imageIds: tests.map((i) => i.id), name: 'Lot 7' }))).status).toBe('succeeded');
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems, { viewport: { width: 1920, height: 1080 } }));
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('shows the flagged patch beside the nearest normal patch and their distance', async () => {
    await page.goto(server.url);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: /^Inspect & review Alt\+\d$/ }).click();
    const rows = page.locator('tr[data-result-id]');
    await rows.first().click();
    const resultId = Number(await rows.first().getAttribute('data-result-id'));
    const viewer = page.getByRole('region', { name: 'Result' });
    const why = viewer.getByRole('region', { name: 'Why flagged' });
    await why.getByRole('button', { name: 'Why flagged?' }).click();
    for (const id of ['why-flagged', 'why-nearest']) {
      const img = why.getByTestId(id);
      await img.waitFor({ timeout: 60_000 });
      await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    }
    const answer = await call(station, 'results.explain', { resultId, maxSide: 256 });
    expect(await why.getByTestId('why-distance').textContent()).toBe(score(answer.nearest!.distance));
    expect(await why.textContent()).toContain(`training image ${answer.nearest!.imageId}`);
    expect(await why.textContent()).toContain(`row ${answer.flagged.cell!.row}, column ${answer.flagged.cell!.column}`);
    await page.screenshot({ path: join(SHOTS, '13-why-flagged.png') });
    await why.getByRole('button', { name: 'Hide why' }).click();
    await expect.poll(() => why.getByTestId('why-nearest').count()).toBe(0);
    expect(problems).toEqual([]);
  }, 180_000);
});
