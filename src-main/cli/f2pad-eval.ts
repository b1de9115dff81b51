/** `argus f2pad-eval`: the seed's cut-paste evaluation of F2PAD refinement over a detector. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setSessionLogger } from '../engine/session.ts';
import { evaluateF2pad, F2PAD_DETECTORS, type DatasetF2padResult, type F2padDetector } from '../refine/evaluate.ts';
import { ABLATIONS, REFINE_DEFAULTS, type Ablation, type RefineOptions } from '../refine/refine.ts';
import { INPUT_OPTIONS, INPUT_USAGE, inputConfig } from './input-options.ts';
import { formatTable, num } from './table.ts';

export const F2PAD_EVAL_USAGE = `argus f2pad-eval --data <dir>... --detector patchcore|padim|cflow [options]

Builds a cut-paste test set per dataset (seed §IV-A1: hosts are normal images never fitted on, masks
are real defect masks randomly resized and placed, anomaly sources a clearly different random colour),
fits the detector on the rest of train/good, and prints IoU and DICE (x100) of the detector alone at
its F1-optimal pixel threshold and with F2PAD refinement, plus seconds per image.

  --data <dir>          dataset folder, MVTec layout (repeatable)
  --detector <name>     patchcore | padim | cflow (default patchcore)
  --set <key=value>     a detector setting over its defaults (repeatable; numbers or text),
                        e.g. --set epochs=2 for a shorter CFLOW-AD fit
${INPUT_USAGE}
  --count <n>           cut-paste images per dataset (default 54, as the seed)
  --seed <n>            cut-paste seed (default 0)
  --structural <f>      fraction of images whose anomaly source is the other side of another
                        normal image, for parts with left/right structure (default 0)
  --ablation <list>     comma-separated: none, init-only, no-prior, no-sparsity, no-sharing
                        (default none; the first is the one reported as "f2pad")
  --max-fit <n>         fit on at most n evenly spaced images (large datasets)
  --max-iterations <n>  cap on solver iterations (default ${REFINE_DEFAULTS.maxIterations})
  --lambda0 <v> --gamma <v> --beta <v> --lr <v> --tau <v>   override refinement constants
  --json <file>         write the results as JSON
  --verbose             one line per image`;

export async function runF2padEval(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', multiple: true },
      detector: { type: 'string', default: 'patchcore' },
      set: { type: 'string', multiple: true },
      ...INPUT_OPTIONS,
      count: { type: 'string' },
      seed: { type: 'string' },
      structural: { type: 'string' },
      ablation: { type: 'string' },
      'max-fit': { type: 'string' },
      'max-iterations': { type: 'string' },
      lambda0: { type: 'string' },
      gamma: { type: 'string' },
      beta: { type: 'string' },
      lr: { type: 'string' },
      tau: { type: 'string' },
      json: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(F2PAD_EVAL_USAGE);
    return 0;
  }
  const detector = values.detector as F2padDetector;
  if (!F2PAD_DETECTORS.includes(detector)) throw new RangeError(`--detector must be one of ${F2PAD_DETECTORS.join(', ')}, received '${values.detector}'`);
  const detectorSettings: Record<string, number | string> = {};
  for (const pair of values.set ?? []) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(pair);
    if (!m) throw new RangeError(`--set expects key=value, received '${pair}'`);
    detectorSettings[m[1]!] = Number.isFinite(Number(m[2])) ? Number(m[2]) : m[2]!;
  }
  Object.assign(detectorSettings, inputConfig(values));
  if (!values.data || values.data.length === 0) throw new RangeError('--data <dir> is required');
  const number = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RangeError(`--${name} expects a number, received '${v}'`);
    return n;
  };
  const ablations = (values.ablation ?? 'none').split(',').map((a) => a.trim()) as Ablation[];
  for (const a of ablations) if (!ABLATIONS.includes(a)) throw new RangeError(`unknown ablation '${a}'; choose from ${ABLATIONS.join(', ')}`);
  const refine: Partial<{ -readonly [K in keyof RefineOptions]: RefineOptions[K] }> = {};
  const overrides: Array<[keyof RefineOptions, string]> = [['maxIterations', 'max-iterations'], ['lambda0', 'lambda0'], ['gamma', 'gamma'], ['beta', 'beta'], ['lr', 'lr'], ['tau', 'tau']];
  for (const [key, flag] of overrides) {
    const v = number(flag, (values as unknown as Record<string, string | undefined>)[flag]);
    if (v !== undefined) (refine as Record<string, number>)[key] = v;
  }
  setSessionLogger(() => {});
  const results: DatasetF2padResult[] = [];
  for (const dir of values.data) {
    const count = number('count', values.count) ?? 54;
    const maxFit = number('max-fit', values['max-fit']);
    results.push(
      await evaluateF2pad(dir, {
        detector,
        detectorSettings,
        cutpaste: { count, seed: number('seed', values.seed) ?? 0, structural: number('structural', values.structural) ?? 0 },
        refine,
        ablations,
        ...(maxFit ? { maxFit } : {}),
        ...(values.verbose ? { onImage: (m: string) => console.error(m) } : {}),
      }),
    );
  }
  const rows: string[][] = [];
  for (const r of results) {
    for (const a of r.ablations) {
      rows.push([
        r.name,
        `${detector}${a.ablation === 'none' ? '' : ` (${a.ablation})`}`,
        String(r.count),
        num(r.detector.iou),
        num(r.detector.dice),
        num(a.f2pad.iou),
        num(a.f2pad.dice),
        `${a.f2pad.iou - r.detector.iou >= 0 ? '+' : ''}${num(a.f2pad.iou - r.detector.iou)}`,
        num(a.secondsPerImage, 2),
        num(a.secondsMedian, 2),
        num(a.secondsWorst, 2),
      ]);
    }
  }
  console.log(formatTable(['dataset', 'detector', 'images', 'det IoU', 'det DICE', 'F2PAD IoU', 'F2PAD DICE', 'IoU gain', 's/img', 'median s', 'worst s'], rows));
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results.map((r) => ({ ...r, ablations: r.ablations })), null, 1));
    console.error(`results written to ${values.json}`);
  }
  return 0;
}
