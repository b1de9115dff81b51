/**
 * End to end through the real UI: the built renderer in Debian's Chromium (playwright-core), the
 * browser-mode server and a real Station on a temp project, with real metal-plate images. One
 * engineer's day: create a project and a product, import an MVTec-layout folder, label, paint a
 * mask, train PatchCore, evaluate, set a threshold, inspect, review a result at full size (4x zoom, pixel
 * readout, outlines), create reports.
 *
 * Screenshots of every screen land in $ARGUS_UI_SHOTS (default /tmp/argus-ui), at 1920 x 1080 from the
 * review on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnomalyMap } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { resizeMap } from '../../src-main/vision/interpolate.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { ensureRendererBuilt, RENDERER, REPO, SHOTS, openWatchedPage } from '../fixtures/browser.ts';

const argus = (...args: string[]) => execFileSync(process.execPath, [join(REPO, 'bin/argus.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

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
  /** The review viewer has loaded this result (image, map and outlines). */
  const reviewing = (resultId: string | null) => page.locator(`[data-testid="review-stage"][data-result-id="${resultId}"]`).waitFor();

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureRendererBuilt();
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems));
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
    // the rows in view of the grid's own scroll area, of all 17
    await expect.poll(() => page.getByRole('region', { name: 'Images' }).locator('.range').textContent()).toMatch(/^1–1[0-7] of 17$/);
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
    // new models choose their input from the product's images unless told, and say what and why
    await expect.poll(async () => (await page.getByTestId('input-choice').textContent()) ?? '').toMatch(/^Input: images nearly square .*stretched to 256x256/);
    await page.locator('select[name="resize"]').selectOption('stretch');
    await page.locator('select[name="size"]').selectOption('224');
    await page.locator('input[name="coresetRatio"]').fill('0.02');
    // normalising per position holds 8 of at least 16 normal images out; this product has 10: refused at once, saying so
    await page.locator('input[name="positionNorm"]').check();
    await page.getByTestId('position-norm-about').waitFor();
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByText(/per-position normalisation needs at least 16 normal training images; product \d+ has 10/).waitFor();
    await page.locator('input[name="positionNorm"]').uncheck();
    // an image score at a second scale goes with tiles, and a 128 px side cannot hold this canvas's 256 px tile: refused at once, saying so
    await page.locator('select[name="resize"]').selectOption('tile');
    await page.locator('input[name="scoreSide"]').fill('128');
    await page.getByTestId('score-side-about').waitFor();
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByText(/scoreSide 128 px must hold one 256 px tile/).waitFor();
    await page.locator('select[name="resize"]').selectOption('stretch');
    expect(await page.locator('input[name="scoreSide"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Start training' }).click();
    const progress = page.getByRole('region', { name: 'Training progress' });
    await progress.locator('.badge.running, .badge.succeeded').first().waitFor();
    // one overall percentage, then the stage's own count, the stage named once ('features: 3 / 10')
    await expect.poll(async () => (await progress.locator('.badge.running').count()) === 0 || (await progress.getByTestId('job-progress-detail').count()) > 0, { timeout: 120_000 }).toBe(true);
    for (const detail of await progress.getByTestId('job-progress-detail').allTextContents()) expect(detail).toMatch(/^(features|coreset): \d+ \/ \d+$/);
    await shot('05-training');
    await page.locator('tr[data-model-version="1"]').waitFor({ timeout: 240_000 });
    expect(await progress.locator('.badge').textContent()).toBe('succeeded');
    // PatchCore has no loss: no chart; not yet evaluated, though training recorded its score scales
    expect(await progress.getByRole('img', { name: 'Training loss' }).count()).toBe(0);
    expect(await page.locator('tr[data-model-version="1"]').getByRole('button', { name: 'Evaluate', exact: true }).count()).toBe(1);
  }, 300_000);

  it('charts a training loss as soon as progress events carry one', async () => {
    // SimpleNet's progress events carry its loss; sent here through the station for the job shown
    const progress = page.getByRole('region', { name: 'Training progress' });
    const jobId = Number((await progress.locator('article').getAttribute('aria-label'))!.match(/job (\d+)/)![1]);
    for (const [i, loss] of [0.9, 0.6, 0.45, 0.41].entries()) {
      station.emit({ type: 'progress', jobId, progress: { fraction: 0.1 + i * 0.2, step: 'train', message: `train: ${i + 1} / 4`, etaSeconds: 4 - i, loss } });
    }
    await progress.getByRole('img', { name: 'Training loss' }).waitFor();
    await progress.getByText('latest 0.4100').waitFor();
    // events trailing the job's end are not live progress: the card keeps the job's own last message
    await progress.getByText(/^(features|coreset): \d+ \/ \d+$/).waitFor();
    await shot('05b-training-loss');
  });

  it('evaluates the model and shows its metrics', async () => {
    const row = page.locator('tr[data-model-version="1"]');
    await row.getByRole('button', { name: 'Evaluate', exact: true }).click();
    await row.getByRole('button', { name: 'Re-evaluate', exact: true }).waitFor({ timeout: 240_000 });
    const auroc = row.locator('td.num').first();
    // the value with its 95 % bootstrap interval below it
    const ci = (await auroc.locator('.ci').textContent())!;
    const [low, high] = ci.split('–').map(Number);
    const value = Number((await auroc.textContent())!.replace(ci, ''));
    expect(value).toBeGreaterThan(50);
    expect(low).toBeLessThanOrEqual(value);
    expect(high).toBeGreaterThanOrEqual(value);
    // every setting of the version, its backbone hash and its training-data manifest
    await page.getByText('Settings of v1', { exact: true }).click();
    const settings = page.getByRole('table', { name: 'Settings of v1' });
    for (const key of ['backbone sha256', 'coresetRatio', 'height', 'fitMemoryRows', 'training data manifest sha256']) await settings.getByRole('rowheader', { name: key, exact: true }).waitFor();
    expect(await settings.getByRole('row', { name: /^coresetRatio/ }).locator('td').textContent()).toBe('0.02');
    await shot('06-models');
  }, 300_000);

  it('sets a threshold on the histogram and saves it as a new version', async () => {
    await nav('Thresholds');
    const studio = page.getByRole('region', { name: 'Threshold studio' });
    await studio.getByRole('slider', { name: 'Image threshold' }).waitFor();
    // evaluation left its F1-optimal threshold as version 1, outlining defects at the pixel F1-optimal threshold
    const versions = page.getByRole('region', { name: 'Threshold versions' });
    await versions.getByText('v1').waitFor();
    const pixel = page.getByRole('group', { name: 'Pixel threshold' });
    const suggested = pixel.getByRole('radio', { name: /^Suggested/ });
    expect(await suggested.isChecked()).toBe(true);
    await pixel.getByText(/best pixel F1 on the ground-truth masks/).waitFor();
    const suggestedValue = (await suggested.locator('xpath=..').locator('strong').textContent())!;
    expect(await versions.locator('tbody tr').first().locator('td').nth(2).textContent()).toBe(suggestedValue);
    expect(await page.getByTestId('pixel-summary').textContent()).toMatch(new RegExp(`Pixel threshold\\s+${suggestedValue.replace('.', '\\.')}\\s+\\(suggested\\)`));
    // no pixel threshold: said to draw no outlines; custom starts from the version's value
    await pixel.getByRole('radio', { name: 'None' }).check();
    await pixel.getByText('inspections draw no outlines').waitFor();
    await studio.getByText('no pixel threshold: no outlines').waitFor();
    await pixel.getByRole('radio', { name: 'Custom' }).check();
    expect(Number(await pixel.getByRole('spinbutton', { name: 'Custom pixel threshold' }).inputValue()).toPrecision(4)).toBe(suggestedValue);
    await suggested.check();

    // the histogram's y-axis counts images per bin, from 0 to the fullest bin (the ticks uPlot draws on its canvas)
    const counts = (await studio.getByRole('group', { name: 'Score histogram with threshold' }).getAttribute('data-count-ticks'))!.split(',');
    expect(counts[0]).toBe('0');
    expect(Number(counts.at(-1))).toBeGreaterThanOrEqual(1);
    await studio.getByRole('button', { name: 'No defect may pass' }).click();
    await expect.poll(() => page.locator('[data-kpi="escapes"] .n').textContent()).toBe('0');
    await studio.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('07a-threshold-studio');
    const gallery = page.getByRole('region', { name: 'Mistakes at this threshold' });
    await gallery.getByTestId('escapes').getByText('None at this threshold.').waitFor();
    // the gallery shows the false rejects the counts report, as thumbnails
    const falseRejects = Number(await page.locator('[data-kpi="false-rejects"] .n').textContent());
    expect(Number(await gallery.getByTestId('false-rejects').locator('.count').textContent())).toBe(falseRejects);
    expect(await gallery.getByTestId('false-rejects').locator('figure').count()).toBe(Math.min(falseRejects, 8));
    const before = await page.getByTestId('threshold-value').textContent();
    // dragging moves the handle over the chart: the chart's canvas is neither rebuilt nor replaced
    const canvas = studio.getByRole('group', { name: 'Score histogram with threshold' }).locator('canvas');
    await canvas.evaluate((el) => el.setAttribute('data-before-drag', ''));
    const handle = studio.getByRole('slider', { name: 'Image threshold' });
    const box = (await handle.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 4);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 60, box.y + 4, { steps: 6 });
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('threshold-value').textContent()).not.toBe(before);
    expect(await canvas.getAttribute('data-before-drag')).toBe('');
    await studio.getByRole('button', { name: 'No defect may pass' }).click();
    await studio.getByRole('button', { name: 'Add review band' }).click();
    await studio.getByRole('slider', { name: 'Review band end' }).waitFor();
    await page.locator('textarea[name="threshold-note"]').fill('zero escapes on the labelled test images, review band around it');
    await page.getByRole('button', { name: 'Save threshold v2' }).click();
    await versions.getByText('zero escapes on the labelled').waitFor();
    // v2 keeps the suggested pixel threshold
    expect(await versions.locator('tbody tr').first().locator('td').nth(2).textContent()).toBe(suggestedValue);
    await shot('07-thresholds');
  });

  it('inspects the test split as a named lot, reviews results with the keyboard and opens an overlay', async () => {
    await nav('Inspect & review');
    await page.getByRole('textbox', { name: 'Lot or run name' }).fill('Lot 42');
    await page.getByRole('button', { name: 'Inspect the test split' }).click();
    const run = page.getByRole('region', { name: 'Run an inspection' });
    await run.locator('.badge.succeeded').waitFor({ timeout: 240_000 });
    await run.getByText('7 inspected').waitFor();
    // the inspection is a run: listed with its model and threshold versions and counts, and shown
    const lot = page.getByRole('table', { name: 'Inspection runs' }).locator('tr[data-run-id]', { hasText: 'Lot 42' });
    await expect.poll(async () => (await lot.locator('td.num').nth(1).textContent())?.trim()).toBe('7');
    expect(await lot.textContent()).toMatch(/v1 · t\d/);
    await heading('Results of Lot 42 · v1').waitFor();
    const rows = page.locator('tr[data-result-id]');
    await expect.poll(() => rows.count()).toBe(7);
    expect(await page.locator('tr[data-result-id] .badge.unjudged').count()).toBe(0);
    // the saved threshold outlines defects: failing images have a measured defect area
    const failed = page.locator('tr[data-result-id]', { has: page.locator('.badge.fail') });
    expect(await failed.count()).toBeGreaterThan(0);
    expect(Number((await failed.first().locator('td.num').last().textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);

    // review at full size, 1920 x 1080 from here on
    await page.setViewportSize({ width: 1920, height: 1080 });
    await rows.first().click();
    await reviewing(await rows.first().getAttribute('data-result-id'));
    await page.getByTestId('heatmap').waitFor();
    await page.keyboard.press('j');
    await expect.poll(() => rows.nth(1).getAttribute('class')).toContain('selected');
    await reviewing(await rows.nth(1).getAttribute('data-result-id'));
    await shot('08-inspect');

    await page.getByRole('group', { name: 'Verdict filter' }).getByRole('button', { name: 'Fail' }).click();
    await expect.poll(async () => (await page.locator('tr[data-result-id] .badge.fail').count()) === (await rows.count())).toBe(true);

    // a decision with one key: the reviewer passes the worst failing part; the model's verdict stays
    const worst = await rows.first().getAttribute('data-result-id');
    await rows.first().click();
    const viewer = page.getByRole('region', { name: 'Result' });
    await viewer.locator('input[name="reviewer"]').fill('QE Weber');
    await rows.first().click();
    await page.keyboard.press('p');
    const decided = page.locator(`tr[data-result-id="${worst}"]`);
    await decided.locator('.override').waitFor();
    expect(await decided.locator('.badge.fail').count()).toBe(1);
    expect(await decided.locator('.badge.pass').count()).toBe(1);
    const queues = page.getByRole('group', { name: 'Review queue' });
    await queues.getByRole('button', { name: 'Disagreements' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().click();
    expect(await viewer.getByTestId('decision').textContent()).toMatch(/pass.*by QE Weber.*overrides the model's fail/s);
    expect(await viewer.getByTestId('good-percentile').textContent()).toMatch(/^above \d+\.\d % of good parts$/);
    await shot('08a-decision');
    await queues.getByRole('button', { name: 'Awaiting decision' }).click();
    await expect.poll(() => page.locator(`tr[data-result-id="${worst}"]`).count()).toBe(0);
    await queues.getByRole('button', { name: 'All' }).click();
  }, 300_000);

  it('reviews a failing result at full size: 4x zoom by keys, the pixel readout, outlines and heatmap opacity', async () => {
    // a failing part labelled defective: it has a ground-truth mask
    const rows = page.locator('tr[data-result-id]', { has: page.locator('.badge.fail') }).filter({ has: page.locator('.badge.defective') });
    await rows.first().click();
    const id = await rows.first().getAttribute('data-result-id');
    await reviewing(id);
    const stage = page.getByTestId('review-stage');
    const viewer = page.getByRole('region', { name: 'Result' });
    // the image fills the space the window leaves: more than half the window's height
    const box = (await stage.boundingBox())!;
    expect(box.height).toBeGreaterThan(540);
    expect(box.y + box.height).toBeLessThanOrEqual(1080);
    // the failing part's predicted outline, as a vector path
    const detector = stage.locator('[data-outline="detector"]');
    expect(await detector.count()).toBe(1);
    expect(await detector.getAttribute('d')).toMatch(/^M\d+ \d+[hv]/);

    // fit, 1:1, then + twice: 4 screen pixels per image pixel; outlines stay 2 screen pixels wide
    await page.keyboard.press('0');
    await page.keyboard.press('1');
    await expect.poll(() => stage.getAttribute('data-scale')).toBe('1');
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await expect.poll(() => stage.getAttribute('data-scale')).toBe('4');
    expect(await page.getByTestId('zoom-level').textContent()).toBe('4×');
    expect(await stage.locator('.world').getAttribute('style')).toContain('scale(4)');
    expect(Number(await detector.getAttribute('stroke-width')) * 4).toBeCloseTo(2, 6);

    // the readout under the cursor is the stored map's value at that image pixel, as the station reads it
    const view = async () => ({ x: Number(await stage.getAttribute('data-x')), y: Number(await stage.getAttribute('data-y')) });
    const { x: vx, y: vy } = await view();
    const stageBox = (await stage.boundingBox())!;
    const px = Math.floor((stageBox.width / 2 - vx) / 4) + 3;
    const py = Math.floor((stageBox.height / 2 - vy) / 4) - 2;
    await page.mouse.move(stageBox.x + vx + (px + 0.5) * 4, stageBox.y + vy + (py + 0.5) * 4);
    const readout = page.getByTestId('pixel-readout');
    await expect.poll(() => readout.getAttribute('data-x')).toBe(String(px));
    expect(await readout.getAttribute('data-y')).toBe(String(py));
    const map = (await station.handle('results.map', { id: Number(id) })) as { ok: true; value: AnomalyMap };
    expect(map.ok).toBe(true);
    const m = map.value;
    const values = new Float32Array(Uint8Array.from(Buffer.from(m.base64, 'base64')).buffer);
    const expected = resizeMap(values, m.width, m.height, m.imageWidth, m.imageHeight)[py * m.imageWidth + px]!;
    expect(Number(await readout.getAttribute('data-value'))).toBe(expected);
    expect(await readout.textContent()).toContain(`score ${expected.toPrecision(4)}`);
    expect(await readout.textContent()).toMatch(/the pixel threshold \((at or above|below)\)/);
    // the predicted mask is the failing part's; a passing part has none (never outlined)
    const predicted = (await station.handle('results.mask', { id: Number(id), kind: 'predicted' })) as { ok: true; value: { png: string } | null };
    expect(predicted.value?.png).toMatch(/^iVBOR/);
    const passing = (await station.handle('results.list', { modelId: 1, verdict: 'pass', limit: 1 })) as { ok: true; value: { items: Array<{ id: number }> } };
    expect(await station.handle('results.mask', { id: passing.value.items[0]!.id, kind: 'predicted' })).toEqual({ ok: true, value: null });
    // the colour bar marks the pixel threshold
    await viewer.getByTestId('pixel-threshold-mark').waitFor();

    // the wheel zooms around the cursor: the pixel under it stays; dragging pans by screen pixels
    await page.mouse.wheel(0, -300);
    await expect.poll(async () => Number(await stage.getAttribute('data-scale'))).toBeGreaterThan(4);
    await page.mouse.move(stageBox.x + vx + (px + 0.5) * 4 + 1, stageBox.y + vy + (py + 0.5) * 4);
    await expect.poll(() => readout.getAttribute('data-x')).toBe(String(px));
    expect(await readout.getAttribute('data-y')).toBe(String(py));
    const before = await view();
    await page.mouse.down();
    await page.mouse.move(stageBox.x + stageBox.width / 2 + 80, stageBox.y + stageBox.height / 2 + 30, { steps: 4 });
    await page.mouse.up();
    await expect.poll(async () => (await view()).x).not.toBe(before.x);
    await page.keyboard.press('1');
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await expect.poll(() => stage.getAttribute('data-scale')).toBe('4');

    // ground truth outline with G, heatmap opacity with ] and the slider
    const truth = viewer.getByRole('checkbox', { name: /^Ground truth/ });
    const wasOn = await truth.isChecked();
    await page.keyboard.press('g');
    await expect.poll(() => truth.isChecked()).toBe(!wasOn);
    if (wasOn) await page.keyboard.press('g');
    await stage.locator('[data-outline="truth"]').waitFor();
    const heatmap = stage.getByTestId('heatmap');
    expect(await heatmap.evaluate((c) => (c as unknown as { style: { opacity: string } }).style.opacity)).toBe('0.45');
    await page.keyboard.press(']');
    await expect.poll(() => heatmap.evaluate((c) => (c as unknown as { style: { opacity: string } }).style.opacity)).toBe('0.55');
    expect(await viewer.getByRole('slider', { name: 'Heatmap opacity' }).inputValue()).toBe('0.55');
    // dragged to the predicted defect at 4x (its outline's top-left corner in the middle), the cursor on it
    const [mx, my] = (await detector.getAttribute('d'))!.match(/^M(\d+) (\d+)/)!.slice(1).map(Number) as [number, number];
    const limit = (d: number) => Math.max(-300, Math.min(300, d));
    for (let i = 0; i < 10; i++) {
      const v = await view();
      const dx = stageBox.width / 2 - (v.x + (mx + 0.5) * 4);
      const dy = stageBox.height / 2 - (v.y + (my + 0.5) * 4);
      if (Math.abs(dx) < 2 && Math.abs(dy) < 2) break;
      await page.mouse.move(stageBox.x + stageBox.width / 2, stageBox.y + stageBox.height / 2);
      await page.mouse.down();
      await page.mouse.move(stageBox.x + stageBox.width / 2 + limit(dx), stageBox.y + stageBox.height / 2 + limit(dy), { steps: 3 });
      await page.mouse.up();
    }
    await page.mouse.move(stageBox.x + stageBox.width / 2 + 1, stageBox.y + stageBox.height / 2 + 1);
    await expect.poll(async () => Math.abs(Number(await readout.getAttribute('data-x')) - mx)).toBeLessThanOrEqual(1);
    expect(await stage.getAttribute('data-scale')).toBe('4');
    await shot('08c-review-4x');

    // side by side: original, overlay and mask on one shared view
    await page.keyboard.press('0');
    await page.keyboard.press('s');
    await expect.poll(() => stage.locator('[data-pane]').count()).toBe(3);
    await shot('08d-review-side-by-side');
    await page.keyboard.press('s');
    await expect.poll(() => stage.locator('[data-pane]').count()).toBe(1);

    // the key sheet lists exactly the keys registered on this screen
    await page.keyboard.press('Shift+?');
    const sheet = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await sheet.getByText('ground-truth outline on / off').waitFor();
    expect(await sheet.getByRole('heading', { name: 'Review: image' }).count()).toBe(1);
    expect(await sheet.getByRole('heading', { name: 'Masks & labels' }).count()).toBe(0);
    await shot('08e-keys');
    await page.keyboard.press('Escape');
    await expect.poll(() => sheet.count()).toBe(0);

    // Z: the results list steps aside and the image takes the whole screen; Z again brings it back
    await page.keyboard.press('z');
    await expect.poll(() => page.getByRole('region', { name: 'Results' }).count()).toBe(0);
    await expect.poll(async () => (await stage.boundingBox())!.width).toBeGreaterThan(stageBox.width + 300);
    await page.keyboard.press('1');
    await page.mouse.move(stageBox.x + 200, stageBox.y + 200);
    await shot('08f-review-full-screen');
    await page.keyboard.press('z');
    await page.getByRole('region', { name: 'Results' }).waitFor();
  });

  it('refines a failing result from the viewer: refined outline, repaired image and the refined defect area', async () => {
    const rows = page.locator('tr[data-result-id]');
    await rows.first().click();
    await reviewing(await rows.first().getAttribute('data-result-id'));
    const viewer = page.getByRole('region', { name: 'Result' });
    const refined = viewer.getByRole('checkbox', { name: /^Refined/ });
    expect(await refined.isDisabled()).toBe(true);
    await viewer.getByRole('button', { name: 'Refine outline' }).click();
    const pictures = viewer.getByRole('group', { name: 'Picture' });
    await pictures.getByRole('button', { name: 'Repaired' }).waitFor({ timeout: 240_000 });
    await pictures.getByRole('button', { name: 'Repaired' }).click();
    const repaired = viewer.locator('[data-pane="repaired"] img');
    await repaired.waitFor();
    await expect.poll(() => repaired.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    expect(await viewer.getByTestId('defect-area').textContent()).toMatch(/defect area [\d,]+ px \(refined/);
    expect(await refined.isDisabled()).toBe(false);
    // all four pictures side by side, the refined outline beside the detector's (none over the repaired image)
    await page.keyboard.press('0');
    await page.keyboard.press('s');
    await expect.poll(() => viewer.locator('[data-pane]').count()).toBe(4);
    await viewer.locator('[data-pane="overlay"] [data-outline="refined"]').waitFor();
    expect(await viewer.locator('[data-pane="repaired"] [data-outline]').count()).toBe(0);
    await shot('08b-refined');
    await page.keyboard.press('s');
    await pictures.getByRole('button', { name: 'Overlay' }).click();
    // the inspection offers to refine all its failing and review parts
    await page.getByRole('region', { name: 'Run an inspection' }).getByRole('button', { name: /^Refine outlines of the \d+ failing and review part/ }).waitFor();
  }, 300_000);

  it('exports the model from the Inspect screen into a typed folder and shows the parity self-test', async () => {
    const card = page.getByRole('region', { name: 'Export the model' });
    const out = join(work, 'export');
    await card.locator('input[name="export-folder"]').fill(out);
    await card.getByRole('button', { name: 'Export' }).click();
    const parity = card.getByRole('status', { name: 'Parity self-test' });
    await parity.waitFor({ timeout: 240_000 });
    expect(await parity.getByRole('row', { name: /Node \(run\.mjs\)/ }).textContent()).toMatch(/passed/);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    await shot('08c-export');
  }, 300_000);

  it('creates inspection and validation reports from Inspect, Evaluate and Reports with sign-off names, lists their sha256 and downloads one', async () => {
    // the Inspect screen offers the report of its latest batch
    await nav('Inspect');
    const [fromInspect] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('group', { name: 'Inspection report' }).getByRole('button', { name: 'Inspection report (PDF)' }).click(),
    ]);
    expect(fromInspect.suggestedFilename()).toMatch(/^Inspection_report_.*\.pdf$/);
    // the Evaluate screen offers the validation report of its evaluation
    await nav('Evaluate');
    const [fromEvaluate] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('group', { name: 'Validation report' }).getByRole('button', { name: 'Validation report (PDF)' }).click(),
    ]);
    expect(fromEvaluate.suggestedFilename()).toMatch(/^Validation_report_.*\.pdf$/);
    await nav('Reports');
    const list = page.getByRole('region', { name: 'Reports' });
    await expect.poll(() => list.locator('tr[data-report-id]').count()).toBe(2);
    await page.locator('input[name="report-title"]').fill('Line 3 validation');
    await page.getByRole('group', { name: 'Format' }).getByRole('button', { name: 'HTML' }).click();
    await page.getByRole('button', { name: 'Create report' }).click();
    await list.getByRole('cell', { name: 'Line 3 validation' }).waitFor();
    await page.getByRole('button', { name: 'CSV per image' }).click();
    await page.getByRole('button', { name: 'Create report' }).click();
    await expect.poll(() => list.locator('tr[data-report-id]').count()).toBe(4);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      list.locator('tr[data-report-id]', { hasText: 'Line 3 validation' }).getByRole('button', { name: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Line_3_validation.html');
    // a validation PDF with the sign-off names; its sha256 is listed and is the stored report's
    await page.getByRole('group', { name: 'Kind' }).getByRole('button', { name: 'Validation' }).click();
    await page.getByRole('group', { name: 'Format' }).getByRole('button', { name: 'PDF' }).click();
    await page.getByLabel('Prepared by').fill('Anna Weber');
    await page.getByLabel('Reviewed by').fill('Bo Kim');
    await page.getByLabel('Role').fill('Quality engineer');
    await page.getByRole('button', { name: 'Create report' }).click();
    await expect.poll(() => list.locator('tr[data-report-id]').count()).toBe(5);
    const row = list.locator('tr[data-report-id]').first();
    await expect.poll(() => row.textContent()).toContain('validation');
    const id = Number(await row.getAttribute('data-report-id'));
    const stored = (await station.handle('reports.list', { productId: 1 })) as { ok: true; value: Array<{ id: number; sha256: string; format: string }> };
    const report = stored.value.find((r) => r.id === id)!;
    expect(report.format).toBe('pdf');
    expect(await row.getByTestId('report-sha256').textContent()).toBe(report.sha256);
    await shot('09-reports');
  });

  it('offers every method with a line on what it suits and costs, and its own settings', async () => {
    await nav('Train');
    const form = page.getByRole('form', { name: 'Train a model' });
    const about = form.getByTestId('method-about');
    const seen = new Set<string>();
    const expected: Record<string, string[]> = {
      patchcore: ['coresetRatio', 'numNeighbours', 'search'], padim: ['channels'], simplenet: ['epochs'],
      pfm: ['epochs', 'levels', 'direction'], pefm: ['epochs', 'fusion', 'positionEncoding'], cflow: ['epochs'],
    };
    for (const [method, fields] of Object.entries(expected)) {
      await form.locator('select[name="method"]').selectOption(method);
      const text = (await about.textContent()) ?? '';
      expect(text.length).toBeGreaterThan(40);
      seen.add(text);
      for (const f of fields) expect(await form.locator(`[name="${f}"]`).count(), `${method}: ${f}`).toBe(1);
    }
    expect(seen.size).toBe(Object.keys(expected).length);
    // PEFM's position encoding is built for the feature grids of its own input sizes
    await form.locator('select[name="method"]').selectOption('pefm');
    await form.locator('select[name="resize"]').selectOption('stretch');
    expect(await form.locator('select[name="size"] option').allTextContents()).toEqual(['128', '256', '512']);
    // the backbone picker: the backbones in models/, the method's default chosen, those without outputs at its strides disabled
    await form.locator('select[name="method"]').selectOption('patchcore');
    const backbone = form.locator('select[name="backbone"]');
    await expect.poll(() => backbone.inputValue()).toBe('mobilenet_v2_features');
    // the method's backbone list arrives after its default is chosen: wait for it, as for the value
    await expect.poll(() => backbone.locator('option:not([disabled])').count()).toBeGreaterThan(1);
    await expect.poll(() => backbone.locator('option[value="mobilenet_v1_features"]').getAttribute('disabled')).toBeNull();
    await form.locator('select[name="method"]').selectOption('cflow');
    await expect.poll(() => backbone.inputValue()).toBe('mobilenet_v2_full');
    const noStride32 = backbone.locator('option[value="mobilenet_v2_features"]');
    expect(await noStride32.getAttribute('disabled')).not.toBeNull();
    expect(await noStride32.textContent()).toMatch(/no feature output of stride 32/);
    await form.locator('select[name="method"]').selectOption('pfm');
    await shot('11-train-methods');
  });

  it('trains PFM on its deepest level from the screen, with a live loss, as model version 2', async () => {
    const form = page.getByRole('form', { name: 'Train a model' });
    await form.locator('select[name="method"]').selectOption('pfm');
    await form.locator('select[name="resize"]').selectOption('stretch');
    await form.locator('select[name="size"]').selectOption('128');
    await form.locator('input[name="epochs"]').fill('2');
    await form.locator('select[name="levels"]').selectOption({ label: 'deepest only' });
    await form.getByRole('button', { name: 'Start training' }).click();
    const progress = page.getByRole('region', { name: 'Training progress' });
    const row = page.locator('tr[data-model-version="2"]');
    await row.waitFor({ timeout: 240_000 });
    expect(await row.textContent()).toContain('PFM');
    await progress.getByRole('img', { name: 'Training loss' }).waitFor();
    const model = (await station.handle('models.list', { productId: 1 })) as { ok: true; value: Array<{ version: number; method: string; config: Record<string, unknown> }> };
    const v2 = model.value.find((m) => m.version === 2)!;
    expect(v2).toMatchObject({ method: 'pfm', config: { levels: [3], epochs: 2, height: 128 } });
    await shot('12-train-pfm');

    // the model screens follow the newest version, unless the user picks another
    await nav('Inspect & review');
    const picker = page.getByRole('combobox', { name: 'Model version' });
    await page.getByRole('heading', { name: 'All results · v2' }).waitFor();
    expect(await page.getByTestId('model-follow').textContent()).toBe('newest');
    await picker.selectOption({ label: (await picker.locator('option', { hasText: 'v1 ·' }).textContent())! });
    await page.getByRole('heading', { name: 'Results of Lot 42 · v1' }).waitFor();
    await page.getByRole('button', { name: 'Use newest (v2)' }).click();
    await page.getByRole('heading', { name: 'All results · v2' }).waitFor();
  }, 300_000);

  it('lists the finished jobs in the jobs panel and logged no page errors', async () => {
    const jobs = page.getByRole('complementary', { name: 'Jobs' });
    await expect.poll(() => jobs.locator('.badge.succeeded').count()).toBeGreaterThanOrEqual(4);
    expect(problems).toEqual([]);
  });

  it('the project made in the UI is read by the CLI, and a project made with the CLI opens in the UI', async () => {
    // the station lets go of its project (its writer lock) when the page opens another one; first close it
    expect(await station.handle('project.close', {})).toMatchObject({ ok: true });
    const results = argus('results', '--project', projectDir, '--product', 'PN-7 bracket');
    expect(results).toContain('result(s) of model');
    // the decision made in the screen, and decisions and add-to-normal from the CLI
    const v1 = argus('results', '--project', projectDir, '--model', '1', '--queue', 'disagree', '--json');
    const overridden = (JSON.parse(v1) as { items: Array<{ id: number; decision: { decidedBy: string } }> }).items;
    expect(overridden.map((r) => r.decision.decidedBy)).toEqual(['QE Weber']);
    const awaiting = (JSON.parse(argus('results', '--project', projectDir, '--model', '1', '--queue', 'awaiting', '--order', 'uncertainty', '--json')) as { items: Array<{ id: number; verdict: string }> }).items;
    expect(argus('decide', '--project', projectDir, '--result', String(awaiting[0]!.id), '--verdict', 'fail', '--defect-type', 'dent', '--by', 'CLI reviewer'))
      .toMatch(new RegExp(`result ${awaiting[0]!.id}: fail \\(dent\\) by CLI reviewer at .*; the model said ${awaiting[0]!.verdict}`));
    const passing = (JSON.parse(argus('results', '--project', projectDir, '--model', '1', '--verdict', 'pass', '--json')) as { items: Array<{ id: number }> }).items;
    expect(argus('decide', '--project', projectDir, '--result', String(passing[0]!.id), '--label', 'normal', '--refit')).toMatch(/model v3: the memory bank of result \d+'s model with its image added/);

    const cliDir = join(work, 'made-on-the-cli');
    argus('project', 'create', cliDir, '--name', 'From the CLI');
    expect(argus('import', '--project', cliDir, '--product', 'PN-CLI', join(data, 'train', 'good'))).toContain('imported 10');
    await nav('Projects');
    await page.locator('input[name="open-dir"]').fill(cliDir);
    await page.getByRole('button', { name: 'Open project' }).click();
    await page.getByRole('region', { name: 'Open project' }).getByRole('heading', { name: 'From the CLI' }).waitFor();
    await expect.poll(() => page.locator('#side-product option:checked').textContent()).toBe('PN-CLI');
    await nav('Dataset');
    await expect.poll(() => page.getByText('10 images').first().isVisible()).toBe(true);
    await shot('10-cli-project');
    expect(problems).toEqual([]);
  }, 120_000);
});
