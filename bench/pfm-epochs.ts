/**
 * `npx tsx bench/pfm-epochs.ts --method pfm --data <dir> --epochs 1,2,4,8`: the curve of metrics against
 * training epochs that the default epoch count was chosen from. One seeded training, evaluated after
 * each listed epoch: each evaluation resumes the same checkpoint (a resumed run equals the uninterrupted
 * one), so the curve costs one training of the largest epoch count plus the evaluations. One JSON line
 * per point on stdout, a table at the end.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, num, pct } from '../src-main/cli/table.ts';
import { setSessionLogger } from '../src-main/engine/session.ts';
import { evaluateDataset } from '../src-main/services/evaluation.ts';

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'pfm' },
    data: { type: 'string' },
    epochs: { type: 'string', default: '1,2,4,8' },
    'max-train': { type: 'string' },
    'max-test': { type: 'string' },
    config: { type: 'string', default: '{}' },
  },
});
setSessionLogger(() => undefined);
const checkpoint = join(tmpdir(), `pfm-epochs-${process.pid}.ckpt`);
const rows: string[][] = [];
let trainSeconds = 0;
try {
  for (const epochs of values.epochs!.split(',').map(Number)) {
    const r = await evaluateDataset(values.data!, {
      method: values.method!,
      config: { ...JSON.parse(values.config!), epochs, checkpoint },
      ...(values['max-train'] ? { maxTrain: Number(values['max-train']) } : {}),
      ...(values['max-test'] ? { maxTest: Number(values['max-test']) } : {}),
    });
    const t = r.model['training'] as { epochSeconds: number[]; epochLosses: number[] };
    trainSeconds += t.epochSeconds.reduce((a, b) => a + b, 0);
    const point = { dataset: r.dataset, method: r.method, epochs, imageAuroc: r.imageAuroc, pixelAuroc: r.pixelAuroc, aupro: r.aupro, trainSeconds, loss: t.epochLosses.at(-1) ?? null };
    console.log(JSON.stringify(point));
    rows.push([r.dataset, r.method, String(epochs), pct(r.imageAuroc), pct(r.pixelAuroc), pct(r.aupro), num(trainSeconds), point.loss === null ? '-' : point.loss.toFixed(4)]);
  }
} finally {
  rmSync(checkpoint, { force: true });
}
console.log(formatTable(['dataset', 'method', 'epochs', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'train s (cumulative)', 'last epoch loss'], rows));
