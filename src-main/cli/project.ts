/**
 * Project commands: the station's workflow from a terminal or a script, on the same project folder
 * the screens open (create, import, train, evaluate, inspect, refine, results, decide, reports, jobs).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError, ImportSummary, RefinementSummary, type DefectType, type Job, type Model, type PixelBox, type Product, type TilePlace } from '../api/contract.ts';
import { getMethod, METHOD_NAMES } from '../methods/index.ts';
import { CliStation, withProject } from './station-client.ts';
import { formatTable } from './table.ts';
import { INPUT_OPTIONS, inputConfig } from './input-options.ts';

export const PROJECT_USAGE = `argus project create <dir> [--name <name>]
argus import   --project <dir> --product <name|id> [--mvtec] [--split train|validation|test]
               [--verdict good|defective|unlabelled] <file or folder>...
argus train    --project <dir> --product <name|id> [--method ${METHOD_NAMES.join('|')}] [--backbone <id>] [--set key=value]...
               [--resize auto|stretch|letterbox|tile] [--size <px|HxW>] [--tile-size <px>] [--tile-overlap <px>] [--position-norm] [--score-side <px>]
argus evaluate --project <dir> (--model <id> | --product <name|id>)
argus inspect  --project <dir> (--model <id> | --product <name|id>) [--lot <name>] [--watch] <folder>
argus runs     --project <dir> --product <name|id> [--json]
argus ignore   --project <dir> --product <name|id> (--mask <png> | --clear)
argus defect-types --project <dir> --product <name|id> [list [--json] | add <name> [--colour #rrggbb]
               | rename <name> <new name> | colour <name> <#rrggbb> | remove <name> | order <name>...]
argus refine   --project <dir> (--result <id> | --inspection <job id>) [--ablation none|init-only|no-prior|no-sparsity|no-sharing]
               [--tau <x>] [--out <dir>]
argus results  --project <dir> (--model <id> | --product <name|id>) [--run <id> | --evaluation] [--verdict pass|review|fail|unjudged]
               [--queue awaiting|disagree] [--order score|uncertainty|time] [--limit n] [--json]
argus results  --project <dir> --explain <result id> [--out <dir>] [--json]
argus decide   --project <dir> --result <id> (--verdict pass|fail [--defect-type <t>] [--note <text>] [--by <name>]
               | --label normal|defect [--refit])
argus report   --project <dir> (--model <id> | --product <name|id>) [--kind validation|inspection] [--format pdf|html|csv]
               [--job <inspect job id>] [--threshold <threshold id>] [--prepared-by <name>] [--reviewed-by <name>]
               [--role <role>] [--title <text>] --out <file>
argus jobs     --project <dir> [--resume <job id>] [--cancel <job id>]

A project is a folder (created empty by 'project create'); the same folder opens in the station
(npm start). --product takes a name or an id; 'import' creates the product when the name is new.
'train' chooses the input from the product's images unless told (--resize auto: it prints what and
why); --backbone takes any backbone of models/manifest.json with outputs at the method's strides.
--model defaults to the product's newest model. Every 'inspect' is a run named by --lot (default
"Run <n>"); --watch keeps inspecting the folder's new images as they arrive until Ctrl-C ends the run.
'ignore' sets the product's ignore region (white = skipped on every image, any size, resized to each
image) or clears it. 'defect-types' keeps the product's list of defect types (name, colour, order; the
Label screen's keys 1-9 pick the first nine): renaming relabels the images that carry the old name, a
type still on images is not removed, a type used in a label joins the list by itself. 'runs' lists a product's runs with their counts and throughput; 'results --run' shows one run's
results, 'results --evaluation' the evaluation's. 'results --explain' says why a result was flagged: for
PatchCore its most anomalous patch and the nearest normal patch of the memory bank (training image,
box, distance), for the other methods the most similar normal training image; --out writes both as
PNG (result-<id>-flagged.png, result-<id>-nearest.png). 'decide' records a reviewer's decision on a result
(--by defaults to the login name; the model's verdict is kept) or turns the result's image into a label
for the next training (normal: good training image; defect: defective test image); --refit then adds
a normal part to its PatchCore model's memory bank, or its PaDiM model's Gaussians, as the next model version (seconds, no retrain). 'refine' runs F2PAD on one result or on every failing
and review result of an inspection job; --out writes each refined result's repaired image and outlines. Jobs show a progress bar on a terminal; a job that
fails or is interrupted makes the command exit 1. 'report' writes a validation report (the model at a threshold
version, default its latest, on the labelled test set) or an inspection report (one batch: --job, default the
model's latest inspection) as PDF, HTML or CSV (--format defaults to --out's extension, else pdf), records it in
the project and prints its sha256.`;

const common = {
  project: { type: 'string' },
  product: { type: 'string' },
  model: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new RangeError(`${flag} is required\n\n${PROJECT_USAGE}`);
  return value;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${flag} expects a positive whole number, received '${value}'`);
  return n;
}

async function findProduct(s: CliStation, ref: string, createIfMissing = false): Promise<Product> {
  const all = await s.call('products.list', {});
  const found = /^\d+$/.test(ref) ? all.find((p) => p.id === Number(ref)) : all.find((p) => p.name === ref);
  if (found) return found;
  if (createIfMissing && !/^\d+$/.test(ref)) return s.call('products.create', { name: ref });
  throw new ApiError('NOT_FOUND', `no product '${ref}' in this project (products: ${all.map((p) => `${p.id} ${p.name}`).join(', ') || 'none'})`);
}

/** The model named by --model, else the newest model of --product. */
export async function findModel(s: CliStation, values: { model?: string | undefined; product?: string | undefined }): Promise<Model> {
  if (values.model) return s.call('models.get', { id: positiveInt(values.model, '--model') });
  const product = await findProduct(s, need(values.product, '--model or --product'));
  const list = await s.call('models.list', { productId: product.id });
  const newest = list[list.length - 1];
  if (!newest) throw new ApiError('NOT_FOUND', `product '${product.name}' has no model yet: run argus train first`);
  return newest;
}

function jobExit(job: Job): number {
  if (job.status === 'succeeded') return 0;
  console.error(`job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
  return 1;
}

/** 'key=value' settings: numbers and booleans as such, anything else as text. */
/** key=value pairs; a setting whose default is a list (PFM's levels) takes comma-separated numbers. */
function parseSettings(pairs: readonly string[], method: string): Record<string, number | string | boolean | number[]> {
  const defaults = getMethod(method).defaults as Record<string, unknown>;
  const out: Record<string, number | string | boolean | number[]> = {};
  const scalar = (v: string) => (v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
  for (const pair of pairs) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(pair);
    if (!m) throw new RangeError(`--set expects key=value, received '${pair}'`);
    const [key, v] = [m[1]!, m[2]!];
    if (Array.isArray(defaults[key])) {
      const list = v.split(',').map((x) => Number(x.trim()));
      if (v.trim() === '' || list.some((x) => !Number.isFinite(x))) throw new RangeError(`--set ${key} expects comma-separated numbers (e.g. ${key}=${(defaults[key] as unknown[]).join(',')}), received '${v}'`);
      out[key] = list;
    } else {
      out[key] = scalar(v);
    }
  }
  return out;
}

const box = (b: PixelBox) => `${b.width} x ${b.height} px at (${b.x}, ${b.y})`;
const inTile = (t: TilePlace | null) => (t ? ` of tile ${t.index + 1} (its corner at (${t.left}, ${t.top}) in the model input)` : '');

/** argus results --explain: why the result was flagged, and the two pictures with --out. */
async function explainResult(s: CliStation, resultId: number, values: { out?: string | undefined; json?: boolean | undefined }): Promise<number> {
  const why = await s.call('results.explain', { resultId, maxSide: 512 });
  if (values.json) console.log(JSON.stringify({ ...why, flagged: { ...why.flagged, picture: undefined }, nearest: why.nearest && { ...why.nearest, picture: undefined } }, null, 1));
  else {
    const f = why.flagged;
    console.log(f.cell
      ? `result ${resultId}: most anomalous patch of image ${f.imageId} at row ${f.cell.row}, column ${f.cell.column} of ${f.tile ? 'the' : 'its'} ${f.cell.gridHeight} x ${f.cell.gridWidth} grid${inTile(f.tile)} (${box(f.box)}), patch score ${f.patchScore!.toFixed(4)}`
      : `result ${resultId}: image ${f.imageId}`);
    const n = why.nearest;
    if (!n) console.log(`no explanation: ${why.unavailable}`);
    else if (why.kind === 'patch') console.log(`nearest normal patch: training image ${n.imageId} at row ${n.cell!.row}, column ${n.cell!.column}${inTile(n.tile)} (${box(n.box)}), feature distance ${n.distance.toFixed(4)}`);
    else console.log(`most similar normal training image: ${n.imageId}, descriptor distance ${n.distance.toFixed(4)}`);
  }
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, `result-${resultId}-flagged.png`), Buffer.from(why.flagged.picture.base64, 'base64'));
    if (why.nearest) writeFileSync(join(values.out, `result-${resultId}-nearest.png`), Buffer.from(why.nearest.picture.base64, 'base64'));
    if (!values.json) console.log(`pictures written to ${values.out}`);
  }
  return 0;
}

export async function runProjectCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...common,
      name: { type: 'string' }, mvtec: { type: 'boolean' }, split: { type: 'string' }, verdict: { type: 'string' },
      method: { type: 'string', default: 'patchcore' }, backbone: { type: 'string' }, set: { type: 'string', multiple: true }, limit: { type: 'string' },
      json: { type: 'boolean' }, format: { type: 'string' }, out: { type: 'string' },
      kind: { type: 'string', default: 'inspection' }, job: { type: 'string' }, threshold: { type: 'string' },
      'prepared-by': { type: 'string' }, 'reviewed-by': { type: 'string' }, role: { type: 'string' }, title: { type: 'string' },
      resume: { type: 'string' }, cancel: { type: 'string' },
      result: { type: 'string' }, inspection: { type: 'string' }, ablation: { type: 'string' }, tau: { type: 'string' },
      queue: { type: 'string' }, order: { type: 'string' }, 'defect-type': { type: 'string' }, note: { type: 'string' }, by: { type: 'string' },
      label: { type: 'string' }, refit: { type: 'boolean' }, lot: { type: 'string' }, watch: { type: 'boolean' }, run: { type: 'string' },
      evaluation: { type: 'boolean' }, mask: { type: 'string' }, clear: { type: 'boolean' }, colour: { type: 'string' }, explain: { type: 'string' },
      ...INPUT_OPTIONS,
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(PROJECT_USAGE);
    return 0;
  }
  if (command === 'project') {
    const [sub, dir] = positionals;
    if (sub !== 'create' || !dir) throw new RangeError(`expected 'argus project create <dir>'\n\n${PROJECT_USAGE}`);
    const s = new CliStation();
    try {
      const info = await s.call('project.create', { dir, name: values.name ?? dir.split(/[\\/]/).filter(Boolean).pop() ?? 'project' });
      console.log(`created project '${info.name}' in ${info.dir}`);
    } finally {
      await s.close();
    }
    return 0;
  }
  const dir = need(values.project, '--project');
  return withProject(dir, async (s) => {
    switch (command) {
      case 'import': {
        if (positionals.length === 0) throw new RangeError(`argus import needs files or folders\n\n${PROJECT_USAGE}`);
        const product = await findProduct(s, need(values.product, '--product'), true);
        const job = await s.follow(await s.call('images.import', {
          productId: product.id, paths: positionals, layout: values.mvtec ? 'mvtec' : 'files',
          ...(values.split ? { split: values.split as 'train' } : {}), ...(values.verdict ? { verdict: values.verdict as 'good' } : {}),
        }), 'import');
        const summary = ImportSummary.safeParse(job.result).data;
        if (summary) {
          console.log(`imported ${summary.imported}, duplicates ${summary.duplicates}, failed ${summary.failed} (product '${product.name}', job ${job.id})`);
          for (const p of summary.problems) console.error(`  ${p.path}: ${p.problem}`);
        }
        return jobExit(job);
      }
      case 'train': {
        const product = await findProduct(s, need(values.product, '--product'));
        const config = { ...parseSettings(values.set ?? [], values.method!), ...inputConfig(values) } as Record<string, number | string | boolean>;
        const job = await s.follow(await s.call('models.train', { productId: product.id, method: values.method as 'patchcore', ...(values.backbone ? { backbone: values.backbone } : {}), config }), 'train');
        const input = (job.result as { input?: unknown } | null)?.input;
        if (typeof input === 'string') console.log(`input: ${input}`);
        if (job.status === 'succeeded') {
          const list = await s.call('models.list', { productId: product.id });
          const m = list[list.length - 1]!;
          console.log(`model ${m.id}: '${product.name}' v${m.version} (${m.method}, ${m.backboneId})`);
        }
        return jobExit(job);
      }
      case 'evaluate': {
        const model = await findModel(s, values);
        const job = await s.follow(await s.call('models.evaluate', { modelId: model.id }), 'evaluate');
        const m = (await s.call('models.get', { id: model.id })).metrics ?? {};
        const pctOf = (k: string) => (typeof m[k] === 'number' ? (100 * (m[k] as number)).toFixed(2) : '-');
        console.log(formatTable(['model', 'images', 'image AUROC', 'pixel AUROC', 'AUPRO', 'image F1'], [[`${model.id} v${model.version}`, String(m['images'] ?? '-'), pctOf('imageAuroc'), pctOf('pixelAuroc'), pctOf('aupro'), pctOf('imageF1')]]));
        return jobExit(job);
      }
      case 'inspect': {
        const [folder] = positionals;
        if (!folder) throw new RangeError(`argus inspect needs a folder\n\n${PROJECT_USAGE}`);
        const model = await findModel(s, values);
        const started = await s.call('inspection.run', { modelId: model.id, folder, watch: values.watch === true, ...(values.lot ? { name: values.lot } : {}) });
        const runId = (started.params as { runId: number }).runId;
        const stop = () => void s.call('runs.stop', { id: runId });
        if (values.watch) {
          process.once('SIGINT', stop);
          console.error(`watching ${folder} (run ${runId}); Ctrl-C ends the run`);
        }
        const job = await s.follow(started, values.watch ? 'watch' : 'inspect');
        process.off('SIGINT', stop);
        const run = await s.call('runs.get', { id: runId });
        const c = run.counts;
        console.log(`run ${run.id} '${run.name}': inspected ${c.inspected}: pass ${c.pass}, review ${c.review}, fail ${c.fail}, unjudged ${c.unjudged}` +
          `${run.imagesPerSecond !== null ? `, ${run.imagesPerSecond.toFixed(2)} images/s` : ''} (model ${model.id} v${model.version}, job ${job.id})`);
        // a watched run ends by being stopped: that is its normal end
        return values.watch && job.status === 'cancelled' ? 0 : jobExit(job);
      }
      case 'refine': {
        if ((values.result === undefined) === (values.inspection === undefined)) throw new RangeError(`argus refine needs --result <id> or --inspection <job id>\n\n${PROJECT_USAGE}`);
        const ablations = ['none', 'init-only', 'no-prior', 'no-sparsity', 'no-sharing'] as const;
        const ablation = values.ablation ?? 'none';
        if (!(ablations as readonly string[]).includes(ablation)) throw new RangeError(`--ablation expects one of ${ablations.join(', ')}, received '${ablation}'`);
        const tau = values.tau === undefined ? undefined : Number(values.tau);
        if (tau !== undefined && !(tau > 0)) throw new RangeError(`--tau expects a positive number, received '${values.tau}'`);
        const target = values.result !== undefined ? { resultId: positiveInt(values.result, '--result') } : { inspectionJobId: positiveInt(values.inspection!, '--inspection') };
        const settings = { ablation: ablation as (typeof ablations)[number], ...(tau !== undefined ? { tau } : {}) };
        const job = await s.follow(await s.call('refine.run', { ...target, settings }), 'refine');
        const summary = RefinementSummary.safeParse(job.result).data;
        if (summary) {
          console.log(`refined ${summary.refined} result(s) (job ${job.id})${summary.skipped.length ? `; skipped ${summary.skipped.length}: ${summary.skipped.map((k) => `${k.path}: ${k.problem}`).join('; ')}` : ''}`);
          if (values.out) mkdirSync(values.out, { recursive: true });
          for (const id of summary.resultIds) {
            if (!values.out) continue;
            const repaired = await s.call('results.repaired', { id, maxSide: 4096 });
            const outlines = await s.call('results.overlay', { id, maxSide: 4096, layers: { heatmap: false, detector: true, refined: true, truth: true } });
            writeFileSync(join(values.out, `result-${id}-repaired.png`), Buffer.from(repaired.base64, 'base64'));
            writeFileSync(join(values.out, `result-${id}-outlines.png`), Buffer.from(outlines.base64, 'base64'));
          }
          if (values.out) console.log(`repaired images and outlines (white: detector, green: refined, magenta: ground truth) written to ${values.out}`);
        }
        return jobExit(job);
      }
      case 'ignore': {
        const product = await findProduct(s, need(values.product, '--product'));
        if ((values.mask === undefined) === (values.clear !== true)) throw new RangeError(`argus ignore needs --mask <png> or --clear\n\n${PROJECT_USAGE}`);
        const updated = await s.call('products.setIgnore', { productId: product.id, png: values.clear ? null : readFileSync(values.mask!).toString('base64') });
        console.log(updated.ignore ? `product '${product.name}': ignore region ${updated.ignore.width} x ${updated.ignore.height} set; it applies to every image from the next inspection or evaluation on` : `product '${product.name}': ignore region cleared`);
        return 0;
      }
      case 'defect-types':
        return defectTypesCommand(s, await findProduct(s, need(values.product, '--product')), positionals, values);
      case 'runs': {
        const product = await findProduct(s, need(values.product, '--product'));
        const list = await s.call('runs.list', { productId: product.id });
        if (values.json) console.log(JSON.stringify(list, null, 1));
        else {
          console.log(formatTable(['run', 'name', 'model', 'threshold', 'started', 'ended', 'inspected', 'pass', 'review', 'fail', 'images/s', 'source'], list.map((r) => [
            String(r.id), r.name, `v${r.modelVersion}`, r.thresholdVersion === null ? '-' : `v${r.thresholdVersion}`, r.startedAt, r.finishedAt ?? (r.jobStatus ?? '-'),
            String(r.counts.inspected), String(r.counts.pass), String(r.counts.review), String(r.counts.fail),
            r.imagesPerSecond === null ? '-' : r.imagesPerSecond.toFixed(2), r.source,
          ])));
        }
        return 0;
      }
      case 'results': {
        if (values.explain !== undefined) return explainResult(s, positiveInt(values.explain, '--explain'), values);
        const model = await findModel(s, values);
        if (values.run !== undefined && values.evaluation) throw new RangeError('give --run or --evaluation, not both');
        const page = await s.call('results.list', {
          modelId: model.id, limit: values.limit ? positiveInt(values.limit, '--limit') : 1000,
          ...(values.run !== undefined ? { runId: positiveInt(values.run, '--run') } : {}), ...(values.evaluation ? { source: 'evaluation' as const } : {}),
          ...(values.verdict ? { verdict: values.verdict as 'pass' } : {}),
          ...(values.queue ? { queue: values.queue as 'awaiting' } : {}), ...(values.order ? { order: values.order as 'score' } : {}),
        });
        if (values.json) console.log(JSON.stringify(page, null, 1));
        else {
          console.log(formatTable(['result', 'image', 'score', 'verdict', 'defect px', 'refined px', 'decision', 'file'], page.items.map((r) => [
            String(r.id), String(r.imageId), r.score.toFixed(4), r.verdict, r.defectAreaPx === null ? '-' : String(r.defectAreaPx),
            r.refinement ? String(r.refinement.defectAreaPx) : '-', r.decision ? `${r.decision.verdict} (${r.decision.decidedBy})` : '-', r.originalPath,
          ])));
          console.log(`${page.items.length} of ${page.total} result(s) of model ${model.id}, ${{ score: 'highest score', uncertainty: 'closest to the threshold', time: 'newest' }[values.order ?? 'score'] ?? values.order} first`);
        }
        return 0;
      }
      case 'decide': {
        const resultId = positiveInt(need(values.result, '--result'), '--result');
        if (values.label !== undefined) {
          if (values.label !== 'normal' && values.label !== 'defect') throw new RangeError(`--label expects normal or defect, received '${values.label}'`);
          const { changed } = await s.call('results.label', { resultIds: [resultId], as: values.label });
          console.log(`result ${resultId}: ${changed} image labelled as ${values.label === 'normal' ? 'a good training image' : 'a defective test image'}`);
          if (!values.refit) return 0;
          if (values.label !== 'normal') throw new RangeError('--refit adds normal parts: use it with --label normal');
          const result = await s.call('results.get', { id: resultId });
          const job = await s.follow(await s.call('models.extend', { modelId: result.modelId, imageIds: [result.imageId] }), 'refit');
          const method = (await s.call('models.get', { id: result.modelId })).method;
          if (job.status === 'succeeded') console.log(`model v${(job.result as { version: number }).version}: the ${method === 'padim' ? 'Gaussians' : 'memory bank'} of result ${resultId}'s model with its image added`);
          return jobExit(job);
        }
        const verdict = need(values.verdict, '--verdict or --label');
        if (verdict !== 'pass' && verdict !== 'fail') throw new RangeError(`--verdict expects pass or fail, received '${verdict}'`);
        const d = await s.call('results.decide', {
          resultId, verdict, by: values.by ?? userInfo().username, note: values.note ?? '', defectType: values['defect-type'] ?? null,
        });
        console.log(`result ${resultId}: ${d.verdict}${d.defectType ? ` (${d.defectType})` : ''} by ${d.decidedBy} at ${d.decidedAt}; the model said ${d.modelVerdict}`);
        return 0;
      }
      case 'report': {
        const model = await findModel(s, values);
        const out = need(values.out, '--out');
        const kinds = ['validation', 'inspection'] as const;
        const formats = ['pdf', 'html', 'csv'] as const;
        const kind = values.kind as (typeof kinds)[number];
        if (!kinds.includes(kind)) throw new RangeError(`--kind expects validation or inspection, received '${values.kind}'`);
        const fromName = /\.([a-z]+)$/i.exec(out)?.[1]?.toLowerCase();
        const format = (values.format ?? (formats.includes(fromName as 'pdf') ? fromName : 'pdf')) as (typeof formats)[number];
        if (!formats.includes(format)) throw new RangeError(`--format expects pdf, html or csv, received '${values.format}'`);
        const report = await s.call('reports.create', {
          modelId: model.id, kind, format,
          ...(values.job !== undefined ? { jobId: positiveInt(values.job, '--job') } : {}),
          ...(values.threshold !== undefined ? { thresholdId: positiveInt(values.threshold, '--threshold') } : {}),
          ...(values.title !== undefined ? { title: values.title } : {}),
          preparedBy: values['prepared-by'] ?? '', reviewedBy: values['reviewed-by'] ?? '', role: values.role ?? '',
        });
        const content = await s.call('reports.content', { id: report.id });
        writeFileSync(out, Buffer.from(content.base64, 'base64'));
        console.log(`${report.kind} report ${report.id} (${report.format}, ${report.byteSize} bytes${report.jobId !== null ? `, inspection job ${report.jobId}` : ''}) written to ${out}`);
        console.log(`sha256 ${report.sha256}`);
        return 0;
      }
      case 'jobs': {
        if (values.cancel) console.log(JSON.stringify(await s.call('jobs.cancel', { id: positiveInt(values.cancel, '--cancel') })));
        if (values.resume) {
          const job = await s.follow(await s.call('jobs.resume', { id: positiveInt(values.resume, '--resume') }), 'resume');
          return jobExit(job);
        }
        const list = await s.call('jobs.list', {});
        console.log(formatTable(['job', 'kind', 'status', 'progress', 'created', 'message'], list.map((j) => [String(j.id), j.kind, j.status, `${Math.round(j.progress * 100)}%`, j.createdAt, (j.error ?? j.message).slice(0, 80)])));
        return 0;
      }
      default:
        throw new RangeError(`unknown command '${command}'`);
    }
  });
}

/** `argus defect-types`: the product's list, or one change to it (types named by name, any case). */
async function defectTypesCommand(s: CliStation, product: Product, args: readonly string[], values: { colour?: string | undefined; json?: boolean | undefined }): Promise<number> {
  const [sub = 'list', ...rest] = args;
  const list = await s.call('defectTypes.list', { productId: product.id });
  const named = (name: string | undefined): DefectType => {
    const found = list.find((t) => t.name.toLowerCase() === need(name, 'a defect type name').toLowerCase());
    if (!found) throw new ApiError('NOT_FOUND', `product '${product.name}' has no defect type '${name}' (it has: ${list.map((t) => t.name).join(', ') || 'none'})`);
    return found;
  };
  const arity = (n: number, shape: string) => {
    if (rest.length !== n) throw new RangeError(`expected 'argus defect-types ${sub} ${shape}', received ${rest.length} argument${rest.length === 1 ? '' : 's'}\n\n${PROJECT_USAGE}`);
  };
  switch (sub) {
    case 'list':
      arity(0, '');
      if (values.json) console.log(JSON.stringify(list, null, 1));
      else console.log(formatTable(['key', 'defect type', 'colour', 'images'], list.map((t, i) => [i < 9 ? String(i + 1) : '-', t.name, t.colour, String(t.images)])));
      return 0;
    case 'add': {
      arity(1, '<name>');
      const added = await s.call('defectTypes.add', { productId: product.id, name: rest[0]!, ...(values.colour !== undefined ? { colour: values.colour } : {}) });
      console.log(`product '${product.name}': defect type '${added.name}' added (${added.colour}, position ${added.position + 1})`);
      return 0;
    }
    case 'rename': {
      arity(2, '<name> <new name>');
      const { type, relabelled } = await s.call('defectTypes.rename', { id: named(rest[0]).id, name: rest[1]! });
      console.log(`product '${product.name}': defect type '${rest[0]}' renamed to '${type.name}'; ${relabelled} image${relabelled === 1 ? '' : 's'} relabelled`);
      return 0;
    }
    case 'colour': {
      arity(2, '<name> <#rrggbb>');
      const type = await s.call('defectTypes.recolour', { id: named(rest[0]).id, colour: rest[1]! });
      console.log(`product '${product.name}': defect type '${type.name}' is now ${type.colour}`);
      return 0;
    }
    case 'remove': {
      arity(1, '<name>');
      const type = named(rest[0]);
      await s.call('defectTypes.remove', { id: type.id });
      console.log(`product '${product.name}': defect type '${type.name}' removed`);
      return 0;
    }
    case 'order': {
      const first = rest.map(named);
      const ordered = await s.call('defectTypes.reorder', { productId: product.id, ids: [...first, ...list.filter((t) => !first.includes(t))].map((t) => t.id) });
      console.log(`product '${product.name}': ${ordered.map((t, i) => `${i + 1} ${t.name}`).join(', ')}`);
      return 0;
    }
    default:
      throw new RangeError(`unknown 'argus defect-types ${sub}': expected list, add, rename, colour, remove or order\n\n${PROJECT_USAGE}`);
  }
}

export const PROJECT_COMMANDS = ['project', 'import', 'train', 'evaluate', 'inspect', 'runs', 'ignore', 'defect-types', 'refine', 'results', 'decide', 'report', 'jobs'];
