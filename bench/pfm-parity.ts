/**
 * `npx tsx bench/pfm-parity.ts --method pfm|pefm --data <dir> [--epochs 10] [--seeds 888,1]
 * [--max-train n] [--max-test n] [--config '{json}']`: Argus's PFM / PEFM beside the official method in
 * PyTorch (bench/pfm_torch.py --features), on the same data, the same extracted features and the same
 * settings, each at several seeds (the mapping networks' initialisation and shuffle differ between the
 * two, so one seed each says little: compare the spread).
 *
 * Argus: `evaluateDataset` (fit on train/good, score test/). PyTorch: the L2-normalised features of the
 * same images from Argus's backbones (features/ and the loader are shared, so only the mapping, its
 * training and the map fusion differ), trained with the official loop; its maps are scored by the same
 * metric code. Needs a Python with torch (ARGUS_TORCH_PYTHON, default python3). Argus runs in the official
 * configuration (bnStatistics 'running', normalise 'none') unless --config overrides it.
 *
 * `--same-start`: the official loop starts from Argus's initial weights of the same seed and reads the
 * images in Argus's epoch orders, so each seed is a paired comparison: what differs then is only the
 * implementation (its arithmetic), not the draw of the initialisation and the shuffle.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, pct } from '../src-main/cli/table.ts';
import { evenlySpaced, scanMvtec, type DatasetImage } from '../src-main/datasets/mvtec.ts';
import { loadBatches } from '../src-main/datasets/loader.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { PEFM_DEFAULTS, PFM_DEFAULTS, pfmInput, type PfmConfig } from '../src-main/methods/pfm/defaults.ts';
import { PfmFeatures } from '../src-main/methods/pfm/features.ts';
import { epochOrder, mappingSpec } from '../src-main/methods/pfm/model.ts';
import { initialWeights } from '../src-main/methods/pfm/network.ts';
import { evaluateDataset, type TestResult } from '../src-main/services/evaluation.ts';
import { officialMaps } from './official-maps.ts';

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'pfm' },
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate') },
    epochs: { type: 'string', default: '10' },
    seeds: { type: 'string', default: '888' },
    'max-train': { type: 'string' },
    'max-test': { type: 'string' },
    config: { type: 'string', default: '{}' },
    only: { type: 'string', default: 'both' },
    'statistic-var': { type: 'boolean', default: false },
    'same-start': { type: 'boolean', default: false },
  },
});
setSessionLogger(() => undefined);
const name = values.method === 'pefm' ? 'pefm' : 'pfm';
// the official configuration (running BatchNorm averages, no error scaling) unless --config says otherwise
const config: PfmConfig = {
  ...(name === 'pefm' ? PEFM_DEFAULTS : PFM_DEFAULTS), bnStatistics: 'running', normalise: 'none', ...JSON.parse(values.config!), epochs: Number(values.epochs),
};
if (config.direction !== 'both') throw new RangeError('the official code maps both directions; parity needs direction both');
if (config.height !== config.width) throw new RangeError('the PyTorch side takes square inputs');
const seeds = values.seeds!.split(',').map(Number);
const dataset = scanMvtec(values.data!);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
const test = values['max-test'] ? evenlySpaced(dataset.test, Number(values['max-test'])) : dataset.test;
const input = pfmInput(config);
const rows: string[][] = [];
const row = (impl: string, seed: number, r: Pick<TestResult, 'imageAuroc' | 'pixelAuroc' | 'aupro'>, seconds: number) => {
  rows.push([impl, String(seed), pct(r.imageAuroc), pct(r.pixelAuroc), pct(r.aupro), seconds.toFixed(0)]);
  console.log(JSON.stringify({ impl, seed, dataset: dataset.name, method: name, epochs: config.epochs, imageAuroc: r.imageAuroc, pixelAuroc: r.pixelAuroc, aupro: r.aupro, trainSeconds: seconds }));
};

if (values.only !== 'torch') {
  for (const seed of seeds) {
    const r = await evaluateDataset(values.data!, {
      method: name, config: { ...config, seed },
      ...(values['max-train'] ? { maxTrain: Number(values['max-train']) } : {}),
      ...(values['max-test'] ? { maxTest: Number(values['max-test']) } : {}),
    });
    const t = r.model['training'] as { epochSeconds: number[]; epochLosses: number[] };
    // the same lines as pfm_torch.py prints, so the two loss curves can be read side by side
    t.epochLosses.forEach((loss, e) => console.error(`epoch ${e + 1}: loss ${loss.toFixed(5)}`));
    row('argus', seed, r, t.epochSeconds.reduce((a, b) => a + b, 0));
  }
}

/** Writes each level's normalised S and T features of `images` as float32 [n, H, W, C]; returns n. */
async function writeFeatures(features: PfmFeatures, images: readonly DatasetImage[], split: string, dir: string): Promise<number> {
  const files = features.levels.map((l) => ({ s: openSync(join(dir, `${split}_s${l.level}.f32`), 'w'), t: openSync(join(dir, `${split}_t${l.level}.f32`), 'w') }));
  let n = 0;
  try {
    for await (const loaded of loadBatches(images, input, { batchSize: 8 })) {
      const f = await features.extract(loaded.batch);
      f.forEach((x, i) => {
        writeSync(files[i]!.s, new Uint8Array(x.s.buffer, x.s.byteOffset, x.s.byteLength));
        writeSync(files[i]!.t, new Uint8Array(x.t.buffer, x.t.byteOffset, x.t.byteLength));
      });
      n += loaded.batch.n;
    }
  } finally {
    for (const f of files) [f.s, f.t].forEach(closeSync);
  }
  return n;
}

/**
 * Argus's initial weights of `seed` (one float32 file per tensor, named as Argus names them) and its
 * epoch orders, in dir/start-<seed>/ with start.json listing them; returns that folder.
 */
function writeStart(dir: string, seed: number, n: number): string {
  const folder = join(dir, `start-${seed}`);
  mkdirSync(folder);
  const weights: Record<string, number[]> = {};
  for (const [name, t] of initialWeights(mappingSpec({ ...config, seed }), seed)) {
    writeFileSync(join(folder, `${name}.f32`), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    weights[name] = [...t.dims];
  }
  const orders = Array.from({ length: config.epochs }, (_, e) => epochOrder(seed, e, n));
  writeFileSync(join(folder, 'start.json'), JSON.stringify({ weights, orders }));
  return folder;
}

if (values.only !== 'argus') {
  const dir = mkdtempSync(join(tmpdir(), 'pfm-parity-'));
  try {
    const features = await PfmFeatures.open(config);
    const nTrain = await writeFeatures(features, train, 'train', dir);
    const nTest = await writeFeatures(features, test, 'test', dir);
    const levels = features.levels.map((l) => ({ ...l, lr: config.lr[l.level - 1]! }));
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({
      nTrain, nTest, levels, size: config.height, batchSize: config.batchSize, epochs: config.epochs, positionEncoding: config.positionEncoding, fusion: config.fusion,
    }));
    for (const seed of seeds) {
      const start = values['same-start'] ? ['--init', writeStart(dir, seed, nTrain)] : [];
      const { result, trainSeconds } = await officialMaps('pfm_torch.py', dir, ['--seed', String(seed), '--threads', '2', ...start, ...(values['statistic-var'] ? ['--statistic-var'] : [])], test, input);
      row(values['same-start'] ? 'official, Argus\'s start' : 'official (pytorch)', seed, result, trainSeconds);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${name} on ${dataset.name}: ${train.length} train, ${test.length} test images, ${config.height} px, ${config.epochs} epochs, batch ${config.batchSize}, latent ${config.latent.join('/')}`);
console.log(formatTable(['implementation', 'seed', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'train s'], rows));
