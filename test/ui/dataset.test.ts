/**
 * The Dataset screen on a product of 600 generated images, in Chromium against a real Station: the
 * virtualised grid keeps only what is in view in the page while scrolling to the last image; filters
 * by label, defect type, reviewer decision and score range answer with the counts beside them; tiles
 * are selected and labelled from the grid; files dropped onto the import card (browser mode) reach the
 * station as bytes, with the duplicate and the corrupt file listed by name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { decisions, images, models, results, runs } from '../../src-main/store/index.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { encodePng } from '../../src-main/vision/picture.ts';
import { ensureRendererBuilt, RENDERER, dropFiles, openWatchedPage } from '../fixtures/browser.ts';
import { call, finished } from '../fixtures/station.ts';
import { SYNTHETIC_SIDE, syntheticPixels, writeSyntheticDataset } from '../fixtures/synthetic-images.ts';

const IMAGES = 600;

describe('the Dataset screen in Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-dataset-ui-'));
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;
  let productId: number;
  let ids: number[];
  let firstDataFile: string;

  const region = () => page.getByRole('region', { name: 'Images' });
  const tiles = () => region().locator('[data-image-id]');
  const rangeText = () => region().locator('.range').textContent();
  const facet = (group: string, option: string) => region().getByRole('group', { name: group }).getByRole('button', { name: option });
  const counted = (n: number) => (text: string | null) => text?.trim().endsWith(`of ${n.toLocaleString('en-US')}`) ?? false;

  beforeAll(async () => {
    await ensureRendererBuilt();
    const data = await writeSyntheticDataset(join(work, 'data'), { images: IMAGES });
    station = new Station();
    await call(station, 'project.create', { dir: join(work, 'project'), name: 'Big lots' });
    productId = (await call(station, 'products.create', { name: 'PN-9 washer' })).id;
    const job = await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }));
    expect(job.status).toBe('succeeded');
    // a model with a score for every image (score = index / 100) and one reviewer decision
    const p = station.project();
    ids = images.list(p, { productId }).map((i) => i.id);
    firstDataFile = images.get(p, ids[0]!).originalPath;
    const modelId = models.add(p, {
      productId, method: 'patchcore', backboneId: 'mobilenet_v2_features', backboneSha256: 'a'.repeat(64), config: {}, dataManifestSha256: 'b'.repeat(64), blobs: { model: Buffer.from('m') },
    }).id;
    const run = runs.create(p, { productId, modelId, name: 'Lot 1' });
    const resultIds = results.addMany(p, ids.map((imageId, i) => ({ imageId, modelId, runId: run.id, score: i / 100, verdict: i / 100 >= 5 ? 'fail' as const : 'pass' as const })));
    decisions.record(p, { resultId: resultIds[10]!, verdict: 'fail', defectType: 'scratch', by: 'A. Weber' });

    server = await startBrowserServer(station, { rendererDir: RENDERER });
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems));
    await page.goto(server.url);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Dataset' }).click();
    await tiles().first().waitFor();
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps only the rows in view in the page and scrolls to the last image', async () => {
    await expect.poll(rangeText).toSatisfy(counted(IMAGES));
    const shown = await tiles().count();
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(IMAGES / 3);
    await page.getByTestId('image-grid').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await region().locator(`[data-image-id="${ids.at(-1)}"]`).waitFor();
    expect(await tiles().count()).toBeLessThan(IMAGES / 3);
    await expect.poll(rangeText).toMatch(new RegExp(`–${IMAGES} of ${IMAGES}$`));
    await expect.poll(() => region().locator(`[data-image-id="${ids[0]}"]`).count()).toBe(0);
  });

  it('filters by label, defect type, decision and score range, each option with its count', async () => {
    const counts = await call(station, 'images.counts', { productId });
    await expect.poll(() => facet('Label filter', 'Defective').textContent()).toContain(String(counts.verdicts.defective));
    await facet('Label filter', 'Defective').click();
    await expect.poll(rangeText).toSatisfy(counted(counts.verdicts.defective));
    const dents = counts.defectTypes.find((d) => d.defectType === 'dent')!.count;
    await expect.poll(() => facet('Defect type filter', 'dent').textContent()).toContain(String(dents));
    await facet('Defect type filter', 'dent').click();
    await expect.poll(rangeText).toSatisfy(counted(dents));
    await region().getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(rangeText).toSatisfy(counted(IMAGES));

    await facet('Decision filter', 'Failed by a reviewer').click();
    await expect.poll(() => tiles().count()).toBe(1);
    expect(await tiles().first().getAttribute('data-image-id')).toBe(String(ids[10]));
    await expect.poll(() => tiles().first().textContent()).toContain('failed');
    await facet('Decision filter', 'All').click();

    // scores are i / 100: [1, 1.5] holds images 100..150
    await region().getByRole('spinbutton', { name: 'Lowest score' }).fill('1');
    await region().getByRole('spinbutton', { name: 'Highest score' }).fill('1.5');
    await expect.poll(rangeText).toSatisfy(counted(51));
    expect(await tiles().first().getAttribute('data-image-id')).toBe(String(ids[100]));
    await region().getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(rangeText).toSatisfy(counted(IMAGES));
  });

  it('labels tiles selected in the grid with a defect type, and the counts follow', async () => {
    await page.getByTestId('image-grid').evaluate((el) => el.scrollTo({ top: 0 }));
    await region().locator(`[data-image-id="${ids[0]}"]`).click();
    await region().locator(`[data-image-id="${ids[3]}"]`).click({ modifiers: ['Shift'] });
    await region().getByText('4 selected').waitFor();
    await region().getByRole('textbox', { name: 'Defect type' }).fill('crack');
    await region().getByRole('toolbar', { name: 'Selected images' }).getByRole('button', { name: /^Defective/ }).click();
    await expect.poll(() => facet('Defect type filter', 'crack').textContent()).toContain('4');
    await expect.poll(() => region().locator('[data-image-id]', { hasText: 'crack' }).count()).toBe(4);
    const stored = ids.slice(0, 4).map((id) => images.get(station.project(), id));
    expect(stored.map((i) => [i.verdict, i.defectType])).toEqual(Array(4).fill(['defective', 'crack']));
  });

  it('imports files dropped onto the import card, listing the duplicate and the corrupt file by name', async () => {
    const fresh = await Promise.all([IMAGES + 1, IMAGES + 2].map(async (i) => (await encodePng(syntheticPixels(i), SYNTHETIC_SIDE, SYNTHETIC_SIDE, 3)).png.toString('base64')));
    const files = [
      { name: 'lot7-a.png', base64: fresh[0]! },
      { name: 'lot7-b.png', base64: fresh[1]! },
      { name: 'lot7-again.png', base64: readFileSync(firstDataFile).toString('base64') },
      { name: 'lot7-broken.png', base64: Buffer.concat([readFileSync(firstDataFile).subarray(0, 60), Buffer.alloc(40, 7)]).toString('base64') },
    ];
    await dropFiles(page.getByRole('form', { name: 'Import images' }), files);
    const summary = page.getByRole('form', { name: 'Import images' }).locator('[aria-label="Sent files"]');
    await expect.poll(() => summary.locator('.tile.ok .n').textContent()).toBe('2');
    await expect.poll(() => summary.getByRole('group').count()).toBe(0);
    const duplicates = summary.locator('[aria-label="Duplicates skipped"]');
    await expect.poll(() => duplicates.textContent()).toContain('lot7-again.png');
    expect(await duplicates.textContent()).toContain(`image ${ids[0]}`);
    await expect.poll(() => summary.locator('[aria-label="Not imported"]').textContent()).toContain('lot7-broken.png');
    await expect.poll(rangeText).toSatisfy(counted(IMAGES + 2));
    await expect.poll(() => facet('Split filter', 'Train').textContent()).toContain(String((await call(station, 'images.counts', { productId })).splits.train));
    expect(images.list(station.project(), { productId }).filter((i) => i.originalPath.startsWith('lot7-')).map((i) => i.originalPath)).toEqual(['lot7-a.png', 'lot7-b.png']);
  });

  it('logged no page errors', () => {
    expect(problems).toEqual([]);
  });
});
