/**
 * `npx tsx bench/cflow-parity.ts --data <dir> [--seeds 0,1] [--epochs 4] [--sub-epochs 2]
 * [--max-train n] [--max-test n] [--config '{json}']`: Argus's CFLOW-AD beside the official method in
 * PyTorch (bench/cflow_torch.py --features), on the same data and the same extracted tap features, with
 * the same schedule, at several seeds (the flows' initialisation, rotations and shuffles differ between
 * the two, so one seed each says little: compare the spread).
 *
 * Argus: `evaluateDataset` at its defaults (fit on train/good less the held-out normal images, the map's
 * constants fixed on those, score test/). Official: every training image's tap features from Argus's
 * backbone (features and loader are shared, so only the flows, their training and the normalisation
 * differ), the official train.py loop (32-image batches, per-batch fibre shuffles) and its transductive
 * test normalisation (per-tap maximum over the whole test set); its maps are scored by the same metric
 * code. Needs a Python with torch (ARGUS_TORCH_PYTHON, default python3).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, pct } from '../src-main/cli/table.ts';
import { loadBatches } from '../src-main/datasets/loader.ts';
import { type DatasetImage, evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { Backbone } from '../src-main/features/extractor.ts';
import { CFLOW_DEFAULTS, type CflowConfig, cflowInput } from '../src-main/methods/cflow/defaults.ts';
import { tapGrids } from '../src-main/methods/cflow/model.ts';
import { evaluateDataset, type TestResult } from '../src-main/services/evaluation.ts';
import { officialMaps } from './official-maps.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate') },
    seeds: { type: 'string', default: '0' },
    epochs: { type: 'string' },
    'sub-epochs': { type: 'string' },
    'max-train': { type: 'string' },
    'max-test': { type: 'string' },
    config: { type: 'string', default: '{}' },
    only: { type: 'string', default: 'both' },
    'batch-images': { type: 'string', default: '32' },
  },
});
setSessionLogger(() => undefined);
const config: CflowConfig = {
  ...CFLOW_DEFAULTS, ...JSON.parse(values.config!),
  ...(values.epochs ? { epochs: Number(values.epochs) } : {}), ...(values['sub-epochs'] ? { subEpochs: Number(values['sub-epochs']) } : {}),
};
if (config.height !== config.width) throw new RangeError('the PyTorch side takes square inputs');
const seeds = values.seeds!.split(',').map(Number);
const dataset = scanMvtec(values.data!);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
const test = values['max-test'] ? evenlySpaced(dataset.test, Number(values['max-test'])) : dataset.test;
const input = cflowInput(config);
const rows: string[][] = [];
const row = (impl: string, seed: number, r: Pick<TestResult, 'imageAuroc' | 'pixelAuroc' | 'aupro'>, seconds: number) => {
  rows.push([impl, String(seed), pct(r.imageAuroc), pct(r.pixelAuroc), pct(r.aupro), seconds.toFixed(0)]);
  console.log(JSON.stringify({ impl, seed, dataset: dataset.name, epochs: config.epochs, subEpochs: config.subEpochs, imageAuroc: r.imageAuroc, pixelAuroc: r.pixelAuroc, aupro: r.aupro, trainSeconds: seconds }));
};

if (values.only !== 'torch') {
  for (const seed of seeds) {
    const r = await evaluateDataset(values.data!, {
      method: 'cflow', config: { ...config, seed },
      ...(values['max-train'] ? { maxTrain: Number(values['max-train']) } : {}),
      ...(values['max-test'] ? { maxTest: Number(values['max-test']) } : {}),
    });
    const t = r.model['training'] as { epochSeconds: number[] };
    row('argus', seed, r, t.epochSeconds.reduce((a, b) => a + b, 0));
  }
}

/** Writes each tap's features of `images` as float32 [n, C, H, W] to <split>_<tap index>.f32; returns n. */
async function writeFeatures(backbone: Backbone, images: readonly DatasetImage[], split: string, dir: string): Promise<number> {
  const files = config.taps.map((_, t) => openSync(join(dir, `${split}_${t}.f32`), 'w'));
  let n = 0;
  try {
    for await (const loaded of loadBatches(images, input, { batchSize: 8 })) {
      const out = await backbone.run(loaded.batch, config.taps);
      config.taps.forEach((tap, t) => {
        const x = out[tap]!.data as Float32Array;
        writeSync(files[t]!, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
      });
      n += loaded.batch.n;
    }
  } finally {
    files.forEach(closeSync);
  }
  return n;
}

if (values.only !== 'argus') {
  const dir = mkdtempSync(join(tmpdir(), 'cflow-parity-'));
  try {
    const backbone = await Backbone.open(config.backbone);
    const nTrain = await writeFeatures(backbone, train, 'train', dir);
    const nTest = await writeFeatures(backbone, test, 'test', dir);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({
      nTrain, nTest, taps: tapGrids(backbone, config), size: config.height, blocks: config.blocks, condition: config.condition,
      fibersPerStep: config.fibersPerStep, lr: config.lr, epochs: config.epochs, subEpochs: config.subEpochs, warmupEpochs: config.warmupEpochs,
      batchImages: Number(values['batch-images']),
    }));
    for (const seed of seeds) {
      const { result, trainSeconds } = await officialMaps('cflow_torch.py', dir, ['--seed', String(seed), '--threads', '2', '--blocks', String(config.blocks)], test, input);
      row('official (pytorch)', seed, result, trainSeconds);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`cflow on ${dataset.name}: ${train.length} train, ${test.length} test images, ${config.height} px, ${config.epochs} × ${config.subEpochs} sub-epochs, ${config.blocks} blocks`);
console.log(formatTable(['implementation', 'seed', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'train s'], rows));
