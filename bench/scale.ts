/**
 * `npm run bench -- scale [--images 100000]`: a project of that many generated images (bench/big-project.ts)
 * and how quickly it answers: import images/s through the import job, the dataset grid's pages (first,
 * deep, filtered by label + defect type, by score range, by decision; with a keyset page beside the deep
 * offset page for comparison), the facet counts, the result lists (worst first, deep, review queue), the
 * run list (polled every 2 s by the Inspect screen) and peak RSS. Each latency is the median of 7 calls
 * through the station's API (validation and handler included) after one warm-up call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ApiInput, ApiMethod } from '../src-main/api/contract.ts';
import { formatTable, num } from '../src-main/cli/table.ts';
import { buildBigProject } from './big-project.ts';

const { values } = parseArgs({ options: { images: { type: 'string', default: '100000' }, keep: { type: 'boolean', default: false } } });
const count = Number(values.images);
if (!Number.isInteger(count) || count < 200) throw new RangeError('--images must be a whole number of at least 200');

const work = mkdtempSync(join(tmpdir(), 'argus-scale-'));
const big = await buildBigProject(work, count);
const { station, productId, modelId, runId } = big;

const REPEATS = 7;
async function latencyMs<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<number> {
  await station.call(method, input);
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t = performance.now();
    await station.call(method, input);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(REPEATS / 2)]!;
}

function sqlMs(sql: string, params: Record<string, unknown>): number {
  const stmt = station.station.project().db.prepare(sql);
  stmt.all(params);
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t = performance.now();
    stmt.all(params);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(REPEATS / 2)]!;
}

const PAGE = 120;
const total = big.imported;
const deepOffset = Math.max(0, total - PAGE);
const lastIds = (await station.call('images.list', { productId, offset: deepOffset - 1, limit: 1 })).items;
const rows: string[][] = [];
const row = (what: string, value: number, unit: string, digits = 1) => rows.push([what, num(value, digits), unit]);

row('images generated', count, 'images', 0);
row('generation', count / big.generateSeconds, 'images/s');
row('import (job: read, decode, hash, store)', big.imported / big.importSeconds, 'images/s');
row(`synthetic results written (${total} + decisions)`, big.resultsSeconds, 's', 2);
row(`grid page, first (${PAGE})`, await latencyMs('images.list', { productId, offset: 0, limit: PAGE }), 'ms', 2);
row(`grid page, deep (offset ${deepOffset})`, await latencyMs('images.list', { productId, offset: deepOffset, limit: PAGE }), 'ms', 2);
row('grid page, deep, keyset SQL (for comparison)', sqlMs('SELECT * FROM images WHERE product_id = @productId AND id > @after ORDER BY id LIMIT 120', { productId, after: lastIds[0]?.id ?? 0 }), 'ms', 2);
row('grid page, filtered: defective + scratch', await latencyMs('images.list', { productId, verdict: 'defective', defectType: 'scratch', offset: 0, limit: PAGE }), 'ms', 2);
const scoreTotal = (await station.call('images.list', { productId, modelId, scoreMin: 3, limit: 1 })).total;
row('grid page, filtered: score >= 3 (first)', await latencyMs('images.list', { productId, modelId, scoreMin: 3, offset: 0, limit: PAGE }), 'ms', 2);
row('grid page, filtered: score >= 3 (deep)', await latencyMs('images.list', { productId, modelId, scoreMin: 3, offset: Math.max(0, scoreTotal - PAGE), limit: PAGE }), 'ms', 2);
row('grid page, filtered: decision fail', await latencyMs('images.list', { productId, decision: 'fail', offset: 0, limit: PAGE }), 'ms', 2);
row('grid counts (images.counts)', await latencyMs('images.counts', { productId }), 'ms', 2);
row('products.list (image counts)', await latencyMs('products.list', {}), 'ms', 2);
const resultTotal = (await station.call('results.list', { modelId, limit: 1 })).total;
row('result list, worst first (50)', await latencyMs('results.list', { modelId, runId, limit: 50 }), 'ms', 2);
row('result list, deep page (50)', await latencyMs('results.list', { modelId, runId, offset: Math.max(0, resultTotal - 50), limit: 50 }), 'ms', 2);
row('result list, review queue awaiting', await latencyMs('results.list', { modelId, runId, queue: 'awaiting', limit: 50 }), 'ms', 2);
row(`runs.list (counts over ${resultTotal} results)`, await latencyMs('runs.list', { productId }), 'ms', 2);
const peakRssMb = process.resourceUsage().maxRSS / 1024;
row('peak RSS', peakRssMb, 'MB', 0);

console.log(formatTable(['scale', 'value', 'unit'], rows));
console.log(JSON.stringify(Object.fromEntries(rows.map(([k, v, u]) => [`${k} [${u}]`, Number(v)]))));
await station.close();
if (values.keep) process.stderr.write(`kept ${work}\n`);
else rmSync(work, { recursive: true, force: true });
