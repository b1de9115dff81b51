/**
 * The Masks & labels screen in Chromium against a real station, on real magnetic-tile images (MVTec
 * layout, a folder per defect type): a quality engineer outlines a polygon, undoes and redoes it,
 * zooms in (the mask stays on its pixels) and pans, fills a blowhole with one click, adds a defect type
 * to the product's list and picks it with its number key, saves, and the station gives back exactly
 * that mask; the product's ignore region is still drawn with the same editor.
 *
 * Screenshots at 1920 x 1080 land in $ARGUS_UI_SHOTS (default /tmp/argus-ui).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Station } from '../../src-main/services/station.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';
import { decodeMask } from '../../src-main/vision/mask.ts';
import { ensureRendererBuilt, RENDERER, SHOTS, openWatchedPage } from '../fixtures/browser.ts';
import { sharedDataset } from '../fixtures/datasets.ts';
import { call, finished } from '../fixtures/station.ts';

const BLOWHOLE = 'exp1_num_108719';

/** Two good tiles to train on, one blowhole and one crack with their masks, in MVTec layout. */
function magneticTiles(): string {
  const source = sharedDataset('magnetic_tile');
  const root = mkdtempSync(join(tmpdir(), 'argus-tiles-'));
  const copy = (rel: string, files: string[], maskRel?: string) => {
    mkdirSync(join(root, rel), { recursive: true });
    if (maskRel) mkdirSync(join(root, maskRel), { recursive: true });
    for (const f of files) {
      copyFileSync(join(source, rel, `${f}.jpg`), join(root, rel, `${f}.jpg`));
      if (maskRel) copyFileSync(join(source, maskRel, `${f}_mask.png`), join(root, maskRel, `${f}_mask.png`));
    }
  };
  const firstOf = (rel: string, n: number) => readdirSync(join(source, rel)).sort().slice(0, n).map((f) => f.replace(/\.jpg$/, ''));
  copy('train/good', firstOf('train/good', 2));
  copy('test/blowhole', [BLOWHOLE], 'ground_truth/blowhole');
  copy('test/crack', firstOf('test/crack', 1), 'ground_truth/crack');
  return root;
}

describe('the Masks & labels screen in Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'argus-ui-label-'));
  const projectDir = join(work, 'project');
  const data = magneticTiles();
  const problems: string[] = [];
  let station: Station;
  let server: BrowserServer;
  let context: BrowserContext;
  let page: Page;
  let productId = 0;
  let imageId = 0;
  /** The blowhole's ground truth as shipped with the data set (one byte per pixel). */
  let truth: Uint8Array;
  const W = 248;
  const H = 373;

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  const editor = () => page.getByRole('region', { name: 'Mask editor' });
  const stage = () => page.getByTestId('mask-stage');
  const scale = async () => Number(await stage().getAttribute('data-scale'));

  /** Where image pixel (x, y) (its centre with +0.5) is on the screen now. */
  async function screen(x: number, y: number): Promise<{ x: number; y: number }> {
    const box = (await stage().boundingBox())!;
    const [s, vx, vy] = await Promise.all(['data-scale', 'data-x', 'data-y'].map(async (a) => Number(await stage().getAttribute(a))));
    return { x: box.x + vx! + x * s!, y: box.y + vy! + y * s! };
  }
  async function clickAt(x: number, y: number) {
    const p = await screen(x, y);
    await page.mouse.click(p.x, p.y);
  }
  async function storedMask(kind: 'ground_truth'): Promise<Uint8Array> {
    const found = await call(station, 'masks.get', { imageId, kind });
    return (await decodeMask(Buffer.from(found!.png, 'base64'), 'mask')).data;
  }
  /** The mask canvas's alpha at image pixel (x, y): 255 on, 0 off. */
  type Canvas2d = { getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
  const maskAlpha = (x: number, y: number) =>
    stage().getByLabel('Mask painting area').evaluate((c, [px, py]) => (c as unknown as Canvas2d).getContext('2d').getImageData(px!, py!, 1, 1).data[3], [x, y]);
  const status = (text: string) => editor().getByText(text, { exact: true }).waitFor();
  const bboxOf = async (l: Locator) => (await l.boundingBox())!;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureRendererBuilt();
    station = new Station();
    server = await startBrowserServer(station, { rendererDir: RENDERER });
    await call(station, 'project.create', { dir: projectDir, name: 'Magnetic tiles' });
    productId = (await call(station, 'products.create', { name: 'MT-40 tile' })).id;
    expect((await finished(station, await call(station, 'images.import', { productId, paths: [data], layout: 'mvtec' }))).status).toBe('succeeded');
    const defective = (await call(station, 'images.list', { productId, verdict: 'defective' })).items;
    imageId = defective.find((i) => i.originalPath.includes(BLOWHOLE))!.id;
    truth = (await decodeMask(await sharp(join(data, 'ground_truth/blowhole', `${BLOWHOLE}_mask.png`)).png().toBuffer(), 'truth')).data;
    ({ context, page } = await openWatchedPage(join(work, 'chromium-profile'), problems, { viewport: { width: 1920, height: 1080 }, acceptDialogs: true }));
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await station?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('opens a blowhole tile with its stored mask and clears it', async () => {
    await page.goto(server.url);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: /^Masks & labels/ }).click();
    await page.getByRole('list', { name: 'Images' }).getByRole('button', { name: new RegExp(BLOWHOLE) }).click();
    await status('Mask saved');
    await page.getByTestId('mask-stage').locator('img').waitFor();
    // the import brought the data set's types into the product's list, in its colours
    const types = page.getByRole('group', { name: 'Defect types' });
    await expect.poll(() => types.getByRole('button', { pressed: true }).textContent()).toContain('blowhole');
    await editor().getByRole('button', { name: 'Delete stored mask' }).click();
    await status('No mask stored');
  });

  it('outlines a polygon, undoes and redoes it, and erases a polygon inside it', async () => {
    await page.keyboard.press('p');
    for (const [x, y] of [[20, 20], [80, 20], [80, 80], [20, 80]] as const) await clickAt(x, y);
    expect(await stage().getAttribute('data-vertices')).toBe('4');
    // a click on the first vertex closes the outline and fills it
    await clickAt(20.5, 20.5);
    expect(await stage().getAttribute('data-vertices')).toBe('0');
    await status('Unsaved changes');
    await page.keyboard.press('Control+z');
    await status('No mask stored');
    await page.keyboard.press('Control+Shift+z');
    await status('Unsaved changes');
    await page.keyboard.press('Control+z');
    await page.keyboard.press('Control+y');
    await status('Unsaved changes');
    // Shift+Enter closes an outline erasing: a hole in the square
    for (const [x, y] of [[40, 40], [60, 40], [60, 60], [40, 60]] as const) await clickAt(x, y);
    await page.keyboard.press('Shift+Enter');
    expect(await maskAlpha(50, 50)).toBe(0);
    expect(await maskAlpha(30, 30)).toBe(255);
    // Esc drops an outline in progress; nothing is filled
    await clickAt(150, 40);
    await clickAt(200, 40);
    await page.keyboard.press('Escape');
    expect(await stage().getAttribute('data-vertices')).toBe('0');
  });

  it('zooms with the keys and the wheel keeping the mask on the image pixels, and pans', async () => {
    const fitted = await scale();
    await page.keyboard.press('Equal');
    await page.keyboard.press('Equal');
    expect(await scale()).toBeGreaterThan(fitted);
    await page.keyboard.press('Shift+Digit1');
    expect(await scale()).toBe(1);
    const centre = await screen(125, 224);
    await page.mouse.move(centre.x, centre.y);
    await page.mouse.wheel(0, -600);
    await expect.poll(scale).toBeGreaterThan(2);
    // the mask canvas and the image cover exactly the same screen pixels at this zoom
    const s = await scale();
    const img = await bboxOf(stage().locator('img'));
    const mask = await bboxOf(stage().getByLabel('Mask painting area'));
    expect(mask.x).toBeCloseTo(img.x, 3);
    expect(mask.y).toBeCloseTo(img.y, 3);
    expect(mask.width).toBeCloseTo(W * s, 1);
    expect(mask.height).toBeCloseTo(H * s, 1);
    // the wheel zoomed around the pointer: the blowhole stayed under it
    const after = await screen(125, 224);
    expect(Math.abs(after.x - centre.x)).toBeLessThan(2);
    // middle-button drag pans by as much as the pointer moved
    const before = Number(await stage().getAttribute('data-x'));
    await page.mouse.move(centre.x, centre.y);
    await page.mouse.down({ button: 'middle' });
    await page.mouse.move(centre.x - 60, centre.y, { steps: 4 });
    await page.mouse.up({ button: 'middle' });
    expect(Number(await stage().getAttribute('data-x'))).toBeCloseTo(before - 60, 0);
    await page.mouse.move(centre.x - 60, centre.y);
    await shot('label-zoomed-polygon');
  });

  it('fills the blowhole from one click inside it', async () => {
    await page.keyboard.press('f');
    // the click: the ground truth's innermost pixel, as a person clicks the middle of the hole
    let inner = truth;
    for (;;) {
      const eroded = inner.map((v, i) => (v && inner[i - 1] && inner[i + 1] && inner[i - W] && inner[i + W] ? 1 : 0));
      if (!eroded.includes(1)) break;
      inner = eroded;
    }
    const seed = inner.indexOf(1);
    const [sx, sy] = [(seed % W) + 0.5, Math.floor(seed / W) + 0.5];
    await clickAt(sx, sy);
    await status('Unsaved changes');
    // Shift+click erases the same region; undo brings it back
    await page.keyboard.down('Shift');
    await clickAt(sx, sy);
    await page.keyboard.up('Shift');
    expect(await maskAlpha(Math.floor(sx), Math.floor(sy))).toBe(0);
    await page.keyboard.press('Control+z');
    expect(await maskAlpha(Math.floor(sx), Math.floor(sy))).toBe(255);
    await page.keyboard.press('0');
    await shot('label-fill');
  });

  it('adds a defect type to the product\'s list and picks it with its number key', async () => {
    const types = page.getByRole('group', { name: 'Defect types' });
    await types.getByRole('button', { name: 'Edit list' }).click();
    const list = page.getByRole('region', { name: 'Edit the defect types' });
    await list.getByLabel('New defect type').fill('pinhole');
    await list.getByRole('button', { name: 'Add' }).click();
    await list.locator('tr[data-defect-type="pinhole"]').waitFor();
    await list.getByRole('button', { name: 'Move pinhole up' }).click();
    // blowhole, pinhole, crack: the new one is the 2nd
    await expect.poll(() => list.locator('tr[data-defect-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-defect-type')))).toEqual(['blowhole', 'pinhole', 'crack']);
    // rename (the images labelled with it follow) and recolour in place
    await list.getByLabel('Name of crack').fill('hairline crack');
    await list.getByLabel('Name of crack').press('Enter');
    await list.locator('tr[data-defect-type="hairline crack"]').waitFor();
    await list.getByLabel('Colour of pinhole').fill('#00c0ff');
    await expect.poll(async () => (await call(station, 'defectTypes.list', { productId })).map((t) => [t.name, t.colour, t.images])).toEqual([
      ['blowhole', expect.any(String), 1], ['pinhole', '#00c0ff', 0], ['hairline crack', expect.any(String), 1],
    ]);
    expect((await call(station, 'images.list', { productId, verdict: 'defective' })).items.map((i) => i.defectType).sort()).toEqual(['blowhole', 'hairline crack']);
    await shot('label-defect-types');
    await types.getByRole('button', { name: 'Close the list' }).click();
    await stage().hover();
    await page.keyboard.press('2');
    await expect.poll(() => types.getByRole('button', { pressed: true }).textContent()).toContain('pinhole');
    expect((await call(station, 'images.get', { id: imageId })).defectType).toBe('pinhole');
    // the ground truth is drawn in the type's colour
    expect(await stage().getByLabel('Mask painting area').evaluate((c, [px, py]) => Array.from((c as unknown as Canvas2d).getContext('2d').getImageData(px!, py!, 1, 1).data), [30, 30])).toEqual([0, 0xc0, 0xff, 255]);
    await shot('label-1920x1080');
  });

  it('saves, and the station gives back the polygon and the filled blowhole', async () => {
    await page.keyboard.press('Control+s');
    await status('Mask saved');
    const mask = await storedMask('ground_truth');
    expect(mask.length).toBe(W * H);
    // the polygon (20, 20)–(80, 80): exactly the 60 × 60 pixels whose centres are inside, less the erased 20 × 20
    let square = 0, hole = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (x >= 20 && x < 80 && y >= 20 && y < 80) square += mask[y * W + x]!;
    for (let y = 40; y < 60; y++) for (let x = 40; x < 60; x++) hole += mask[y * W + x]!;
    expect(hole).toBe(0);
    expect(square).toBe(3600 - 400);
    expect(mask.slice(0, 19 * W).every((v) => v === 0)).toBe(true);
    // the rest is the fill: the blowhole, overlapping the data set's own ground truth well
    let both = 0, either = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (x >= 20 && x < 80 && y >= 20 && y < 80) continue;
        both += mask[y * W + x]! & truth[y * W + x]!;
        either += mask[y * W + x]! | truth[y * W + x]!;
      }
    }
    expect(both / either).toBeGreaterThan(0.6);
  });

  it('lists the editor\'s keys on the ? sheet, exactly as they are bound', async () => {
    await page.keyboard.press('Shift+?');
    const sheet = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await sheet.getByRole('heading', { name: 'Masks & labels' }).waitFor();
    for (const [keys, what] of <Array<[string, string]>>[['Ctrl+Shift+Z / Ctrl+Y', 'redo'], ['Shift+1', '1:1 (one image pixel per screen pixel)'], ['1…9', 'label the image defective with the list\'s 1st…9th defect type'], ['P', 'polygon (click the corners; Shift erases)']]) {
      await sheet.getByText(what, { exact: true }).waitFor();
      expect(await sheet.getByText(keys, { exact: true }).count(), keys).toBeGreaterThan(0);
    }
    await shot('label-keys');
    await page.keyboard.press('Escape');
    await expect.poll(() => sheet.count()).toBe(0);
  });

  it('still draws the product\'s ignore region with the same editor', async () => {
    await page.getByRole('group', { name: 'Mask kind' }).getByRole('button', { name: 'Product ignore region' }).click();
    await status('No mask stored · applies to every image of the product');
    await page.keyboard.press('p');
    for (const [x, y] of [[1, 300], [61, 300], [61, 370], [1, 370]] as const) await clickAt(x, y);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+s');
    await status('Mask saved · applies to every image of the product');
    const region = await call(station, 'products.ignore', { productId });
    expect(region).toMatchObject({ width: W, height: H });
    const bits = (await decodeMask(Buffer.from(region!.png, 'base64'), 'region')).data;
    expect(bits.reduce((a, v) => a + v, 0)).toBe(60 * 70);
    expect(problems).toEqual([]);
  });
});
