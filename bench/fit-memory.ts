/**
 * `npm run bench -- fit-memory [--images 5000] [--size 256] [--data <mvtec dir>]`: PatchCore's fit on
 * a large training set in its own process, printing fit seconds, patch rows, memory-bank rows and peak
 * RSS. The images are the dataset's training images over and over, each copy flipped and its
 * brightness shifted by its index (so no two are the same bytes of features). What an unbounded fit
 * would hold (every patch row at once) is printed beside it.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { imageBatches, loadBatches } from '../src-main/datasets/loader.ts';
import { scanMvtec } from '../src-main/datasets/mvtec.ts';
import { activeProvider, setSessionLogger } from '../src-main/engine/session.ts';
import type { ImageBatch } from '../src-main/methods/method.ts';
import { PATCHCORE_DEFAULTS, patchcoreInput } from '../src-main/methods/patchcore/defaults.ts';
import { fitPatchCore } from '../src-main/methods/patchcore/model.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { join } from 'node:path';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '5000' },
    size: { type: 'string', default: '256' },
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'magnetic_tile') },
  },
});
setSessionLogger(() => undefined);
const count = Number(values.images);
const size = Number(values.size);
const dataset = scanMvtec(values.data);
const entries = Array.from({ length: count }, (_, i) => dataset.train[i % dataset.train.length]!);
const config = { ...PATCHCORE_DEFAULTS, height: size, width: size };

/** Copy k of an image: flipped one of four ways, brightness shifted by a small step per round. */
async function* variedBatches(source: AsyncIterable<ImageBatch>): AsyncGenerator<ImageBatch> {
  let index = 0;
  for await (const b of source) {
    const plane = b.height * b.width;
    const data = new Float32Array(b.data.length);
    for (let n = 0; n < b.n; n++, index++) {
      const flip = index % 4;
      const gain = 1 + 0.01 * Math.floor(index / dataset.train.length);
      for (let c = 0; c < 3; c++) {
        const off = (n * 3 + c) * plane;
        for (let y = 0; y < b.height; y++) {
          const sy = flip & 2 ? b.height - 1 - y : y;
          for (let x = 0; x < b.width; x++) {
            const sx = flip & 1 ? b.width - 1 - x : x;
            data[off + y * b.width + x] = b.data[off + sy * b.width + sx]! * gain;
          }
        }
      }
    }
    yield { ...b, data };
  }
}

let rows = 0;
const start = performance.now();
const model = await fitPatchCore(variedBatches(imageBatches(loadBatches(entries, patchcoreInput(config), { batchSize: 8 }))), count, config, {
  onProgress: (p) => {
    if (p.stage === 'features' && (p.done % 500 === 0 || p.done === p.total)) process.stderr.write(`  features ${p.done} / ${p.total} (${((performance.now() - start) / 1000).toFixed(0)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB)\n`);
  },
});
const seconds = (performance.now() - start) / 1000;
const described = model.describe() as { memoryBank: [number, number]; trainPatches: number };
rows = described.trainPatches;
const peakMb = process.resourceUsage().maxRSS / 1024;
console.log(formatTable(['PatchCore fit', 'images', 'size', 'patch rows', 'bank rows', 'fit s', 'peak RSS MB', 'unbounded features MB', 'provider'], [[
  dataset.name, String(count), `${size} px`, String(rows), String(described.memoryBank[0]), num(seconds), num(peakMb, 0), num((rows * config.targetDim * 4) / 2 ** 20, 0), activeProvider(),
]]));
console.log(JSON.stringify({ images: count, size, rows, bankRows: described.memoryBank[0], fitSeconds: seconds, peakRssMb: peakMb }));
