/**
 * `npm run bench -- grid-scroll [--images 5000] [--seconds 6]`: frame times of the Dataset grid in
 * Chromium (headless, software rendering) on a product of that many generated images
 * (bench/big-project.ts), read from the browser: every animation frame's time (requestAnimationFrame
 * timestamps) and the performance timeline's long animation frames (PerformanceObserver
 * 'long-animation-frame', over 50 ms), while the grid is
 *   1. scrolled steadily (a fast wheel: 40 px a frame, about 2,400 px/s) for `seconds`, then
 *   2. dragged to 20 far positions, 250 ms apart (a scrollbar drag: rows whose pages are not loaded yet).
 * Prints p50 / p95 / max frame time, frames over 33 ms, long animation frames, and the most tiles the
 * page held at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, num } from '../src-main/cli/table.ts';
import { startBrowserServer } from '../src-main/transport/http-server.ts';
import { ensureRendererBuilt, launchChromium, RENDERER } from '../test/fixtures/browser.ts';
import { buildBigProject } from './big-project.ts';

const { values } = parseArgs({ options: { images: { type: 'string', default: '5000' }, seconds: { type: 'string', default: '6' } } });
const count = Number(values.images);
const seconds = Number(values.seconds);

interface Phase {
  frames: number[];
  longFrames: number[];
  maxTiles: number;
  /** Of the long frames' time: in scripts, and in rendering (style, layout, paint). */
  scriptMs: number;
  renderMs: number;
}

const work = mkdtempSync(join(tmpdir(), 'argus-grid-scroll-'));
await ensureRendererBuilt();
const big = await buildBigProject(work, count);
const server = await startBrowserServer(big.station.station, { rendererDir: RENDERER });
const context = await launchChromium(join(work, 'chromium-profile'), { width: 1600, height: 1000 });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  // tsx names functions with an `__name` helper that the page does not have (the measuring function runs there)
  await page.addInitScript('globalThis.__name = (f) => f');
  await page.goto(server.url);
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Dataset' }).click();
  await page.locator('[data-image-id]').first().waitFor();
  await page.waitForTimeout(1500);

  const measure = (mode: 'steady' | 'jumps') => page.getByTestId('image-grid').evaluate(async (grid, { mode, seconds }) => {
    const { requestAnimationFrame } = globalThis as unknown as { requestAnimationFrame: (tick: (now: number) => void) => number };
    const frames: number[] = [];
    const longFrames: number[] = [];
    let maxTiles = 0;
    let scriptMs = 0;
    let renderMs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        longFrames.push(e.duration);
        // where a long frame went: scripts, and the rendering (style, layout, paint) from its render start
        const frame = e as unknown as { startTime: number; duration: number; renderStart: number; scripts: Array<{ duration: number }> };
        scriptMs += frame.scripts.reduce((a, x) => a + x.duration, 0);
        if (frame.renderStart > 0) renderMs += frame.startTime + frame.duration - frame.renderStart;
      }
    });
    // Chromium's long animation frames (not in Node's types; this runs in the page)
    observer.observe({ type: 'long-animation-frame' as 'mark' });
    await new Promise<void>((done) => {
      let last = 0;
      let start = 0;
      let jump = 0;
      const tick = (now: number) => {
        if (start === 0) start = now;
        else frames.push(now - last);
        last = now;
        maxTiles = Math.max(maxTiles, grid.querySelectorAll('[data-image-id]').length);
        const elapsed = now - start;
        if (mode === 'steady') {
          grid.scrollTop += 40;
          if (elapsed >= seconds * 1000 || grid.scrollTop + grid.clientHeight >= grid.scrollHeight) return done();
        } else if (elapsed >= jump * 250) {
          if (jump === 20) return done();
          // far positions spread over the whole product, in a scrambled order
          grid.scrollTop = (((jump * 7919) % 20) / 20) * (grid.scrollHeight - grid.clientHeight);
          jump++;
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await new Promise((r) => setTimeout(r, 300));
    observer.disconnect();
    return { frames, longFrames, maxTiles, scriptMs, renderMs };
  }, { mode, seconds });

  const steady: Phase = await measure('steady');
  const jumps: Phase = await measure('jumps');
  const quantile = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
  };
  const line = (name: string, p: Phase) => [
    name, String(p.frames.length), num(quantile(p.frames, 0.5)), num(quantile(p.frames, 0.95)), num(Math.max(...p.frames)),
    String(p.frames.filter((f) => f > 33.4).length), String(p.longFrames.length), num(p.longFrames.length ? Math.max(...p.longFrames) : 0),
    `${num(p.scriptMs, 0)} / ${num(p.renderMs, 0)}`, String(p.maxTiles),
  ];
  console.log(formatTable(
    ['Dataset grid scroll', 'frames', 'p50 ms', 'p95 ms', 'max ms', 'frames > 33 ms', 'long frames (> 50 ms)', 'longest ms', 'their script / render ms', 'most tiles in page'],
    [line(`steady, ${count} images`, steady), line(`20 far jumps, ${count} images`, jumps)],
  ));
  console.log(JSON.stringify({ images: count, steady: { ...steady, frames: undefined, p50: quantile(steady.frames, 0.5), p95: quantile(steady.frames, 0.95) }, jumps: { ...jumps, frames: undefined, p50: quantile(jumps.frames, 0.5), p95: quantile(jumps.frames, 0.95) } }));
} finally {
  await context.close();
  await server.close();
  await big.station.close();
  rmSync(work, { recursive: true, force: true });
}
