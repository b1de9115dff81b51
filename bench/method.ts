/**
 * One benchmark run in its own process (so peak RSS is this method's alone): fit on a dataset's
 * training images, then time model inference at batch 1 and batch 8. Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scanMvtec, evenlySpaced } from '../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches, type LoadedBatch } from '../src-main/datasets/loader.ts';
import { getMethod } from '../src-main/methods/index.ts';
import type { FittedModel } from '../src-main/methods/method.ts';
import { PatchCoreModel } from '../src-main/methods/patchcore/model.ts';
import { TiledModel } from '../src-main/methods/tiling.ts';
import { activeProvider, setSessionLogger } from '../src-main/engine/session.ts';

const { values } = parseArgs({
  options: {
    method: { type: 'string' },
    data: { type: 'string' },
    'max-train': { type: 'string' },
    images: { type: 'string', default: '16' },
    /** PatchCore (tiled or not): also time the same model with the approximate search (a second JSON line). */
    'also-approximate': { type: 'boolean', default: false },
    /** Settings over the method's defaults, as JSON (e.g. '{"resize":"tile","height":512,"width":1280}'). */
    config: { type: 'string', default: '{}' },
  },
});
setSessionLogger(() => undefined);
const dataset = scanMvtec(values.data!);
const method = getMethod(values.method!);
const config = { ...method.defaults, ...JSON.parse(values.config!) };
method.validate?.(config);
const input = method.input(config);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;

const fitStart = performance.now();
const model = await method.fit(imageBatches(loadBatches(train, input, { batchSize: 8 })), train.length, config);
const fitSeconds = (performance.now() - fitStart) / 1000;
// trained methods (SimpleNet) record the wall-clock seconds of each training epoch
const epochSeconds = (model.describe()['training'] as { epochSeconds?: number[] } | undefined)?.epochSeconds;
const trainSecondsPerEpoch = epochSeconds?.length ? epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length : null;

const timed = evenlySpaced(dataset.test, Number(values.images));
async function msPerImage(scored: FittedModel, batchSize: number): Promise<number> {
  const batches: LoadedBatch[] = [];
  for await (const b of loadBatches(timed, input, { batchSize })) batches.push(b);
  await scored.predict(batches[0]!.batch); // warm-up: first-run allocations of this shape
  const start = performance.now();
  for (const b of batches) await scored.predict(b.batch);
  return (performance.now() - start) / timed.length;
}
const variants: Array<[string, FittedModel]> = [[method.name, model]];
if (values['also-approximate']) {
  // a tiled PatchCore searches through its inner model
  const approximate = model instanceof PatchCoreModel ? model.withSearch('approximate')
    : model instanceof TiledModel && model.inner instanceof PatchCoreModel ? model.withInner(model.inner.withSearch('approximate')) : undefined;
  if (approximate) variants.push([`${method.name} (approximate search)`, approximate]);
}
for (const [name, scored] of variants) {
  const bs1 = await msPerImage(scored, 1);
  const bs8 = await msPerImage(scored, 8);
  console.log(JSON.stringify({
    method: name,
    dataset: dataset.name,
    nTrain: train.length,
    input: `${input.height}x${input.width} ${input.resize}`,
    fitSeconds,
    trainSecondsPerEpoch,
    msPerImageBs1: bs1,
    msPerImageBs8: bs8,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    provider: activeProvider(),
  }));
}
