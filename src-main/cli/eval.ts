/** `argus eval`: fit on train/good, score test/, print the metrics table. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateDataset, type EvaluationResult } from '../services/evaluation.ts';
import { PRECISIONS } from '../engine/onnx/quantise.ts';
import type { Interval } from '../metrics/index.ts';
import { PROJECT_ROOT } from '../features/backbones.ts';
import { METHOD_NAMES } from '../methods/index.ts';
import type { FittedModel } from '../methods/method.ts';
import { writeModelFile } from '../methods/persistence.ts';
import { INPUT_OPTIONS, INPUT_USAGE, inputConfig } from './input-options.ts';
import { createProgress } from './progress.ts';
import { formatTable, num, pct } from './table.ts';

export const EVAL_USAGE = `argus eval [--data <dir>]... [--method ${METHOD_NAMES.join('|')}] [options]

Fits on <dir>/train/good and scores <dir>/test (MVTec layout); prints image AUROC, pixel AUROC,
AUPRO, F1-max, fit seconds and ms per image, one row per dataset plus the mean.
Without --data: ../shared/data/magnetic_tile with the reference's 120-image training cap.

  --data <dir>          dataset folder (repeatable)
  --method <name>       ${METHOD_NAMES.join(' | ')} (default patchcore)
  --backbone <id>       backbone id from models/manifest.json (default mobilenet_v2_features); the
                        method's taps are read at the same strides (MobileNetV1: feat_s8, feat_s16)
${INPUT_USAGE}
                        (default: stretch to 256x256, the papers' and the reference's setting)
  --max-train <n>       use n evenly spaced training images
  --max-test <n>        use n evenly spaced test images
  --pixel-metrics-at <where>  model (default: masks resized to the model input, as the papers) |
                        original (anomaly maps resized back to each image's own size)
  --batch <n>           batch size (default 8)
  --coreset <ratio>     PatchCore memory-bank fraction (default 0.1)
  --knn <k>             PatchCore neighbours averaged per patch (default 1)
  --reweight <b>        PatchCore paper re-weighting over b neighbours (default off)
  --search <how>        PatchCore nearest-neighbour search: exact (default) | approximate (faster;
                        image scores stay exact, map values may be slightly high where a neighbour is missed)
  --channels <d>        PaDiM random channels (default: the reference code's 100-channel draw)
  --epochs <n>          SimpleNet training passes (default 16; the official run trains 160);
                        PFM / PEFM passes (default 10; the papers train 200)
  --steps-per-call <k>  SimpleNet / CFLOW-AD training steps per ONNX Runtime call (ONNX Loop; default 1)
  --sub-epochs <n>      CFLOW-AD passes over the fibres per meta-epoch (--epochs counts meta-epochs;
                        default 4 × 1; the official run trains 25 × 8)
  --blocks <k>          CFLOW-AD coupling blocks per flow (default 8)
  --noise-relative <r>  SimpleNet noise σ = r × the training features' spread (RMS per-dimension
                        standard deviation, measured at fit; default 0.5); 0 = use --noise-std
  --noise-std <σ>       SimpleNet absolute noise σ instead (official: --noise-std 0.015)
  --checkpoint <file>   SimpleNet / PFM / PEFM / CFLOW-AD checkpoint, written every epoch and resumed from when present
  --levels <list>       PFM / PEFM feature levels, e.g. 1,2,3 (default, MB-PFM) or 3
  --direction <d>       PFM / PEFM mappings: both (default) | s2t | t2s
  --fusion <f>          PFM / PEFM level fusion: add (mean, default) | multiply (product)
  --no-pe               PEFM without the position encoding (ablation)
  --bn-statistics <s>   PFM / PEFM inference BatchNorm statistics: running (momentum averages, as
                        PyTorch) | precise (batch statistics of the final weights averaged over
                        the training set)
  --normalise <n>       PFM / PEFM error scaling: none (the papers' runs) | variance (each squared
                        error over its training mean at that position and channel: the official
                        code's statistic_var)
  --precision <p>       PFM / PEFM / CFLOW-AD scoring arithmetic: int8 (default: int8 matrix
                        products, 2-3x faster, metrics within 0.1 point) | float32
  --save-model <file>   save the fitted model, any method (for argus infer; with several
                        datasets, the last one's)
  --no-align            ignore the backbone's measured cell offsets (the reference code's geometry)
  --seed <n>            random seed (PaDiM: draws its channels with it)
  --json <file>         write all results (per-image scores included) as JSON`;

function parseNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} expects a number, received '${v}'`);
  return n;
}

export async function runEval(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', multiple: true },
      method: { type: 'string', default: 'patchcore' },
      backbone: { type: 'string' },
      ...INPUT_OPTIONS,
      'max-train': { type: 'string' },
      'max-test': { type: 'string' },
      'pixel-metrics-at': { type: 'string' },
      batch: { type: 'string' },
      coreset: { type: 'string' },
      knn: { type: 'string' },
      reweight: { type: 'string' },
      search: { type: 'string' },
      channels: { type: 'string' },
      epochs: { type: 'string' },
      'steps-per-call': { type: 'string' },
      'sub-epochs': { type: 'string' },
      blocks: { type: 'string' },
      'noise-relative': { type: 'string' },
      'noise-std': { type: 'string' },
      checkpoint: { type: 'string' },
      'save-model': { type: 'string' },
      'no-align': { type: 'boolean' },
      levels: { type: 'string' },
      direction: { type: 'string' },
      fusion: { type: 'string' },
      'no-pe': { type: 'boolean' },
      normalise: { type: 'string' },
      precision: { type: 'string' },
      'bn-statistics': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(EVAL_USAGE);
    return 0;
  }
  const builtInDefault = !values.data || values.data.length === 0;
  const datasets = builtInDefault ? [join(PROJECT_ROOT, '..', 'shared', 'data', 'magnetic_tile')] : values.data!;
  const config: Record<string, unknown> = {};
  if (values.backbone) config['backbone'] = values.backbone;
  Object.assign(config, inputConfig(values));
  const set = (key: string, v: number | undefined) => v !== undefined && (config[key] = v);
  set('coresetRatio', parseNumber('coreset', values.coreset));
  set('numNeighbours', parseNumber('knn', values.knn));
  set('reweightNeighbours', parseNumber('reweight', values.reweight));
  if (values.search !== undefined) config['search'] = values.search;
  const channels = parseNumber('channels', values.channels);
  if (channels !== undefined) Object.assign(config, { channels, channelIndices: 'seeded' });
  set('seed', parseNumber('seed', values.seed));
  set('epochs', parseNumber('epochs', values.epochs));
  set('stepsPerCall', parseNumber('steps-per-call', values['steps-per-call']));
  set('subEpochs', parseNumber('sub-epochs', values['sub-epochs']));
  set('blocks', parseNumber('blocks', values.blocks));
  set('noiseStd', parseNumber('noise-std', values['noise-std']));
  // an absolute σ alone means the absolute σ (the official setting), unless a relative one is also given
  set('noiseRelative', parseNumber('noise-relative', values['noise-relative']) ?? (values['noise-std'] !== undefined ? 0 : undefined));
  if (values.checkpoint !== undefined) config['checkpoint'] = values.checkpoint;
  if (values.levels !== undefined) {
    const levels = values.levels.split(',').map((v) => Number(v.trim()));
    if (levels.some((l) => ![1, 2, 3].includes(l))) throw new RangeError(`--levels expects a list of 1, 2, 3, received '${values.levels}'`);
    config['levels'] = levels;
  }
  if (values.direction !== undefined) {
    if (!['both', 's2t', 't2s'].includes(values.direction)) throw new RangeError(`--direction expects both, s2t or t2s, received '${values.direction}'`);
    config['direction'] = values.direction;
  }
  if (values.fusion !== undefined) {
    if (values.fusion !== 'add' && values.fusion !== 'multiply') throw new RangeError(`--fusion expects add or multiply, received '${values.fusion}'`);
    config['fusion'] = values.fusion;
  }
  if (values['no-pe']) config['positionEncoding'] = false;
  if (values['bn-statistics'] !== undefined) {
    if (values['bn-statistics'] !== 'running' && values['bn-statistics'] !== 'precise') throw new RangeError(`--bn-statistics expects running or precise, received '${values['bn-statistics']}'`);
    config['bnStatistics'] = values['bn-statistics'];
  }
  if (values.normalise !== undefined) {
    if (values.normalise !== 'none' && values.normalise !== 'variance') throw new RangeError(`--normalise expects none or variance, received '${values.normalise}'`);
    config['normalise'] = values.normalise;
  }
  if (values.precision !== undefined) {
    if (!(PRECISIONS as readonly string[]).includes(values.precision)) throw new RangeError(`--precision expects ${PRECISIONS.join(' or ')}, received '${values.precision}'`);
    config['precision'] = values.precision;
  }
  if (values.seed !== undefined && values.method === 'padim') config['channelIndices'] = 'seeded';
  if (values['no-align']) config['alignOffsets'] = false;
  const maxTrain = parseNumber('max-train', values['max-train']) ?? (builtInDefault ? 120 : undefined);
  const maxTest = parseNumber('max-test', values['max-test']);
  const batchSize = parseNumber('batch', values.batch);
  const saveModel = values['save-model'];
  const at = values['pixel-metrics-at'];
  if (at !== undefined && at !== 'model' && at !== 'original') throw new RangeError(`--pixel-metrics-at expects model or original, received '${at}'`);

  const results: EvaluationResult[] = [];
  const progress = createProgress();
  for (const data of datasets) {
    const result = await evaluateDataset(data, {
      method: values.method!,
      config,
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(maxTrain !== undefined ? { maxTrain } : {}),
      ...(maxTest !== undefined ? { maxTest } : {}),
      ...(at !== undefined ? { pixelMetricsAt: at } : {}),
      ...(saveModel !== undefined ? { onFitted: (model: FittedModel) => writeModelFile(saveModel, model) } : {}),
      onProgress: (p) => progress.update(`${data.split('/').pop()} ${p.phase}: ${p.stage}`, p.done, p.total, p.loss === undefined ? '' : `loss ${p.loss.toFixed(3)}`),
    });
    progress.stop();
    if (result.inputReason) console.error(`${result.dataset}: input: ${result.inputReason}`);
    results.push(result);
    if (result.issues.length > 0) {
      console.error(`${result.dataset}: ${result.issues.length} item(s) skipped or noted:`);
      for (const i of result.issues) console.error(`  ${i.path}: ${i.problem}`);
    }
  }
  console.log(resultsTable(results));
  console.log(intervalsTable(results));
  if (saveModel !== undefined) console.error(`model written to ${saveModel}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results, null, 1));
    console.error(`results written to ${values.json}`);
  }
  return 0;
}

export function resultsTable(results: readonly EvaluationResult[]): string {
  const rows = results.map((r) => [
    r.dataset,
    r.method,
    `${r.nTrain}/${r.nTest}`,
    pct(r.imageAuroc),
    pct(r.pixelAuroc),
    pct(r.aupro),
    pct(r.imageF1.f1),
    pct(r.pixelF1.f1),
    num(r.fitSeconds),
    num(r.msPerImage),
  ]);
  if (results.length > 1) {
    const mean = (f: (r: EvaluationResult) => number) => results.reduce((a, r) => a + f(r), 0) / results.length;
    rows.push([
      'mean',
      '',
      '',
      pct(mean((r) => r.imageAuroc)),
      pct(mean((r) => r.pixelAuroc)),
      pct(mean((r) => r.aupro)),
      pct(mean((r) => r.imageF1.f1)),
      pct(mean((r) => r.pixelF1.f1)),
      num(mean((r) => r.fitSeconds)),
      num(mean((r) => r.msPerImage)),
    ]);
  }
  const provider = results[0]?.provider ?? 'cpu';
  return formatTable(
    ['dataset', 'method', 'train/test', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'image F1max', 'pixel F1max', 'fit s', `ms/img (${provider}, bs ${results[0]?.batchSize ?? '-'})`],
    rows,
  );
}

/** The 95 % bootstrap intervals (over test images) of each dataset's metrics, as low–high. */
export function intervalsTable(results: readonly EvaluationResult[]): string {
  const span = (i: Interval | null) => (i ? `${pct(i.low)}–${pct(i.high)}` : '-');
  const rows = results.map((r) => [r.dataset, span(r.intervals.imageAuroc), span(r.intervals.pixelAuroc), span(r.intervals.aupro), span(r.intervals.imageF1), span(r.intervals.pixelF1)]);
  const n = results[0]?.intervals.resamples ?? 0;
  return `95 % confidence intervals (bootstrap over test images, ${n} resamples):\n${formatTable(['dataset', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'image F1max', 'pixel F1max'], rows)}`;
}
