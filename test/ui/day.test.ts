/**
 * A quality engineer's whole day, through the real UI in Chromium (browser mode, a real Station on a
 * temp project, real MPDD metal-plate images), in order: create a project and a product; drop good
 * training images and test images onto the Dataset import card; outline a defect with the polygon tool
 * and give it a defect type by its number key; train PatchCore; tune the threshold with the false-accept
 * / false-reject gallery and save it; inspect a named lot; review a result at 4x zoom; record decisions
 * with P / F; add a good part to normal and refit (a new model version); restart the station on the same
 * project and open the lot's run again, its results and decisions still there.
 *
 * Screenshots of every screen, numbered in order, at 1920 x 1080, land in $ARGUS_UI_SHOTS/day
 * (default /tmp/argus-ui/day).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { decodeMask } from '../../src-main/vision/mask.ts';
import { score } from '../../src-renderer/src/lib/format.ts';
import { rasterisePolygon } from '../../src-renderer/src/lib/mask-shapes.ts';
import { ensureRendererBuilt, RENDERER, SHOTS as ALL_SHOTS, dropFiles, openWatchedPage, type SentFile } from '../fixtures/browser.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';
import { call } from '../fixtures/station.ts';

const SHOTS = join(ALL_SHOTS, 'day');
const TRAIN = 16;
const TEST_GOOD = 4;
const TEST_DEFECT = 5;
const LOT = 'Lot 2026-118';
const REVIEWER = 'QE Novak';

/** The middle of the largest loop's bounding box of an outline path (`M x y` then h / v runs, `Z`), in image pixels. */
function loopsCentre(d: string): { x: number; y: number } {
  let best = { area: -1, x: 0, y: 0 };
  for (const loop of d.split(/(?=M)/)) {
    const m = /^M(-?[\d.]+) (-?[\d.]+)/.exec(loop);
    if (!m) continue;
    let [x, y] = [Number(m[1]), Number(m[2])];
    let [x0, y0, x1, y1] = [x, y, x, y];
    for (const [, dir, n] of loop.slice(m[0].length).matchAll(/([hv])(-?[\d.]+)/g)) {
      if (dir === 'h') x += Number(n);
      else y += Number(n);
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
    const area = (x1 - x0) * (y1 - y0);
    if (area > best.area) best = { area, x: (x0 + x1) / 2, y: (y0 + y1) / 2 };
  }
  return { x: best.x, y: best.y };
}

/**
 * The corners a person would click around a mask's defect: its extreme pixels in 16 directions, pushed
 * out from its centre by `pad` image pixels, rounded, none closer than 8 px to the one before.
 */
function outlineAround(mask: { data: Uint8Array; width: number; height: number }, pad: number): Array<{ x: number; y: number }> {
  const on: Array<[number, number]> = [];
  for (let y = 0; y < mask.height; y++) for (let x = 0; x < mask.width; x++) if (mask.data[y * mask.width + x]) on.push([x + 0.5, y + 0.5]);
  const cx = on.reduce((a, p) => a + p[0], 0) / on.length;
  const cy = on.reduce((a, p) => a + p[1], 0) / on.length;
  const points: Array<{ x: number; y: number }> = [];
  const far = (a: { x: number; y: number }, b: { x: number; y: number }) => Math.hypot(a.x - b.x, a.y - b.y) >= 8;
  for (let k = 0; k < 16; k++) {
    const [dx, dy] = [Math.cos((k * Math.PI) / 8), Math.sin((k * Math.PI) / 8)];
    const [bx, by] = on.reduce((best, p) => (p[0] * dx + p[1] * dy > best[0] * dx + best[1] * dy ? p : best));
    const r = Math.hypot(bx - cx, by - cy) || 1;
    const point = {
      x: Math.round(Math.min(mask.width, Math.max(0, bx + ((bx - cx) / r) * pad))),
      y: Math.round(Math.min(mask.height, Math.max(0, by + ((by - cy) / r) * pad))),
    };
    if (points.length === 0 || far(points.at(-1)!, point)) points.push(point);
  }
  while (points.length > 3 && !far(points[0]!, points.at(-1)!)) points.pop();
  return points;
}

describe('a quality engineer\'s day in Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-ui-day-'));
  const projectDir = join(work, 'project');
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: TRAIN, testGood: TEST_GOOD, testDefect: TEST_DEFECT });
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;
  let shots = 0;

  /** The screen as the customer sees it, numbered in the order of the day. */
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${String(++shots).padStart(2, '0')}-${name}.png`), fullPage: false });
  const nav = (title: string | RegExp) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: title }).click();
  const heading = (text: string) => page.getByRole('heading', { name: text, exact: true });
  const filesOf = (rel: string): SentFile[] =>
    readdirSync(join(data, rel)).sort().map((name) => ({ name, base64: readFileSync(join(data, rel, name)).toString('base64') }));

  /** Drops the files onto the import card as the browser delivers a drop: a DataTransfer of File objects, no paths. */
  async function drop(split: 'train' | 'test', verdict: 'good' | 'defective', files: readonly SentFile[]): Promise<void> {
    const form = page.getByRole('form', { name: 'Import images' });
    await form.locator('select[name="import-split"]').selectOption(split);
    await form.locator('select[name="import-verdict"]').selectOption(verdict);
    await dropFiles(form, files);
    const summary = form.locator('[aria-label="Sent files"]');
    await expect.poll(() => summary.locator('.tile.ok .n').textContent(), { timeout: 60_000 }).toBe(String(files.length));
    expect(await summary.locator('.tile .n').allTextContents()).toEqual([String(files.length), '0', '0']);
  }


  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    for (const f of readdirSync(SHOTS)) if (f.endsWith('.png')) rmSync(join(SHOTS, f));
    await ensureRendererBuilt();
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems, { viewport: { width: 1920, height: 1080 }, acceptDialogs: true }));
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('walks a whole day: project, drop, polygon, train, threshold, lot, 4x review, decisions, add to normal, restart', async () => {
    const started = Date.now();

    // 1. a project and a product, through the UI
    await page.goto(server.url);
    await expect.poll(() => page.getByText('Live updates on').isVisible()).toBe(true);
    await heading('New project').waitFor();
    await page.locator('input[name="create-dir"]').fill(projectDir);
    await page.locator('input[name="create-name"]').fill('Metal plates line 2');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('region', { name: 'Open project' }).getByRole('heading', { name: 'Metal plates line 2' }).waitFor();
    await shot('projects');
    await nav('Dataset');
    await page.locator('input[name="product-name"]').fill('MP-12 cover plate');
    await page.getByRole('button', { name: 'Add product' }).click();
    await expect.poll(() => page.locator('#side-product option:checked').textContent()).toBe('MP-12 cover plate');
    const productId = Number(await page.locator('#side-product').inputValue());
    expect(productId).toBeGreaterThan(0);

    // 2. good training images, then test images, dropped onto the import card
    const images = page.getByRole('region', { name: 'Images' });
    const range = () => images.locator('.range').textContent();
    await drop('train', 'good', filesOf('train/good'));
    await expect.poll(range).toMatch(new RegExp(`of ${TRAIN}$`));
    await drop('test', 'good', filesOf('test/good'));
    const defects = filesOf('test/defect');
    await drop('test', 'defective', defects);
    const total = TRAIN + TEST_GOOD + TEST_DEFECT;
    await expect.poll(range).toMatch(new RegExp(`of ${total}$`));
    await expect.poll(() => images.getByRole('group', { name: 'Split filter' }).getByRole('button', { name: 'Test' }).textContent()).toContain(String(TEST_GOOD + TEST_DEFECT));
    await expect.poll(() => images.getByRole('group', { name: 'Label filter' }).getByRole('button', { name: 'Defective' }).textContent()).toContain(String(TEST_DEFECT));
    await shot('dataset-dropped');

    // 3. the defect of one defective image outlined with the polygon tool, around its ground truth
    const sizes = await Promise.all(defects.map(async (f) => {
      const truth = await decodeMask(await sharp(join(data, 'ground_truth/defect', f.name.replace(/\.png$/, '_mask.png'))).png().toBuffer(), f.name);
      let [x0, y0, x1, y1, n] = [truth.width, truth.height, -1, -1, 0];
      for (let y = 0; y < truth.height; y++) {
        for (let x = 0; x < truth.width; x++) {
          if (!truth.data[y * truth.width + x]) continue;
          n++;
          [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
        }
      }
      return { name: f.name, n, box: { x0, y0, x1, y1 }, truth };
    }));
    // the most compact defect of a fair size: an outline a person would draw
    const boxArea = (t: (typeof sizes)[number]) => (t.box.x1 - t.box.x0 + 1) * (t.box.y1 - t.box.y0 + 1);
    const target = [...sizes].filter((t) => t.n >= 150).sort((a, z) => boxArea(a) - boxArea(z))[0]!;
    expect(target).toBeDefined();
    await nav(/^Masks & labels/);
    await page.getByLabel('Show images labelled').selectOption('defective');
    const list = page.getByRole('list', { name: 'Images' });
    await expect.poll(() => list.getByRole('button').count()).toBe(TEST_DEFECT);
    await list.getByRole('button', { name: new RegExp(target.name.replace('.', '\\.')) }).click();
    const editor = page.getByRole('region', { name: 'Mask editor' });
    await editor.getByRole('heading', { name: target.name }).waitFor();
    await editor.getByText('No mask stored', { exact: true }).waitFor();
    const stage = page.getByTestId('mask-stage');
    await stage.locator('img').waitFor();
    const screenAt = async (x: number, y: number) => {
      const box = (await stage.boundingBox())!;
      const [s, vx, vy] = await Promise.all(['data-scale', 'data-x', 'data-y'].map(async (a) => Number(await stage.getAttribute(a))));
      return { x: box.x + vx! + x * s!, y: box.y + vy! + y * s! };
    };
    await page.keyboard.press('p');
    const corners = outlineAround(target.truth, 6);
    expect(corners.length).toBeGreaterThanOrEqual(6);
    for (const { x, y } of corners) {
      const p = await screenAt(x, y);
      await page.mouse.click(p.x, p.y);
    }
    expect(await stage.getAttribute('data-vertices')).toBe(String(corners.length));
    const first = await screenAt(corners[0]!.x + 0.5, corners[0]!.y + 0.5);
    await page.mouse.click(first.x, first.y);
    expect(await stage.getAttribute('data-vertices')).toBe('0');
    await editor.getByText('Unsaved changes', { exact: true }).waitFor();
    // the product's defect types, then the 2nd picked with its number key
    const types = page.getByRole('group', { name: 'Defect types' });
    await types.getByRole('button', { name: 'Edit list' }).click();
    const typeList = page.getByRole('region', { name: 'Edit the defect types' });
    for (const name of ['scratch', 'rust']) {
      await typeList.getByLabel('New defect type').fill(name);
      await typeList.getByRole('button', { name: 'Add' }).click();
      await typeList.locator(`tr[data-defect-type="${name}"]`).waitFor();
    }
    await types.getByRole('button', { name: 'Close the list' }).click();
    await stage.hover();
    await page.keyboard.press('2');
    await expect.poll(() => types.getByRole('button', { pressed: true }).textContent()).toContain('rust');
    await page.keyboard.press('Control+s');
    await editor.getByText('Mask saved', { exact: true }).waitFor();
    await list.getByRole('button', { name: new RegExp(target.name.replace('.', '\\.')) }).getByText('GT').waitFor();
    await shot('label-polygon');
    const labelled = (await call(station, 'images.list', { productId, verdict: 'defective' })).items.find((i) => i.originalPath === target.name)!;
    expect(labelled.defectType).toBe('rust');
    const saved = (await decodeMask(Buffer.from((await call(station, 'masks.get', { imageId: labelled.id, kind: 'ground_truth' }))!.png, 'base64'), 'saved')).data;
    // the pixels the clicked outline encloses (give or take a pixel on its slanted edges)
    const drawn = rasterisePolygon(corners, target.truth.width, target.truth.height);
    const area = drawn.reduce((a, v) => a + v, 0);
    let differ = 0;
    for (let i = 0; i < saved.length; i++) differ += saved[i]! ^ drawn[i]!;
    expect(differ).toBeLessThan(area * 0.01);
    // the outline covers the defect the data set marks
    let covered = 0;
    for (let i = 0; i < saved.length; i++) covered += saved[i]! & target.truth.data[i]!;
    expect(covered / target.n).toBeGreaterThan(0.9);

    // 4. PatchCore trained from the Train screen
    await nav('Train');
    await page.locator('select[name="resize"]').selectOption('stretch');
    await page.locator('select[name="size"]').selectOption('224');
    await page.locator('input[name="coresetRatio"]').fill('0.05');
    await page.getByRole('button', { name: 'Start training' }).click();
    const progress = page.getByRole('region', { name: 'Training progress' });
    const v1 = page.locator('tr[data-model-version="1"]');
    await v1.waitFor({ timeout: 240_000 });
    await expect.poll(() => progress.locator('.badge').textContent()).toBe('succeeded');
    expect(await v1.textContent()).toContain('PatchCore');
    await shot('train');

    // 5. the threshold, tuned with the gallery of what it gets wrong, saved
    await nav('Thresholds');
    await page.getByRole('button', { name: 'Evaluate v1' }).click();
    const studio = page.getByRole('region', { name: 'Threshold studio' });
    const handle = studio.getByRole('slider', { name: 'Image threshold' });
    await handle.waitFor({ timeout: 240_000 });
    await studio.getByText(`· ${TEST_GOOD + TEST_DEFECT} labelled images`).waitFor();
    const gallery = page.getByRole('region', { name: 'Mistakes at this threshold' });
    const kpi = async (name: string) => Number(await page.locator(`[data-kpi="${name}"] .n`).textContent());
    /** The gallery shows what the counts report: the count and a thumbnail each (at most 8). */
    const galleryMatches = async () => {
      for (const [id, name] of [['escapes', 'escapes'], ['false-rejects', 'false-rejects']] as const) {
        const n = await kpi(name);
        await expect.poll(() => gallery.getByTestId(id).locator('.count').textContent()).toBe(String(n));
        await expect.poll(() => gallery.getByTestId(id).locator('figure').count()).toBe(Math.min(n, 8));
        if (n === 0) await gallery.getByTestId(id).getByText('None at this threshold.').waitFor();
      }
    };
    const chart = studio.getByRole('group', { name: 'Score histogram with threshold' });
    const dragTo = async (where: 'left' | 'right') => {
      const from = (await handle.boundingBox())!;
      const frame = (await chart.boundingBox())!;
      await page.mouse.move(from.x + from.width / 2, from.y + 4);
      await page.mouse.down();
      await page.mouse.move(where === 'left' ? frame.x + 2 : frame.x + frame.width - 2, from.y + 4, { steps: 8 });
      await page.mouse.up();
    };
    // dragged all the way down: every good part fails, no defect passes
    await dragTo('left');
    await expect.poll(() => kpi('false-rejects')).toBe(TEST_GOOD);
    expect(await kpi('escapes')).toBe(0);
    await galleryMatches();
    const thumbs = gallery.getByTestId('false-rejects').locator('img');
    await expect.poll(() => thumbs.evaluateAll((imgs) => imgs.filter((i) => (i as unknown as { naturalWidth: number }).naturalWidth > 0).length)).toBe(TEST_GOOD);
    await shot('thresholds-gallery');
    // all the way up: every defect passes
    await dragTo('right');
    await expect.poll(() => kpi('escapes')).toBe(TEST_DEFECT);
    expect(await kpi('false-rejects')).toBe(0);
    await galleryMatches();
    // the engineer's policy: no defect may pass; the gallery follows
    await studio.getByRole('button', { name: 'No defect may pass' }).click();
    await expect.poll(() => kpi('escapes')).toBe(0);
    await galleryMatches();
    const chosen = (await page.getByTestId('threshold-value').textContent())!;
    // and a review band around it: the parts near the threshold go to a person
    await studio.getByRole('button', { name: 'Add review band' }).click();
    await studio.getByRole('slider', { name: 'Review band end' }).waitFor();
    expect(await kpi('escapes')).toBe(0);
    await galleryMatches();
    await page.locator('textarea[name="threshold-note"]').fill('no escapes on the labelled test images; review band around the threshold');
    const versions = page.getByRole('region', { name: 'Threshold versions' });
    const saveButton = page.getByRole('button', { name: /^Save threshold v\d+$/ });
    const next = Number((await saveButton.textContent())!.match(/v(\d+)/)![1]);
    await saveButton.click();
    await versions.getByText('no escapes on the labelled test images; review band around the threshold').waitFor();
    await page.getByRole('button', { name: `Save threshold v${next + 1}` }).waitFor();
    await versions.scrollIntoViewIfNeeded();
    const thresholds = await call(station, 'thresholds.list', { modelId: (await call(station, 'models.list', { productId }))[0]!.id });
    const latest = [...thresholds].sort((a, z) => z.version - a.version)[0]!;
    expect(latest.version).toBe(next);
    expect(latest.note).toBe('no escapes on the labelled test images; review band around the threshold');
    expect(chosen).toBe(score(latest.imageThreshold));
    expect(latest.reviewLow).toBeLessThan(latest.imageThreshold);
    expect(latest.reviewHigh).toBeGreaterThan(latest.imageThreshold);
    expect(await versions.locator('tbody tr').first().locator('td').nth(3).textContent()).toBe(`${score(latest.reviewLow)} – ${score(latest.reviewHigh)}`);
    await shot('thresholds-saved');

    // 6. a lot inspected: the test split, named by its lot number
    await nav(/^Inspect & review/);
    await page.getByRole('textbox', { name: 'Lot or run name' }).fill(LOT);
    await page.getByRole('button', { name: 'Inspect the test split' }).click();
    const runCard = page.getByRole('region', { name: 'Run an inspection' });
    await runCard.locator('.badge.succeeded').waitFor({ timeout: 240_000 });
    await runCard.getByText(`${TEST_GOOD + TEST_DEFECT} inspected`).waitFor();
    const runsTable = page.getByRole('table', { name: 'Inspection runs' });
    const lot = runsTable.locator('tr[data-run-id]', { hasText: LOT });
    await expect.poll(async () => (await lot.locator('td.num').nth(1).textContent())?.trim()).toBe(String(TEST_GOOD + TEST_DEFECT));
    expect(await lot.textContent()).toContain(`v1 · t${next}`);
    await heading(`Results of ${LOT} · v1`).waitFor();
    const rows = page.locator('tr[data-result-id]');
    await expect.poll(() => rows.count()).toBe(TEST_GOOD + TEST_DEFECT);
    // the run's counts are its results' verdicts
    const verdicts = await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector('td:nth-child(4) .badge')!.textContent));
    const cells = (await lot.locator('td.num').allTextContents()).map((t) => t.trim());
    expect(cells.slice(2, 5)).toEqual(['pass', 'review', 'fail'].map((v) => String(verdicts.filter((x) => x === v).length)));
    // no defect passes at this threshold
    expect(await page.locator('tr[data-result-id]', { has: page.locator('.badge.defective') }).filter({ has: page.locator('.badge.pass') }).count()).toBe(0);
    await shot('inspect-lot');

    // 7. a failing part reviewed at 4x
    const failing = page.locator('tr[data-result-id]', { has: page.locator('.badge.fail') }).first();
    await failing.click();
    const reviewStage = page.getByTestId('review-stage');
    await page.locator(`[data-testid="review-stage"][data-result-id="${await failing.getAttribute('data-result-id')}"]`).waitFor();
    await reviewStage.getByTestId('heatmap').waitFor();
    await page.keyboard.press('0');
    await page.keyboard.press('1');
    await expect.poll(() => reviewStage.getAttribute('data-scale')).toBe('1');
    await page.keyboard.press('+');
    await expect.poll(() => page.getByTestId('zoom-level').textContent()).toBe('2×');
    await page.keyboard.press('+');
    await expect.poll(() => reviewStage.getAttribute('data-scale')).toBe('4');
    expect(await page.getByTestId('zoom-level').textContent()).toBe('4×');
    expect(await reviewStage.locator('.world').getAttribute('style')).toContain('scale(4)');
    // the detected defect dragged to the middle, the cursor on it reading its score
    const outline = reviewStage.locator('[data-outline="detector"]');
    const centre = loopsCentre((await outline.getAttribute('d'))!);
    const stageBox = (await reviewStage.boundingBox())!;
    const viewAt = async () => ({ x: Number(await reviewStage.getAttribute('data-x')), y: Number(await reviewStage.getAttribute('data-y')) });
    const clamp = (d: number) => Math.max(-300, Math.min(300, d));
    for (let i = 0; i < 12; i++) {
      const v = await viewAt();
      const dx = stageBox.width / 2 - (v.x + centre.x * 4);
      const dy = stageBox.height / 2 - (v.y + centre.y * 4);
      if (Math.abs(dx) < 2 && Math.abs(dy) < 2) break;
      await page.mouse.move(stageBox.x + stageBox.width / 2, stageBox.y + stageBox.height / 2);
      await page.mouse.down();
      await page.mouse.move(stageBox.x + stageBox.width / 2 + clamp(dx), stageBox.y + stageBox.height / 2 + clamp(dy), { steps: 3 });
      await page.mouse.up();
    }
    await page.mouse.move(stageBox.x + stageBox.width / 2 + 1, stageBox.y + stageBox.height / 2 + 1);
    await expect.poll(() => page.getByTestId('pixel-readout').getAttribute('data-x')).not.toBeNull();
    expect(await reviewStage.getAttribute('data-scale')).toBe('4');
    expect(await page.getByTestId('zoom-level').textContent()).toBe('4×');
    await shot('review-4x');
    await page.keyboard.press('0');

    // 8. decisions with the keys: the first three results passed, failed, passed
    const viewer = page.getByRole('region', { name: 'Result' });
    await rows.first().click();
    await viewer.locator('input[name="reviewer"]').fill(REVIEWER);
    await rows.first().click();
    const ids = await rows.evaluateAll((trs) => trs.slice(0, 3).map((tr) => tr.getAttribute('data-result-id')!));
    const expected: Record<string, 'pass' | 'fail'> = { [ids[0]!]: 'pass', [ids[1]!]: 'fail', [ids[2]!]: 'pass' };
    for (const [i, key] of (['p', 'f', 'p'] as const).entries()) {
      await expect.poll(() => rows.nth(i).getAttribute('aria-selected')).toBe('true');
      await page.keyboard.press(key);
      await page.locator(`tr[data-result-id="${ids[i]}"] td:last-child .badge.${key === 'p' ? 'pass' : 'fail'}`).waitFor();
    }
    for (const [id, verdict] of Object.entries(expected)) {
      const row = page.locator(`tr[data-result-id="${id}"]`);
      expect(await row.locator('td:last-child .badge').textContent()).toBe(verdict);
      expect(await row.locator('td:last-child .badge').getAttribute('title')).toBe(`by ${REVIEWER}`);
    }
    await rows.nth(1).click();
    await expect.poll(() => viewer.getByTestId('decision').textContent()).toMatch(new RegExp(`fail.*by ${REVIEWER}`, 's'));
    await shot('decisions');

    // 9. a good part added to normal (the best-scoring good one: the model's likeliest false reject), refitted as a new version
    const good = page.locator('tr[data-result-id]', { has: page.locator('td.label .badge.good') }).first();
    const addedImage = await good.locator('button.link').textContent();
    await good.click();
    await viewer.getByRole('heading', { name: addedImage! }).waitFor();
    await viewer.getByRole('button', { name: 'Add to normal and refit' }).click();
    // the screens follow the newest version
    await expect.poll(() => page.getByRole('combobox', { name: 'Model version' }).locator('option:checked').textContent(), { timeout: 120_000 }).toMatch(/^v2 · patchcore/);
    await heading('All results · v2').waitFor();
    await nav('Train');
    const v2 = page.locator('tr[data-model-version="2"]');
    await v2.waitFor();
    expect(await v2.textContent()).toContain('PatchCore');
    const models = await call(station, 'models.list', { productId });
    expect(models.map((m) => m.version).sort()).toEqual([1, 2]);
    const trainImages = (await call(station, 'images.list', { productId, split: 'train', limit: 1000 })).items;
    expect(trainImages.map((i) => i.originalPath)).toContain(addedImage);
    expect(trainImages.length).toBe(TRAIN + 1);
    await shot('refit-v2');

    // 10. the station restarted on the same project; the page opened again; the lot's run and its decisions are there
    await server.close();
    await station.close();
    // as `npm start -- --browser --project <dir> --port <same>`: the project opened at launch, a new token
    const port = server.port;
    station = new Station();
    await call(station, 'project.open', { dir: projectDir });
    server = await startBrowserServer(station, { rendererDir: RENDERER, port });
    // the printed address opened in the same tab (only its fragment changes), then the page reloaded
    await page.goto(server.url);
    await expect.poll(() => page.url()).toBe(`${server.origin}/`);
    await expect.poll(() => page.getByText('Live updates on').isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByText('Live updates on').isVisible()).toBe(true);
    await page.getByRole('region', { name: 'Images' }).locator('[data-image-id]').first().waitFor();
    await nav(/^Inspect & review/);
    const picker = page.getByRole('combobox', { name: 'Model version' });
    await expect.poll(() => picker.locator('option:checked').textContent()).toMatch(/^v2 · /);
    await heading('All results · v2').waitFor();
    // the lot inspected with v1 is listed beside the newest version's runs, and opens with v1
    const reopened = page.getByRole('table', { name: 'Inspection runs' }).locator('tr[data-run-id]', { hasText: LOT });
    expect(await reopened.locator('td').nth(1).textContent()).toBe(`v1 · t${next}`);
    expect((await reopened.locator('td.num').allTextContents()).map((t) => t.trim()).slice(1, 5)).toEqual(cells.slice(1, 5));
    await shot('after-restart-runs');
    await reopened.getByRole('button', { name: LOT }).click();
    await heading(`Results of ${LOT} · v1`).waitFor();
    await expect.poll(() => picker.locator('option:checked').textContent()).toMatch(/^v1 · /);
    await page.getByRole('button', { name: 'Use newest (v2)' }).waitFor();
    await expect.poll(() => rows.count()).toBe(TEST_GOOD + TEST_DEFECT);
    for (const [id, verdict] of Object.entries(expected)) {
      const badge = page.locator(`tr[data-result-id="${id}"] td:last-child .badge`);
      await expect.poll(() => badge.textContent()).toBe(verdict);
      expect(await badge.getAttribute('title')).toBe(`by ${REVIEWER}`);
    }
    await page.locator(`tr[data-result-id="${ids[1]}"]`).click();
    await expect.poll(() => viewer.getByTestId('decision').textContent()).toMatch(new RegExp(`fail.*by ${REVIEWER}`, 's'));
    await page.locator(`[data-testid="review-stage"][data-result-id="${ids[1]}"]`).waitFor();
    await reviewStage.getByTestId('heatmap').waitFor();
    // the page remembers who reviews (same station address)
    expect(await viewer.locator('input[name="reviewer"]').inputValue()).toBe(REVIEWER);
    await shot('after-restart-run');

    expect(problems).toEqual([]);
    console.log(`the day took ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in ${SHOTS}`);
  }, 600_000);
});
