/**
 * The Evaluate screen in Chromium against a real station: two PatchCore versions of one product trained
 * on real metal-plate images, both evaluated from the Train screen; the screen shows the stored
 * evaluation (metrics with intervals, curves, histogram, recall per defect type, PRO curve) and compares
 * the versions on their shared images; after a restart of the station it opens from the stored records.
 *
 * Screenshots at 1920x1080 land in $ARGUS_UI_SHOTS (default /tmp/argus-ui).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { ensureRendererBuilt, RENDERER, SHOTS, openWatchedPage } from '../fixtures/browser.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';


/** A percentage as the screen writes it ('93.75'), as a number. */
async function percentOf(cell: Locator): Promise<number> {
  const text = (await cell.textContent())!.trim();
  expect(text).toMatch(/^\d+\.\d\d$/);
  return Number(text);
}

describe('the Evaluate screen in Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-ui-evaluate-'));
  const projectDir = join(work, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 4, testDefect: 6 });
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  const nav = (title: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: new RegExp(`^${title} Alt\\+\\d$`) }).click();

  async function startStation(): Promise<void> {
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureRendererBuilt();
    await startStation();
    // the product and its two versions through the API; evaluating and everything after through the UI
    await call(station, 'project.create', { dir: projectDir, name: 'Metal plates' });
    const productId = (await call(station, 'products.create', { name: 'PN-7 bracket' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const defective = (await call(station, 'images.list', { productId, verdict: 'defective' })).items;
    await call(station, 'images.label', { ids: defective.slice(0, 2).map((i) => i.id), verdict: 'defective', defectType: 'dent' });
    for (const config of [{ height: 128, width: 128, coresetRatio: 0.1 }, { height: 192, width: 192, coresetRatio: 0.05 }]) {
      const train = await finished(station, await call(station, 'models.train', { productId, method: 'patchcore', config }));
      expect(train.status, train.error ?? '').toBe('succeeded');
    }
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems, { viewport: { width: 1920, height: 1080 } }));
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('evaluates both versions from the Train screen and opens the newest one on the Evaluate screen', async () => {
    await page.goto(server.url);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Evaluate Alt+5' }).waitFor();
    await nav('Train');
    for (const version of [1, 2]) {
      const row = page.locator(`tr[data-model-version="${version}"]`);
      await row.getByRole('button', { name: 'Evaluate', exact: true }).click();
      await row.getByRole('button', { name: 'Re-evaluate', exact: true }).waitFor({ timeout: 300_000 });
    }
    await page.locator('tr[data-model-version="2"]').getByRole('button', { name: 'Open the evaluation of v2' }).click();
    await page.getByRole('heading', { name: 'Evaluate', exact: true }).waitFor();
    await page.getByRole('heading', { name: /^Evaluation · v2/ }).waitFor();
    expect(await page.getByTestId('model-follow').isVisible()).toBe(true);
  }, 600_000);

  it('shows the metrics with their 95 % intervals, the curves, the histogram and recall per defect type', async () => {
    // the evidence: the validation report and the model export are both reachable from here
    await page.getByRole('group', { name: 'Validation report' }).waitFor();
    expect(await page.getByRole('region', { name: 'Export the model' }).getByRole('heading').textContent()).toMatch(/^Export model v2/);
    const metrics = page.getByRole('table', { name: 'Metrics' });
    for (const key of ['imageAuroc', 'pixelAuroc', 'aupro', 'imageF1', 'pixelF1']) {
      const row = metrics.locator(`tr[data-metric="${key}"]`);
      const value = await percentOf(row.locator('td.value'));
      expect(value, key).toBeGreaterThan(0);
      expect(value, key).toBeLessThanOrEqual(100);
      const [low, high] = (await row.locator('td.ci').textContent())!.split('–').map((s) => Number(s.trim()));
      expect(low, key).toBeLessThanOrEqual(high!);
      if (key !== 'pixelF1' && key !== 'imageF1') expect(value, key).toBeGreaterThanOrEqual(low! - 0.5);
    }
    // image AUROC agrees with the model's stored metrics
    const model = (await call(station, 'models.list', { productId: 1 })).find((m) => m.version === 2)!;
    expect(await percentOf(metrics.locator('tr[data-metric="imageAuroc"] td.value'))).toBeCloseTo((model.metrics!['imageAuroc'] as number) * 100, 2);
    // the curves are drawn (uPlot canvases), the ROC with the current threshold's operating point
    for (const name of ['ROC curve of v2', 'Precision-recall curve of v2', 'PRO curve of v2']) {
      const chart = page.getByRole('img', { name });
      await chart.locator('canvas').waitFor();
      expect((await chart.locator('canvas').boundingBox())!.width).toBeGreaterThan(200);
    }
    await page.getByRole('img', { name: 'ROC curve of v2' }).getByText('current threshold').waitFor();
    const histogram = page.getByRole('group', { name: 'Score histogram of the evaluated images' });
    await histogram.locator('canvas').waitFor();
    expect(await histogram.getByRole('slider').count()).toBe(0);
    expect((await histogram.getAttribute('data-count-ticks'))!.split(',')[0]).toBe('0');
    // recall per defect type at the current threshold: the two relabelled 'dent' images and the rest
    const recall = page.getByRole('region', { name: 'Recall per defect type' });
    expect(await recall.locator('tr[data-defect-type="dent"] td').nth(1).textContent()).toBe('2');
    expect(await recall.locator('tr[data-defect-type="defect"] td').nth(1).textContent()).toBe('4');
    await page.getByRole('region', { name: 'Evaluation summary' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('evaluate-01-metrics-curves');
  });

  it('compares v2 with v1 on the same images: the differences, their intervals and whether they exclude zero', async () => {
    const compare = page.getByRole('region', { name: 'Compare versions' });
    const v1 = compare.getByRole('group', { name: 'Versions to compare' }).getByRole('checkbox', { name: /^v1/ });
    expect(await v1.isChecked()).toBe(true);
    const table = compare.getByRole('table', { name: 'Comparison' });
    await table.waitFor();
    expect(await compare.getByTestId('compare-images').textContent()).toContain('10 shared images (4 good, 6 defective); pixel metrics on 10');
    for (const key of ['imageAuroc', 'pixelAuroc', 'aupro']) {
      const cells = table.locator(`tr[data-metric="${key}"] td`);
      const [base, other] = [await percentOf(cells.nth(1)), await percentOf(cells.nth(2))];
      const diff = Number((await cells.nth(3).textContent())!.replace('−', '-'));
      expect(diff, key).toBeCloseTo(other - base, 1);
      const [low, high] = (await cells.nth(4).textContent())!.split(' – ').map((s) => Number(s.replace('−', '-')));
      expect(low!, key).toBeLessThanOrEqual(high!);
      expect(await cells.nth(5).textContent(), key).toBe(low! > 0 || high! < 0
        ? `v1 is ${diff > 0 ? 'better' : 'worse'} than v2: the interval excludes zero`
        : 'no clear difference: the interval includes zero');
    }
    await page.getByRole('img', { name: 'ROC curves of the compared versions' }).locator('canvas').waitFor();
    await compare.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('evaluate-02-compare');
    // unticking the only other version leaves nothing to compare
    await v1.uncheck();
    await expect.poll(() => table.count()).toBe(0);
    await v1.check();
    await table.waitFor();
  });

  it('is reached from the Thresholds screen too', async () => {
    await nav('Thresholds');
    await page.getByRole('button', { name: /^Evaluation of v2: curves/ }).click();
    await page.getByRole('heading', { name: /^Evaluation · v2/ }).waitFor();
  });

  it('opens from the stored records after the station restarts', async () => {
    const before = await page.getByRole('table', { name: 'Metrics' }).innerText();
    expect(problems).toEqual([]);
    // the window goes away with the station (else it would keep retrying the closed server)
    await page.goto('about:blank');
    await server.close();
    await station.close();
    await startStation();
    await call(station, 'project.open', { dir: projectDir });
    await page.goto(server.url);
    await nav('Evaluate');
    await page.getByRole('heading', { name: /^Evaluation · v2/ }).waitFor();
    expect(await page.getByRole('table', { name: 'Metrics' }).innerText()).toBe(before);
    await page.getByRole('region', { name: 'Compare versions' }).getByRole('table', { name: 'Comparison' }).waitFor();
    // no evaluation job ran after the restart: the screen came from disk
    expect((await call(station, 'jobs.list', {})).filter((j) => j.kind === 'evaluate' && j.status !== 'succeeded')).toEqual([]);
    expect((await call(station, 'jobs.list', {})).filter((j) => j.kind === 'evaluate')).toHaveLength(2);
    await shot('evaluate-03-after-restart');
    expect(problems).toEqual([]);
  }, 120_000);
});
