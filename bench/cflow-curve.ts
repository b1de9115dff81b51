/**
 * `npx tsx bench/cflow-curve.ts --data <dir> [--max-train n] [--max-test n] [--epochs E --sub-epochs S]`:
 * CFLOW-AD test metrics after every sub-epoch of one training run (as the official code evaluates
 * after every meta-epoch), to choose a default schedule. Test features are extracted once; each point
 * calibrates the flows as they are (held-out normalisation) and scores the test images. Prints one
 * table and a JSON line.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../src-main/datasets/loader.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { aupro, auroc, pooledPixels, type ScoredMask } from '../src-main/metrics/index.ts';
import { CFLOW_DEFAULTS, cflowInput, type CflowConfig } from '../src-main/methods/cflow/defaults.ts';
import { fitCflow } from '../src-main/methods/cflow/model.ts';
import type { ImageBatch } from '../src-main/methods/method.ts';
import { readMask, resizeMaskNearest } from '../src-main/vision/index.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    'max-train': { type: 'string' },
    'max-test': { type: 'string' },
    epochs: { type: 'string', default: '8' },
    'sub-epochs': { type: 'string', default: '1' },
    size: { type: 'string', default: '256' },
    taps: { type: 'string' },
    every: { type: 'string', default: '1' },
  },
});
setSessionLogger(() => undefined);
const dataset = scanMvtec(values.data!);
const size = Number(values.size);
const c: CflowConfig = {
  ...CFLOW_DEFAULTS, height: size, width: size, epochs: Number(values.epochs), subEpochs: Number(values['sub-epochs']),
  ...(values.taps ? { taps: values.taps.split(',') } : {}),
};
const input = cflowInput(c);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
const test = values['max-test'] ? evenlySpaced(dataset.test, Number(values['max-test'])) : dataset.test;

const batches: { batch: ImageBatch; defective: boolean[]; masks: (Uint8Array | undefined)[] }[] = [];
for await (const b of loadBatches(test, input, { batchSize: 8 })) {
  const masks = await Promise.all(b.entries.map(async (e) => (!e.defective ? new Uint8Array(size * size) : e.maskPath ? resizeMaskNearest(await readMask(e.maskPath), size, size).data : undefined)));
  batches.push({ batch: b.batch, defective: b.entries.map((e) => e.defective), masks });
}
const rows: string[][] = [];
const points: Record<string, number>[] = [];
const start = performance.now();
const model = await fitCflow(imageBatches(loadBatches(train, input, { batchSize: 8 })), train.length, c, {
  onSubEpoch: async (sub, snapshot) => {
    if (sub % Number(values.every) !== 0 && sub !== c.epochs * c.subEpochs) return;
    const trainSeconds = (performance.now() - start) / 1000;
    const model = await snapshot();
    const scores: number[] = [];
    const labels: number[] = [];
    const scored: ScoredMask[] = [];
    const inferStart = performance.now();
    for (const b of batches) {
      const p = await model.predict(b.batch);
      p.forEach((q, i) => {
        scores.push(q.score);
        labels.push(b.defective[i] ? 1 : 0);
        if (b.masks[i]) scored.push({ map: q.map, mask: b.masks[i]!, width: size, height: size });
      });
    }
    const msPerImage = (performance.now() - inferStart) / scores.length;
    const px = pooledPixels(scored);
    const point = { subEpochs: sub, seconds: trainSeconds, msPerImage, imageAuroc: auroc(Float64Array.from(scores), Uint8Array.from(labels)), pixelAuroc: auroc(px.scores, px.labels), aupro: aupro(scored) };
    points.push(point);
    rows.push([String(sub), num(point.seconds), num(100 * point.imageAuroc), num(100 * point.pixelAuroc), num(100 * point.aupro), num(msPerImage)]);
    process.stderr.write(`${JSON.stringify(point)}\n`);
  },
});
console.log(`CFLOW-AD curve: ${dataset.name}, ${train.length} train / ${test.length} test, ${size} px, ${c.epochs} meta-epochs × ${c.subEpochs} sub-epochs, taps ${c.taps.join(',')}`);
console.log(formatTable(['sub-epochs', 'elapsed s', 'image AUROC', 'pixel AUROC', 'AUPRO', 'ms/img (bs 8)'], rows));
console.log(JSON.stringify({ dataset: dataset.name, config: { epochs: c.epochs, subEpochs: c.subEpochs, taps: c.taps }, points, training: model.training }));
