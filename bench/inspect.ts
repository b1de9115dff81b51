/**
 * Inspection throughput, end to end through the station (one process, so peak RSS includes the
 * worker threads): a project is created, trained with PatchCore on 120 normal images, then a folder
 * of 500 images streams through import (decode, hash, store), features and scoring, results and maps
 * committed batch by batch. Prints one JSON line; `npm run bench` tabulates it.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { evenlySpaced, scanMvtec } from '../src-main/datasets/mvtec.ts';
import { CliStation } from '../src-main/cli/station-client.ts';
import { activeProvider, setSessionLogger } from '../src-main/engine/session.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, images: { type: 'string', default: '500' }, method: { type: 'string', default: 'patchcore' }, search: { type: 'string', default: 'exact' } } });
setSessionLogger(() => undefined);
const dataset = scanMvtec(values.data!);
const train = evenlySpaced(dataset.train, 120);
const used = new Set(train.map((t) => t.path));
const pool = [...dataset.train.filter((t) => !used.has(t.path)), ...dataset.test];
const count = Number(values.images);
if (pool.length < count) throw new RangeError(`${dataset.name} has only ${pool.length} images besides the training ones`);
const work = mkdtempSync(join(tmpdir(), 'argus-bench-'));
const trainDir = join(work, 'train');
const folder = join(work, 'folder');
mkdirSync(trainDir);
mkdirSync(folder);
train.forEach((t, i) => copyFileSync(t.path, join(trainDir, `${i}_${t.path.split('/').pop()}`)));
evenlySpaced(pool, count).forEach((t, i) => copyFileSync(t.path, join(folder, `${String(i).padStart(4, '0')}_${t.path.split('/').pop()}`)));

const s = new CliStation();
const phases = new Map<string, { start: number; end: number }>();
s.station.subscribe((e) => {
  if (e.type !== 'progress') return;
  const now = performance.now();
  const p = phases.get(e.progress.step) ?? { start: now, end: now };
  p.end = now;
  phases.set(e.progress.step, p);
});
try {
  await s.call('project.create', { dir: join(work, 'project'), name: 'bench' });
  const product = await s.call('products.create', { name: 'bench' });
  await s.follow(await s.call('images.import', { productId: product.id, paths: [trainDir], split: 'train', verdict: 'good' }), 'import');
  const fitStart = performance.now();
  const trained = await s.follow(await s.call('models.train', { productId: product.id, method: values.method as 'patchcore', ...(values.method === 'patchcore' ? { config: { search: values.search } } : {}) }), 'train');
  if (trained.status !== 'succeeded') throw new Error(`training ${trained.status}: ${trained.error}`);
  const fitSeconds = (performance.now() - fitStart) / 1000;
  const [model] = await s.call('models.list', { productId: product.id });
  phases.clear();
  const start = performance.now();
  const job = await s.follow(await s.call('inspection.run', { modelId: model!.id, folder }), 'inspect');
  const seconds = (performance.now() - start) / 1000;
  if (job.status !== 'succeeded') throw new Error(`inspection ${job.status}: ${job.error}`);
  const page = await s.call('results.list', { modelId: model!.id, limit: 1 });
  const span = (step: string) => { const p = phases.get(step); return p ? (p.end - p.start) / 1000 : null; };
  console.log(JSON.stringify({
    method: values.method, dataset: dataset.name, input: model!.config['inputChoice'] ?? `${model!.config['resize']} ${model!.config['height']}x${model!.config['width']}`,
    images: count, results: page.total, fitSeconds,
    seconds, imagesPerSecond: page.total / seconds, importSeconds: span('import'), scoringSeconds: span('inspect'),
    peakRssMb: process.resourceUsage().maxRSS / 1024, provider: activeProvider(),
  }));
} finally {
  await s.close();
  rmSync(work, { recursive: true, force: true });
}
