/**
 * End to end through the real UI: the built renderer in Debian's Chromium (playwright-core), the
 * browser-mode server and a real Station on a temp project, with real metal-plate images. One
 * engineer's day: create a project and a product, import an MVTec-layout folder, label, paint a
 * mask, train PatchCore, evaluate, set a threshold, inspect, review an overlay, create reports.
 *
 * Screenshots of every screen land in $ARGUS_UI_SHOTS (default /tmp/argus-ui).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

const REPO = resolve(import.meta.dirname, '../..');
const RENDERER = join(REPO, 'dist/renderer');
const CHROMIUM = process.env['ARGUS_CHROMIUM'] ?? '/usr/bin/chromium';
const SHOTS = process.env['ARGUS_UI_SHOTS'] ?? join(tmpdir(), 'argus-ui');

function newestMtime(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

/** Builds the renderer when dist/renderer is missing or older than its sources. */
async function ensureRendererBuilt(): Promise<void> {
  const index = join(RENDERER, 'index.html');
  const sources = Math.max(
    newestMtime(join(REPO, 'src-renderer')),
    newestMtime(join(REPO, 'vite.config.ts')),
    newestMtime(join(REPO, 'src-main/api/contract.ts')),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  await build({ configFile: join(REPO, 'vite.config.ts'), logLevel: 'warn' });
}

describe('the station UI in Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-ui-'));
  const projectDir = join(work, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 10, testGood: 3, testDefect: 4 });
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  const nav = (title: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: title }).click();
  const heading = (text: string) => page.getByRole('heading', { name: text, exact: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set ARGUS_CHROMIUM)`);
    mkdirSync(SHOTS, { recursive: true });
    await ensureRendererBuilt();
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
    context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('opens with the token taken out of the address bar', async () => {
    await page.goto(server.url);
    await expect.poll(() => page.url()).toBe(`${server.origin}/`);
    await expect.poll(() => page.getByText('Live updates on').isVisible()).toBe(true);
    await heading('New project').waitFor();
    await shot('01-projects-empty');
  });

  it('creates a project and a product', async () => {
    // errors are shown where they happen: opening a folder that is no project
    await page.locator('input[name="open-dir"]').fill(join(work, 'nothing-here'));
    await page.getByRole('button', { name: 'Open project' }).click();
    await expect.poll(() => page.getByRole('form', { name: 'Open a project' }).getByRole('alert').textContent()).toContain('NOT_FOUND');

    await page.locator('input[name="create-dir"]').fill(projectDir);
    await page.locator('input[name="create-name"]').fill('Metal plates');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('region', { name: 'Open project' }).getByRole('heading', { name: 'Metal plates' }).waitFor();

    await nav('Dataset');
    await page.locator('input[name="product-name"]').fill('PN-7 bracket');
    await page.getByRole('button', { name: 'Add product' }).click();
    await expect.poll(() => page.locator('#side-product').inputValue()).not.toBe('');
    await expect.poll(() => page.locator('#side-product option:checked').textContent()).toBe('PN-7 bracket');
  });

  it('imports an MVTec-layout folder as a job and shows the images', async () => {
    await page.locator('textarea[name="import-paths"]').fill(data);
    await page.getByRole('button', { name: 'MVTec layout' }).click();
    await page.getByRole('button', { name: /^Import/ }).click();
    const form = page.getByRole('form', { name: 'Import images' });
    await form.locator('.badge.succeeded').waitFor({ timeout: 120_000 });
    await expect.poll(() => form.locator('[aria-label="Import summary"] .tile.ok .n').textContent()).toBe('17');
    const tiles = page.getByRole('region', { name: 'Images' }).locator('[data-image-id]');
    await expect.poll(() => tiles.count()).toBe(17);
    await expect.poll(() => page.getByRole('region', { name: 'Images' }).getByText('1–17 of 17').isVisible()).toBe(true);
    await shot('02-dataset');
  }, 300_000);

  it('filters, multi-selects and labels images with a defect type', async () => {
    const images = page.getByRole('region', { name: 'Images' });
    await images.getByRole('group', { name: 'Label filter' }).getByRole('button', { name: 'Defective' }).click();
    const tiles = images.locator('[data-image-id]');
    await expect.poll(() => tiles.count()).toBe(4);
    await tiles.nth(0).click();
    await tiles.nth(2).click({ modifiers: ['Shift'] });
    await images.getByText('3 selected').waitFor();
    await images.getByRole('textbox', { name: 'Defect type' }).fill('scratch');
    await images.getByRole('toolbar', { name: 'Selected images' }).getByRole('button', { name: /^Defective/ }).click();
    await expect.poll(() => images.locator('[data-image-id]', { hasText: 'scratch' }).count()).toBe(3);
    await shot('03-dataset-labelled');
  });

  it('paints a ground-truth mask on a defective image and saves it', async () => {
    const tile = page.getByRole('region', { name: 'Images' }).locator('[data-image-id]').first();
    await tile.dblclick();
    const editor = page.getByRole('region', { name: 'Mask editor' });
    await editor.getByText('Mask saved').waitFor();
    const canvas = editor.getByLabel('Mask painting area');
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.25, { steps: 8 });
    await page.mouse.up();
    await editor.getByText('Unsaved changes').waitFor();
    await shot('04-mask-editor');
    await page.keyboard.press('Control+s');
    await editor.getByText('Mask saved').waitFor();
    expect(await editor.getByRole('alert').count()).toBe(0);
  });

  it('trains PatchCore with a small coreset and follows its progress', async () => {
    await nav('Train');
    await page.locator('select[name="size"]').selectOption('224');
    await page.locator('input[name="coresetRatio"]').fill('0.02');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByRole('region', { name: 'Training progress' }).locator('.badge.running, .badge.succeeded').first().waitFor();
    await shot('05-training');
    await page.locator('tr[data-model-version="1"]').waitFor({ timeout: 240_000 });
    expect(await page.getByRole('region', { name: 'Training progress' }).locator('.badge').textContent()).toBe('succeeded');
  }, 300_000);

  it('evaluates the model and shows its metrics', async () => {
    const row = page.locator('tr[data-model-version="1"]');
    await row.getByRole('button', { name: 'Evaluate' }).click();
    await row.getByRole('button', { name: 'Re-evaluate' }).waitFor({ timeout: 240_000 });
    const auroc = await row.locator('td.num').first().textContent();
    expect(Number(auroc)).toBeGreaterThan(50);
    await shot('06-models');
  }, 300_000);

  it('sets a threshold on the histogram and saves it as a new version', async () => {
    await nav('Thresholds');
    const studio = page.getByRole('region', { name: 'Threshold studio' });
    await studio.getByRole('slider', { name: 'Image threshold' }).waitFor();
    // evaluation left its F1-optimal threshold as version 1
    await page.getByRole('region', { name: 'Threshold versions' }).getByText('v1').waitFor();

    await studio.getByRole('button', { name: 'Zero escapes' }).click();
    await expect.poll(() => page.locator('[data-kpi="escapes"] .n').textContent()).toBe('0');
    const before = await page.getByTestId('threshold-value').textContent();
    const handle = studio.getByRole('slider', { name: 'Image threshold' });
    const box = (await handle.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 4);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 60, box.y + 4, { steps: 6 });
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('threshold-value').textContent()).not.toBe(before);
    await studio.getByRole('button', { name: 'Zero escapes' }).click();
    await studio.getByRole('button', { name: 'Add review band' }).click();
    await studio.getByRole('slider', { name: 'Review band end' }).waitFor();
    await page.locator('textarea[name="threshold-note"]').fill('zero escapes on the labelled test images, review band around it');
    await page.getByRole('button', { name: 'Save threshold v2' }).click();
    await page.getByRole('region', { name: 'Threshold versions' }).getByText('zero escapes on the labelled').waitFor();
    await shot('07-thresholds');
  });

  it('inspects the test split, reviews results with the keyboard and opens an overlay', async () => {
    await nav('Inspect & review');
    await page.getByRole('button', { name: 'Inspect the test split' }).click();
    const run = page.getByRole('region', { name: 'Run an inspection' });
    await run.locator('.badge.succeeded').waitFor({ timeout: 240_000 });
    await run.getByText('7 inspected').waitFor();
    const rows = page.locator('tr[data-result-id]');
    await expect.poll(() => rows.count()).toBe(7);
    expect(await page.locator('tr[data-result-id] .badge.unjudged').count()).toBe(0);
    // the saved threshold outlines defects: failing images have a measured defect area
    const failed = page.locator('tr[data-result-id]', { has: page.locator('.badge.fail') });
    expect(await failed.count()).toBeGreaterThan(0);
    expect(Number((await failed.first().locator('td.num').last().textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);

    await rows.first().click();
    const overlay = page.getByTestId('result-overlay');
    await overlay.waitFor();
    await expect.poll(() => overlay.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    await page.keyboard.press('j');
    await expect.poll(() => rows.nth(1).getAttribute('class')).toContain('selected');
    await overlay.waitFor();
    await shot('08-inspect');

    await page.getByRole('group', { name: 'Verdict filter' }).getByRole('button', { name: 'Fail' }).click();
    await expect.poll(async () => (await page.locator('tr[data-result-id] .badge.fail').count()) === (await rows.count())).toBe(true);
  }, 300_000);

  it('creates HTML and CSV reports and downloads one', async () => {
    await nav('Reports');
    await page.locator('input[name="report-title"]').fill('Line 3 validation');
    await page.getByRole('button', { name: 'Create report' }).click();
    const list = page.getByRole('region', { name: 'Reports' });
    await list.getByRole('cell', { name: 'Line 3 validation' }).waitFor();
    await page.getByRole('button', { name: 'CSV per image' }).click();
    await page.getByRole('button', { name: 'Create report' }).click();
    await expect.poll(() => list.locator('tr[data-report-id]').count()).toBe(2);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      list.locator('tr[data-report-id]', { hasText: 'Line 3 validation' }).getByRole('button', { name: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Line_3_validation.html');
    await shot('09-reports');
  });

  it('lists the finished jobs in the jobs panel and logged no page errors', async () => {
    const jobs = page.getByRole('complementary', { name: 'Jobs' });
    await expect.poll(() => jobs.locator('.badge.succeeded').count()).toBeGreaterThanOrEqual(4);
    expect(problems).toEqual([]);
  });
});
