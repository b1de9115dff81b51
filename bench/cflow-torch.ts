/**
 * `npm run bench -- cflow-torch` (or `npx tsx bench/cflow-torch.ts`): CFLOW-AD training seconds per
 * sub-epoch and inference milliseconds per image (flows + map, backbone excluded), Argus beside a
 * PyTorch implementation of the official decoders (bench/cflow_torch.py), on the same fibre counts,
 * 256 fibres per step, same blocks and threads.
 *
 * Argus: fitCflow on a dataset's training images (default mpdd_metal_plate, 256 px) for 2 sub-epochs;
 * the second one is timed (the first pays first-run allocations). Inference: scoreFibres on the test
 * images' fibres (extracted once), at batch 1 and 8. PyTorch: random fibres of the same counts, a few
 * warm-up steps, then timed sub-epochs; the official test loop for the inference. Rounds alternate
 * (Argus, PyTorch, Argus, ...) so both see the same machine load.
 *
 * PyTorch comes from ARGUS_TORCH_PYTHON (a Python executable; default python3). Without an importable
 * torch, the PyTorch column is skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../src-main/datasets/loader.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { Backbone } from '../src-main/features/extractor.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { CFLOW_DEFAULTS, cflowInput, type CflowConfig } from '../src-main/methods/cflow/defaults.ts';
import { type CflowModel, fitCflow, toRows } from '../src-main/methods/cflow/model.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'cflow-torch'),
  options: {
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate') },
    'max-train': { type: 'string' },
    size: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    blocks: { type: 'string', default: String(CFLOW_DEFAULTS.blocks) },
    'steps-per-call': { type: 'string', default: String(CFLOW_DEFAULTS.stepsPerCall) },
  },
});
setSessionLogger(() => undefined);
const python = process.env['ARGUS_TORCH_PYTHON'] ?? 'python3';
const size = Number(values.size);
const dataset = scanMvtec(values.data!);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
const timedImages = 8;
const config: CflowConfig = { ...CFLOW_DEFAULTS, height: size, width: size, epochs: 2, subEpochs: 1, blocks: Number(values.blocks), stepsPerCall: Number(values['steps-per-call']) };

interface Timing {
  readonly impl: string;
  readonly secondsPerSubEpoch: number;
  readonly msPerImageBs1: number;
  readonly msPerImageBatch: number;
}

async function testRows(model: CflowModel): Promise<Float32Array[]> {
  const backbone = await Backbone.open(config.backbone);
  const b = (await loadBatches(evenlySpaced(dataset.test, timedImages), cflowInput(config), { batchSize: timedImages }).next()).value!.batch;
  const out = await backbone.run(b, model.grids.map((g) => g.name));
  return model.grids.map((g) => toRows(out[g.name]!.data as Float32Array, b.n, g.channels, g.gridH * g.gridW));
}

async function ours(): Promise<Timing & { fibres: number[] }> {
  const model = await fitCflow(imageBatches(loadBatches(train, cflowInput(config), { batchSize: 8 })), train.length, config);
  const t = model.training!;
  const rows = await testRows(model);
  const per = model.grids.map((g, i) => rows[i]!.length / timedImages);
  const one = (k: number) => model.grids.map((_, i) => rows[i]!.subarray(k * per[i]!, (k + 1) * per[i]!));
  await model.scoreFibres(one(0), 1);
  let start = performance.now();
  for (let k = 0; k < timedImages; k++) await model.scoreFibres(one(k), 1);
  const bs1 = (performance.now() - start) / timedImages;
  start = performance.now();
  await model.scoreFibres(rows, timedImages);
  const bs8 = (performance.now() - start) / timedImages;
  const fitted = t.images - t.heldOut.length;
  return {
    impl: `argus (onnxruntime, ${t.provider}, ${config.stepsPerCall} step/call)`, secondsPerSubEpoch: t.epochSeconds[1]!, msPerImageBs1: bs1, msPerImageBatch: bs8,
    fibres: model.grids.map((g) => fitted * g.gridH * g.gridW),
  };
}

function torch(fibres: number[]): Timing | string {
  const grids = CFLOW_DEFAULTS.taps.map((_, i) => size / [8, 16, 32][i]!);
  const args = [join(PROJECT_ROOT, 'bench', 'cflow_torch.py'), '--fibres', fibres.join(','), '--grids', grids.join(','), '--size', String(size),
    '--blocks', String(config.blocks), '--threads', values.threads!, '--images', String(timedImages)];
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return `${python} could not be run (${r.error.message}); set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status === 3) return `${r.stderr.trim()}; set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status !== 0) throw new Error(`cflow_torch.py failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { impl: `pytorch ${j.torch} (official decoders, one Adam)`, secondsPerSubEpoch: j.secondsPerSubEpoch, msPerImageBs1: j.msPerImageBs1, msPerImageBatch: j.msPerImageBatch };
}

const rows: string[][] = [];
const runs: Timing[] = [];
let skipped: string | undefined;
let fibres: number[] = [];
for (let round = 1; round <= Number(values.rounds); round++) {
  process.stderr.write(`round ${round}: argus ...\n`);
  const a = await ours();
  fibres = a.fibres;
  runs.push(a);
  rows.push([String(round), a.impl, num(a.secondsPerSubEpoch), num(a.msPerImageBs1), num(a.msPerImageBatch)]);
  if (skipped) continue;
  process.stderr.write(`round ${round}: pytorch ...\n`);
  const t = torch(a.fibres);
  if (typeof t === 'string') skipped = t;
  else {
    runs.push(t);
    rows.push([String(round), t.impl, num(t.secondsPerSubEpoch), num(t.msPerImageBs1), num(t.msPerImageBatch)]);
  }
}
console.log(`CFLOW-AD, ${dataset.name} at ${size} px: fibres per sub-epoch ${fibres.join(' / ')} (taps ${config.taps.join(', ')}), ${config.blocks} blocks, 256 fibres per step, ${values.threads} threads; inference = flows + map for ${timedImages} test images, backbone excluded`);
console.log(formatTable(['round', 'implementation', 's/sub-epoch', 'ms/img bs1', `ms/img bs${timedImages}`], rows));
if (skipped) console.log(`PyTorch skipped: ${skipped}`);
