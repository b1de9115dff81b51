/**
 * A big project for the scale benches (bench/scale.ts, bench/grid-scroll.ts): `images` generated PNGs
 * (test/fixtures/synthetic-images.ts, MVTec layout: train/good, test/good, test/scratch, test/dent)
 * imported through the station's import job, then a model with one inspection run scoring every image
 * (synthetic results, no maps) and reviewer decisions on 1 % of them, written through the store.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CliStation } from '../src-main/cli/station-client.ts';
import { decisions, images, models, results, runs } from '../src-main/store/index.ts';
import { writeSyntheticDataset } from '../test/fixtures/synthetic-images.ts';
import { lcg } from '../test/fixtures/lcg.ts';

export interface BigProject {
  readonly station: CliStation;
  readonly productId: number;
  readonly modelId: number;
  readonly runId: number;
  readonly imported: number;
  readonly generateSeconds: number;
  readonly importSeconds: number;
  readonly resultsSeconds: number;
}

const log = (text: string) => process.stderr.write(`${text}\n`);

export async function buildBigProject(work: string, count: number): Promise<BigProject> {
  let t = performance.now();
  const data = await writeSyntheticDataset(join(work, 'data'), { images: count }, (done) => {
    if (done % 10_000 < 256) log(`  generated ${done} / ${count} images`);
  });
  const generateSeconds = (performance.now() - t) / 1000;

  const station = new CliStation();
  await station.call('project.create', { dir: join(work, 'project'), name: 'scale' });
  const productId = (await station.call('products.create', { name: `synthetic ${count}` })).id;
  t = performance.now();
  const job = await station.follow(await station.call('images.import', { productId, paths: [data], layout: 'mvtec' }), 'import');
  const importSeconds = (performance.now() - t) / 1000;
  if (job.status !== 'succeeded') throw new Error(`import ${job.status}: ${job.error}`);
  const imported = (job.result as { imported: number }).imported;

  t = performance.now();
  const p = station.station.project();
  const modelId = models.add(p, {
    productId, method: 'patchcore', backboneId: 'synthetic', backboneSha256: '0'.repeat(64), config: {}, dataManifestSha256: '0'.repeat(64), blobs: { model: Buffer.from('synthetic') },
  }).id;
  const runId = runs.create(p, { productId, modelId, name: 'Lot scale', source: data }).id;
  const ids = images.list(p, { productId }).map((i) => i.id);
  const rand = lcg(11);
  const BATCH = 5000;
  const resultIds: number[] = [];
  for (let start = 0; start < ids.length; start += BATCH) {
    resultIds.push(...results.addMany(p, ids.slice(start, start + BATCH).map((imageId) => {
      const score = rand() * 4;
      return { imageId, modelId, runId, score, verdict: score >= 3 ? 'fail' as const : score >= 2.5 ? 'review' as const : 'pass' as const };
    })));
  }
  runs.finish(p, runId);
  for (let i = 0; i < resultIds.length; i += 100) decisions.record(p, { resultId: resultIds[i]!, verdict: i % 200 === 0 ? 'fail' : 'pass', by: 'bench' });
  const resultsSeconds = (performance.now() - t) / 1000;
  return { station, productId, modelId, runId, imported, generateSeconds, importSeconds, resultsSeconds };
}
