/**
 * `npm run bench -- simplenet-torch` (or `npx tsx bench/simplenet-torch.ts`): SimpleNet training seconds
 * per epoch, Argus's ONNX Runtime trainer beside a PyTorch implementation of the same step
 * (bench/simplenet_torch.py), on the same number of images, patch rows per step and threads.
 *
 * Argus: fitSimpleNet on a dataset's training images (default mpdd_metal_plate, 54 images, 256 px);
 * its record holds each epoch's wall-clock seconds (patch features are extracted once before training
 * and are not counted; noise generation is). PyTorch: the same adaptor / noise / discriminator / loss /
 * optimisers on in-memory features of the same shape, twice: the official formulation, and the same
 * values computed with Argus's re-association (W1 Wa folded, W1 ε apart; see graphs.ts), which does
 * about half the multiply-adds. Rounds alternate (Argus, PyTorch, PyTorch re-associated, Argus, ...),
 * so all see the same machine load; the first epoch of each run is a warm-up and is not counted.
 *
 * PyTorch comes from ARGUS_TORCH_PYTHON (a Python executable; default python3). Without an importable
 * torch, the PyTorch column is skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { imageBatches, loadBatches } from '../src-main/datasets/loader.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from '../src-main/methods/simplenet/defaults.ts';
import { fitSimpleNet, type TrainingRecord } from '../src-main/methods/simplenet/model.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'simplenet-torch'),
  options: {
    data: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate') },
    'max-train': { type: 'string' },
    size: { type: 'string', default: '256' },
    epochs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    'steps-per-call': { type: 'string', default: String(SIMPLENET_DEFAULTS.stepsPerCall) },
  },
});
setSessionLogger(() => undefined);
const python = process.env['ARGUS_TORCH_PYTHON'] ?? 'python3';
const size = Number(values.size);
const epochs = Number(values.epochs);
const threads = Number(values.threads);
const dataset = scanMvtec(values.data!);
const train = values['max-train'] ? evenlySpaced(dataset.train, Number(values['max-train'])) : dataset.train;
// ONNX Runtime's CPU provider uses one intra-op thread per physical core; torch gets the same count
const config: SimpleNetConfig = { ...SIMPLENET_DEFAULTS, height: size, width: size, epochs: epochs + 1, stepsPerCall: Number(values['steps-per-call']) };

interface Timing {
  readonly impl: string;
  readonly secondsPerEpoch: number;
  readonly secondsPerStep: number;
  readonly stepsPerEpoch: number;
  readonly rowsPerStep: number;
}

async function ours(): Promise<Timing & { cells: number }> {
  const input = simplenetInput(config);
  const model = await fitSimpleNet(imageBatches(loadBatches(train, input, { batchSize: 8 })), train.length, config);
  const t = model.training as TrainingRecord;
  const timed = t.epochSeconds.slice(1);
  const perEpoch = timed.reduce((a, b) => a + b, 0) / timed.length;
  const cells = t.patchesPerImage ?? (size / 8) ** 2;
  return { impl: `argus (onnxruntime, ${t.provider})`, secondsPerEpoch: perEpoch, secondsPerStep: perEpoch / t.stepsPerEpoch, stepsPerEpoch: t.stepsPerEpoch, rowsPerStep: config.batchSize * cells, cells };
}

function torch(cells: number, form: 'official' | 'reassociated'): Timing | string {
  const script = join(PROJECT_ROOT, 'bench', 'simplenet_torch.py');
  const args = [script, '--images', String(train.length), '--cells', String(cells), '--batch', String(config.batchSize), '--dim', String(config.targetDim),
    '--hidden', String(config.hidden), '--epochs', String(epochs), '--threads', String(threads), '--form', form];
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return `${python} could not be run (${r.error.message}); set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status === 3) return `${r.stderr.trim()}; set ARGUS_TORCH_PYTHON to a Python with torch`;
  if (r.status !== 0) throw new Error(`simplenet_torch.py failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { impl: `pytorch ${j.torch}, ${form} form`, secondsPerEpoch: j.secondsPerEpoch, secondsPerStep: j.secondsPerStep, stepsPerEpoch: j.stepsPerEpoch, rowsPerStep: config.batchSize * cells };
}

const runs: Timing[] = [];
const rows: string[][] = [];
const record = (round: number, t: Timing) => {
  runs.push(t);
  rows.push([String(round), t.impl, String(train.length), String(t.rowsPerStep), String(t.stepsPerEpoch), num(t.secondsPerEpoch), num(t.secondsPerStep)]);
};
let skipped: string | undefined;
for (let round = 1; round <= Number(values.rounds); round++) {
  process.stderr.write(`round ${round}: argus ...\n`);
  const a = await ours();
  record(round, a);
  for (const form of ['official', 'reassociated'] as const) {
    if (skipped) break;
    process.stderr.write(`round ${round}: pytorch (${form}) ...\n`);
    const t = torch(a.cells, form);
    if (typeof t === 'string') skipped = t;
    else record(round, t);
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary = [...new Set(runs.map((r) => r.impl))].map((impl) => {
  const mine = runs.filter((r) => r.impl === impl).map((r) => r.secondsPerEpoch);
  const steps = runs.find((r) => r.impl === impl)!.stepsPerEpoch;
  return [impl, String(mine.length), num(median(mine)), num(Math.min(...mine)), num(median(mine) / steps)];
});
console.log(`SimpleNet training, ${dataset.name} at ${size} px, ${train.length} images, batch ${config.batchSize}, ${threads} threads; ${epochs} timed epochs per run (after one warm-up epoch), feature extraction excluded`);
console.log(formatTable(['round', 'implementation', 'images', 'rows/step', 'steps/epoch', 's/epoch', 's/step'], rows));
console.log('');
console.log(formatTable(['implementation', 'runs', 'median s/epoch', 'best s/epoch', 'median s/step'], summary));
if (skipped) console.log(`PyTorch skipped: ${skipped}`);
