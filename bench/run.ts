/**
 * `npm run bench`: per method, fit seconds (and training seconds per epoch for trained methods; for
 * CFLOW-AD per pass over the fibres, its sub-epoch), model milliseconds per image at batch 1 and 8,
 * and peak RSS, on a fixed dataset (magnetic_tile, the reference's 120-image training cap, 16 timed
 * images; ARGUS_BENCH_METHODS picks methods). Then F2PAD refinement per detector at 256 px: seconds
 * per image (median, worst) and peak RSS on MPDD's cut-paste set (bench/f2pad.ts; ARGUS_BENCH_F2PAD=0
 * skips it, ARGUS_BENCH_F2PAD_DETECTORS picks detectors). Then inspection throughput of a 500-image
 * folder through the station (bench/inspect.ts; ARGUS_BENCH_INSPECT=0 skips it). Each run is a
 * fresh process. Never part of the test run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import { formatTable, num } from '../src-main/cli/table.ts';

if (process.argv[2] === 'simplenet-torch') {
  // `npm run bench -- simplenet-torch [options]`: SimpleNet training time beside PyTorch
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'simplenet-torch.ts'), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv[2] === 'pfm-torch') {
  // `npm run bench -- pfm-torch [options]`: PFM / PEFM training and mapping time beside PyTorch
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'pfm-torch.ts'), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv[2] === 'cflow-torch') {
  // `npm run bench -- cflow-torch [options]`: CFLOW-AD training and inference time beside PyTorch
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'cflow-torch.ts'), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv[2] === 'fit-memory') {
  // `npm run bench -- fit-memory [--images 5000] [--size 256]`: PatchCore's fit memory on a large training set
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'fit-memory.ts'), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (['hard-set', 'scale', 'grid-scroll'].includes(process.argv[2] ?? '')) {
  // `npm run bench -- hard-set [options]`: what stretch, letterbox, auto and native tiles buy on non-square parts
  // `npm run bench -- scale [--images 100000]`: a big project's import rate, grid and result-list latency, peak RSS
  // `npm run bench -- grid-scroll [--images 5000]`: frame times of the Dataset grid scrolled in Chromium
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', `${process.argv[2]}.ts`), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const data = process.env['ARGUS_BENCH_DATA'] ?? join(PROJECT_ROOT, '..', 'shared', 'data', 'magnetic_tile');
const methods = (process.env['ARGUS_BENCH_METHODS'] ?? 'patchcore,padim,simplenet,pfm,pefm,cflow').split(',').filter(Boolean);
const rows: string[][] = [];
for (const method of methods) {
  process.stderr.write(`bench: ${method} on ${data} ...\n`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'method.ts'), '--method', method, '--data', data, '--max-train', '120', ...(method === 'patchcore' ? ['--also-approximate'] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const line of out.trim().split('\n').filter((l) => l.startsWith('{'))) {
    const r = JSON.parse(line);
    rows.push([r.method, r.dataset, String(r.nTrain), num(r.fitSeconds), r.trainSecondsPerEpoch === null ? '-' : num(r.trainSecondsPerEpoch), num(r.msPerImageBs1), num(r.msPerImageBs8), num(r.peakRssMb, 0), r.provider]);
  }
}
console.log(formatTable(['method', 'dataset', 'train', 'fit s', 'train s/epoch', 'ms/img bs1', 'ms/img bs8', 'peak RSS MB', 'provider'], rows));

// F2PAD refinement at 256 px per detector, on the seed's cut-paste set of MPDD (exact masks)
if (process.env['ARGUS_BENCH_F2PAD'] !== '0') {
  const f2padData = process.env['ARGUS_BENCH_F2PAD_DATA'] ?? join(PROJECT_ROOT, '..', 'shared', 'data', 'mpdd_metal_plate');
  const detectors = (process.env['ARGUS_BENCH_F2PAD_DETECTORS'] ?? 'patchcore,padim,cflow').split(',').filter(Boolean);
  const refineRows: string[][] = [];
  for (const detector of detectors) {
    process.stderr.write(`bench: F2PAD with ${detector} on ${f2padData} ...\n`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'f2pad.ts'), '--detector', detector, '--data', f2padData, '--count', process.env['ARGUS_BENCH_F2PAD_COUNT'] ?? '12'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    refineRows.push([`F2PAD + ${r.detector}`, r.dataset, String(r.images), num(r.secondsMedian, 2), num(r.secondsWorst, 2), num(r.detectorIou), num(r.f2padIou), num(r.peakRssMb, 0), r.provider]);
  }
  console.log('');
  console.log(formatTable(['refinement', 'dataset', 'images', 's/img median', 's/img worst', 'detector IoU', 'F2PAD IoU', 'peak RSS MB', 'provider'], refineRows));
}

// Inspection throughput through the station: import, features, scoring and result writes of a folder.
if (process.env['ARGUS_BENCH_INSPECT'] !== '0') {
  const images = process.env['ARGUS_BENCH_INSPECT_IMAGES'] ?? '500';
  const inspectRows: string[][] = [];
  for (const search of ['exact', 'approximate']) {
    process.stderr.write(`bench: inspection of a ${images}-image folder, ${search} search ...\n`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'inspect.ts'), '--data', data, '--images', images, '--search', search], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    inspectRows.push([`${r.method} (${search} search)`, r.dataset, String(r.results), num(r.seconds), num(r.imagesPerSecond, 2), num(r.importSeconds ?? NaN), num(r.scoringSeconds ?? NaN), num(r.peakRssMb, 0), r.provider]);
  }
  console.log('');
  console.log(formatTable(['inspection', 'dataset', 'images', 'total s', 'images/s', 'import s', 'scoring s', 'peak RSS MB', 'provider'], inspectRows));
}
