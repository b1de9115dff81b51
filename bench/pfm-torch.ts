/**
 * `npm run bench -- pfm-torch` (or `npx tsx bench/pfm-torch.ts`): PFM / PEFM training seconds per epoch
 * and mapping inference milliseconds per image, Argus (ONNX Runtime, its own gradients) beside the
 * official DualProjectionNet, loss and Adam steps in PyTorch (bench/pfm_torch.py), with the same
 * feature shapes, batch, latent sizes and threads.
 *
 * Argus: fitPfm on a dataset's training images (default mpdd_metal_plate, 54 images, 256 px); its
 * record holds each epoch's wall-clock seconds (features are extracted once before training and are
 * not counted). Inference: the model's scoring (mapping graph, per-level maps, upsampling, fusion, max)
 * on already extracted test features, at batch 1 and 8. PyTorch: the same on in-memory normalised
 * features of the same shapes. Rounds alternate (Argus, PyTorch, Argus, ...), so both see the same
 * machine load; the first epoch of each run is a warm-up and is not counted.
 *
 * PyTorch comes from ARGUS_TORCH_PYTHON (a Python executable; default python3). Without an importable
 * torch, the PyTorch rows are skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../src-main/datasets/loader.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { PEFM_DEFAULTS, PFM_DEFAULTS, pfmInput, type PfmConfig } from '../src-main/methods/pfm/defaults.ts';
import { type LevelFeatures, PfmFeatures } from '../src-main/methods/pfm/features.ts';
import { fitPfm, type PfmTrainingRecord } from '../src-main/methods/pfm/model.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'pfm-torch'),
  options: {
    method: { type: 'string', default: 'pfm' },
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate') },
    'max-train': { type: 'string' },
    size: { type: 'string', default: '256' },
    epochs: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    'test-images': { type: 'string', default: '16' },
  },
});
setSessionLogger(() => undefined);
const python = process.env['ARGUS_TORCH_PYTHON'] ?? 'python3';
const size = Number(values.size);
const epochs = Number(values.epochs);
const threads = Number(values.threads);
const name = values.method === 'pefm' ? 'pefm' : 'pfm';
const defaults = name === 'pefm' ? PEFM_DEFAULTS : PFM_DEFAULTS;
const dataset = scanMvtec(values.data!);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
const testImages = evenlySpaced(dataset.test, Number(values['test-images']));
const config: PfmConfig = { ...defaults, height: size, width: size, epochs: epochs + 1 };
const input = pfmInput(config);

interface Timing {
  readonly impl: string;
  readonly secondsPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly msBs1: number;
  readonly msBs8: number;
}

// test features once (backbones excluded from the inference timing, as in the PyTorch script)
const extractor = await PfmFeatures.open(config);
const testBatches: { f: LevelFeatures[]; n: number }[][] = [];
for (const bs of [1, 8]) {
  const list: { f: LevelFeatures[]; n: number }[] = [];
  for await (const b of loadBatches(testImages, input, { batchSize: bs })) list.push({ f: await extractor.extract(b.batch), n: b.batch.n });
  testBatches.push(list);
}

async function ours(): Promise<Timing> {
  const model = await fitPfm(name, defaults, imageBatches(loadBatches(train, input, { batchSize: 8 })), train.length, config);
  const t = model.training as PfmTrainingRecord;
  const timed = t.epochSeconds.slice(1);
  const ms = async (batches: { f: LevelFeatures[]; n: number }[]) => {
    await model.scoreFeatures(batches[0]!.f, batches[0]!.n); // warm-up
    const start = performance.now();
    for (const b of batches) await model.scoreFeatures(b.f, b.n);
    return (performance.now() - start) / testImages.length;
  };
  return {
    impl: `argus (onnxruntime, ${t.provider})`, secondsPerEpoch: timed.reduce((a, b) => a + b, 0) / timed.length, stepsPerEpoch: t.stepsPerEpoch,
    msBs1: await ms(testBatches[0]!), msBs8: await ms(testBatches[1]!),
  };
}

function torch(): Timing | string {
  const script = join(PROJECT_ROOT, 'bench', 'pfm_torch.py');
  const levels = extractor.levels;
  const args = [script, '--images', String(train.length), '--size', String(size), '--batch', String(config.batchSize), '--epochs', String(epochs), '--threads', String(threads),
    '--cs', levels.map((l) => l.cs).join(','), '--ct', levels.map((l) => l.ct).join(','), '--strides', levels.map((l) => size / l.gridH).join(','),
    '--latent', levels.map((l) => l.d).join(','), '--lr', config.levels.map((l) => config.lr[l - 1]).join(','), '--test-images', String(testImages.length),
    ...(config.positionEncoding ? ['--pe'] : [])];
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return `${python} could not be run (${r.error.message}); set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status === 3) return `${r.stderr.trim()}; set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status !== 0) throw new Error(`pfm_torch.py failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { impl: `pytorch ${j.torch}`, secondsPerEpoch: j.secondsPerEpoch, stepsPerEpoch: j.stepsPerEpoch, msBs1: j.msPerImageBs1, msBs8: j.msPerImageBs8 };
}

const runs: Timing[] = [];
const rows: string[][] = [];
let skipped: string | undefined;
for (let round = 1; round <= Number(values.rounds); round++) {
  process.stderr.write(`round ${round}: argus ...\n`);
  const a = await ours();
  runs.push(a);
  rows.push([String(round), a.impl, num(a.secondsPerEpoch), num(a.secondsPerEpoch / a.stepsPerEpoch), num(a.msBs1), num(a.msBs8)]);
  if (skipped) continue;
  process.stderr.write(`round ${round}: pytorch ...\n`);
  const t = torch();
  if (typeof t === 'string') {
    skipped = t;
    continue;
  }
  runs.push(t);
  rows.push([String(round), t.impl, num(t.secondsPerEpoch), num(t.secondsPerEpoch / t.stepsPerEpoch), num(t.msBs1), num(t.msBs8)]);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary = [...new Set(runs.map((r) => r.impl))].map((impl) => {
  const mine = runs.filter((r) => r.impl === impl);
  return [impl, String(mine.length), num(median(mine.map((r) => r.secondsPerEpoch))), num(median(mine.map((r) => r.msBs1))), num(median(mine.map((r) => r.msBs8)))];
});
const levels = extractor.levels.map((l) => `L${l.level} ${l.cs}→${l.ct} d${l.d} ${l.gridH}²`).join(', ');
console.log(`${name.toUpperCase()} mapping networks, ${dataset.name} at ${size} px, ${train.length} images, batch ${config.batchSize}, ${threads} threads (${levels}); ` +
  `${epochs} timed epochs per run after a warm-up epoch; inference on ${testImages.length} images' features; feature extraction excluded`);
console.log(formatTable(['round', 'implementation', 's/epoch', 's/step', 'ms/img bs1', 'ms/img bs8'], rows));
console.log('');
console.log(formatTable(['implementation', 'runs', 'median s/epoch', 'median ms/img bs1', 'median ms/img bs8'], summary));
if (skipped) console.log(`PyTorch skipped: ${skipped}`);
