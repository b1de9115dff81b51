/**
 * The inspection report of one batch (an 'inspect' job, with the jobs that resumed it): counts of pass
 * / review / fail, throughput, the failing parts with overlays and defect areas, the model and the
 * threshold versions, every image in an appendix; and the same rows as a CSV for spreadsheets and MES
 * imports. Where a result was refined (F2PAD), its defect area is the refined mask's.
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../api/contract.ts';
import { decisions, images, jobs, models, products, refinements, results, runs, thresholds, type Project } from '../store/index.ts';
import { goodPercentile, goodReference } from '../services/percentiles.ts';
import { csvText } from './csv.ts';
import { newest, num, type Block, type Picture, type ReportDocument, type SignOff } from './document.ts';
import { fileName, formatDuration, modelSection, moreNote, resultPicture, secondsBetween, signOffBlocks, thresholdRows } from './sections.ts';

/** Failing and review parts shown as pictures (the rest are listed). */
export const MAX_BATCH_PICTURES = 24;

export const INSPECTION_CSV_COLUMNS = [
  'result_id', 'image_id', 'file', 'sha256', 'split', 'label', 'score', 'good_percentile', 'verdict', 'defect_area_px', 'model_version', 'threshold_version',
  'job_id', 'inspected_at', 'outline', 'detector_defect_area_px', 'reviewer_verdict', 'reviewer_defect_type', 'reviewer_note', 'reviewed_by', 'reviewed_at',
] as const;

export interface InspectionReportInput {
  readonly modelId: number;
  /** The inspect job; default: the model's latest inspect job with results. */
  readonly jobId?: number;
  readonly title?: string;
  readonly signOff: SignOff;
}

export interface InspectionReport {
  readonly productId: number;
  readonly modelId: number;
  readonly jobId: number;
  readonly thresholdId: number | null;
  readonly title: string;
  /** sha256 over the results reported (ids, scores, verdicts, refinements, decisions). */
  readonly manifestSha256: string;
  readonly document: () => Promise<ReportDocument>;
  readonly csv: () => string;
}

const isInspectOf = (job: jobs.Job, modelId: number) => job.kind === 'inspect' && (job.params as { modelId?: number } | null)?.modelId === modelId;

/** The jobs of a batch: the inspect job, the jobs that resumed it and those it resumed. */
function batchJobIds(p: Project, job: jobs.Job): Set<number> {
  let last = job;
  for (let next = jobs.resumedBy(p, last.id); next && next.id !== last.id; next = jobs.resumedBy(p, last.id)) last = next;
  return new Set(jobs.lineage(p, last.id));
}

/** The batch to report: the given inspect job of the model, else its newest inspect job with results. */
export function inspectionBatch(p: Project, model: models.Model, jobId: number | undefined): { job: jobs.Job; rows: results.Result[]; run: runs.Run | null } {
  const modelRuns = runs.list(p, { productId: model.productId, modelId: model.id });
  // a batch is the run its jobs carried (store/runs.ts); results of jobs from before runs have none
  const rowsOf = (job: jobs.Job) => {
    const ids = batchJobIds(p, job);
    const run = modelRuns.find((r) => r.jobId !== null && ids.has(r.jobId)) ?? null;
    const rows = run ? results.list(p, { runId: run.id }) : results.list(p, { modelId: model.id, source: 'inspection' }).filter((r) => r.jobId !== null && ids.has(r.jobId));
    return { rows, run };
  };
  if (jobId !== undefined) {
    const job = jobs.get(p, jobId);
    if (!isInspectOf(job, model.id)) throw new ApiError('BAD_INPUT', `job ${jobId} is not an inspection by model ${model.id} (it is a ${job.kind} job): pick one of the model's inspect jobs (argus jobs)`);
    const { rows, run } = rowsOf(job);
    if (rows.length === 0) throw new ApiError('BAD_INPUT', `inspection job ${jobId} has no results of model ${model.id} (it did not finish any)`);
    return { job, rows, run };
  }
  for (const job of jobs.list(p).filter((j) => isInspectOf(j, model.id))) {
    const { rows, run } = rowsOf(job);
    if (rows.length > 0) return { job, rows, run };
  }
  throw new ApiError('BAD_INPUT', `model ${model.id} has no inspection results yet: run an inspection (argus inspect) first`);
}

export function buildInspectionReport(p: Project, input: InspectionReportInput): InspectionReport {
  const model = models.get(p, input.modelId);
  const product = products.get(p, model.productId);
  const { job, rows, run } = inspectionBatch(p, model, input.jobId);
  const sorted = [...rows].sort((a, b) => b.score - a.score || a.id - b.id);
  const imageOf = new Map(rows.map((r) => [r.imageId, images.get(p, r.imageId)]));
  const refined = refinements.forResults(p, rows.map((r) => r.id));
  const decided = decisions.latestFor(p, [...imageOf.keys()]);
  const thresholdById = new Map(thresholds.list(p, model.id).map((t) => [t.id, t]));
  const used = [...new Set(rows.map((r) => r.thresholdId))].map((id) => (id === null ? undefined : thresholdById.get(id)));
  const threshold = used.length === 1 ? used[0] : undefined;
  const good = goodReference(p, model.id);
  const areaOf = (r: results.Result) => refined.get(r.id)?.defectAreaPx ?? r.defectAreaPx;
  const areaText = (r: results.Result) => (areaOf(r) === null ? '-' : `${areaOf(r)}${refined.has(r.id) ? ' (refined)' : ''}`);
  const percentileOf = (r: results.Result) => goodPercentile(good, r.score);
  const versionOf = (r: results.Result) => (r.thresholdId === null ? '' : String(thresholdById.get(r.thresholdId)?.version ?? ''));
  const manifestSha256 = createHash('sha256').update(JSON.stringify(sorted.map((r) => [r.id, r.imageId, r.score, r.verdict, r.createdAt, refined.get(r.id)?.createdAt ?? null, decided.get(r.imageId)?.id ?? null]))).digest('hex');
  const title = input.title ?? `Inspection report: ${product.name}, ${run ? run.name : `batch ${job.id}`}, model v${model.version}`;

  const csv = () => csvText(INSPECTION_CSV_COLUMNS, sorted.map((r) => {
    const img = imageOf.get(r.imageId)!;
    const d = decided.get(r.imageId);
    const pct = percentileOf(r);
    return [
      r.id, r.imageId, img.originalPath, img.sha256, img.split, img.verdict, r.score, pct === null ? '' : pct.toFixed(2), r.verdict, areaOf(r), model.version, versionOf(r),
      r.jobId, r.createdAt, refined.has(r.id) ? 'refined' : r.maskSha256 !== null ? 'detector' : '', r.defectAreaPx,
      d?.verdict, d?.defectType, d?.note, d?.decidedBy, d?.decidedAt,
    ];
  }));

  const document = async (): Promise<ReportDocument> => {
    const counts = { pass: 0, review: 0, fail: 0, unjudged: 0 };
    for (const r of rows) counts[r.verdict]++;
    const batchJobs = [...batchJobIds(p, job)].map((id) => jobs.get(p, id)).sort((a, b) => a.id - b.id);
    const seconds = batchJobs.reduce((s, j) => s + (secondsBetween(j.startedAt, j.finishedAt) ?? 0), 0);
    const first = batchJobs[0]!;
    const last = batchJobs[batchJobs.length - 1]!;
    const overridden = rows.filter((r) => {
      const d = decided.get(r.imageId);
      return d !== undefined && ((r.verdict === 'pass' && d.verdict === 'fail') || (r.verdict === 'fail' && d.verdict === 'pass'));
    }).length;
    const share = (n: number) => `${((100 * n) / rows.length).toFixed(1)} %`;
    const flagged = sorted.filter((r) => r.verdict === 'fail' || r.verdict === 'review');
    const pictures: Picture[] = [];
    for (const r of flagged.slice(0, MAX_BATCH_PICTURES)) {
      const img = imageOf.get(r.imageId)!;
      const pct = percentileOf(r);
      pictures.push(await resultPicture(p, r, [fileName(img), `score ${num(r.score)} - ${r.verdict}${pct !== null ? ` - above ${pct.toFixed(1)} % of good parts` : ''}`, `defect area ${areaText(r)} px`]));
    }
    const blocks: Block[] = [
      { type: 'heading', text: 'Batch' },
      {
        type: 'keyValues', rows: [
          ['Project', `${p.name} (${p.dir})`],
          ['Product', product.name],
          ['Inspection job', batchJobs.length > 1 ? `${job.id} (resumed: jobs ${batchJobs.map((j) => j.id).join(', ')})` : `${job.id} (${job.status})`],
          ['Started', first.startedAt ?? '-'],
          ['Finished', last.finishedAt ?? `- (${last.status})`],
          ['Duration', seconds > 0 ? formatDuration(seconds) : '-'],
          ['Throughput', seconds > 0 ? `${(rows.length / (seconds / 60)).toFixed(1)} parts per minute (${(seconds / rows.length).toFixed(2)} s per part)` : '-'],
          ['Parts inspected', String(rows.length)],
          ['Reviewer decisions', `${decided.size} part(s) decided by a person, ${overridden} against the model's verdict`],
          ['Results manifest sha256', manifestSha256],
        ],
      },
      {
        type: 'table',
        columns: [{ title: 'Verdict' }, { title: 'Parts', align: 'right' }, { title: 'Share', align: 'right' }],
        rows: [['pass', String(counts.pass), share(counts.pass)], ['review', String(counts.review), share(counts.review)], ['fail', String(counts.fail), share(counts.fail)],
          ...(counts.unjudged ? [['unjudged (no threshold)', String(counts.unjudged), share(counts.unjudged)]] : [])],
      },
      ...modelSection(p, model).blocks,
      { type: 'heading', text: 'Threshold policy' },
      ...(used.length <= 1
        ? [{ type: 'keyValues' as const, rows: thresholdRows(threshold) }]
        : [{ type: 'paragraph' as const, text: `This batch was judged under ${used.length} threshold versions (the threshold changed while it ran):` },
          ...used.map((t) => ({ type: 'keyValues' as const, rows: thresholdRows(t) }))]),
      { type: 'heading', text: `Failing and review parts (${flagged.length})` },
      ...(flagged.length === 0
        ? [{ type: 'paragraph' as const, text: 'No part of this batch failed or needs review.' }]
        : [
          {
            type: 'table' as const,
            columns: [{ title: 'File', weight: 3 }, { title: 'Score', align: 'right' as const }, { title: 'Good pct.', align: 'right' as const }, { title: 'Verdict' }, { title: 'Defect area px', align: 'right' as const, weight: 1.3 }, { title: 'Reviewer', weight: 1.5 }],
            rows: flagged.map((r) => {
              const d = decided.get(r.imageId);
              const pct = percentileOf(r);
              return [imageOf.get(r.imageId)!.originalPath, num(r.score), pct === null ? '-' : pct.toFixed(1), r.verdict, areaText(r), d ? `${d.verdict}${d.defectType ? ` (${d.defectType})` : ''} by ${d.decidedBy}` : '-'];
            }),
          },
          { type: 'subheading' as const, text: 'Overlays: anomaly heatmap, detector outline white, refined outline green, ground truth magenta' },
          { type: 'pictures' as const, pictures },
          ...moreNote(pictures.length, flagged.length, 'failing and review parts'),
        ]),
      ...signOffBlocks(input.signOff),
      { type: 'appendix', text: 'Appendix: every inspected part' },
      { type: 'paragraph', text: `Model version ${model.version}; "Good pct." is the percentage of good parts the model was not fitted on (${good.split ?? 'none yet'} split) that score lower. Highest score first.` },
      {
        type: 'table', small: true,
        columns: [{ title: 'File', weight: 3.2 }, { title: 'sha256', fit: true }, { title: 'Score', align: 'right', weight: 0.9 }, { title: 'Good pct.', align: 'right', weight: 0.8 }, { title: 'Verdict', weight: 0.8 }, { title: 'Area px', align: 'right', weight: 1 }, { title: 'Thr. v', align: 'right', weight: 0.6 }],
        rows: sorted.map((r) => {
          const img = imageOf.get(r.imageId)!;
          const pct = percentileOf(r);
          return [img.originalPath, img.sha256, num(r.score), pct === null ? '-' : pct.toFixed(1), r.verdict, areaText(r), versionOf(r) || '-'];
        }),
      },
    ];
    const asOf = newest([
      last.finishedAt, model.createdAt, ...used.map((t) => t?.createdAt), ...rows.map((r) => r.createdAt),
      ...[...refined.values()].map((r) => r.createdAt), ...[...decided.values()].map((d) => d.decidedAt),
    ], model.createdAt);
    return {
      title,
      subtitle: `Project ${p.name} - product ${product.name} - model v${model.version} (${model.method}) - threshold ${threshold ? `v${threshold.version}` : used.length > 1 ? 'several versions' : 'none'} - ${run ? `run ${run.name} (job ${job.id})` : `batch ${job.id}`}`,
      asOf, blocks,
    };
  };

  return { productId: product.id, modelId: model.id, jobId: job.id, thresholdId: threshold?.id ?? null, title, manifestSha256, document, csv };
}
