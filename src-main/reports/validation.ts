/**
 * The validation report of one model version and one threshold version on the frozen test set of its
 * latest evaluation record (store/evaluations.ts: each image's label, defect type and score then):
 * the dataset manifest (counts, manifest hash, every image hash in an appendix), the model, the
 * threshold policy, metrics with 95 % confidence intervals, the confusion matrix at the threshold,
 * ROC and score histogram, results per defect type, false accepts and false rejects with overlays,
 * and a sign-off block. A CSV carries the same per-image rows.
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../api/contract.ts';
import { evaluations, images, models, products, results, thresholds, type Project } from '../store/index.ts';
import { auroc, wilsonInterval } from '../metrics/index.ts';
import { recallByDefectType } from '../services/evaluations.ts';
import { dataManifestSha256, trainingImages } from '../services/training.ts';
import { scoreBins } from './chart.ts';
import { csvText } from './csv.ts';
import { fixed, newest, num, percent, type Block, type Picture, type ReportDocument, type SignOff } from './document.ts';
import { fileName, modelSection, moreNote, resultPicture, signOffBlocks, thresholdRows } from './sections.ts';

/** False accepts and false rejects shown as pictures, each (the rest are listed). */
export const MAX_ERROR_PICTURES = 12;

export const VALIDATION_CSV_COLUMNS = ['image_id', 'file', 'sha256', 'split', 'label', 'defect_type', 'score', 'verdict', 'outcome', 'model_version', 'threshold_version'] as const;

export interface ValidationReportInput {
  readonly modelId: number;
  /** The threshold version to judge at; default: the model's latest. */
  readonly thresholdId?: number;
  readonly title?: string;
  readonly signOff: SignOff;
}

export interface ValidationReport {
  readonly productId: number;
  readonly modelId: number;
  readonly thresholdId: number;
  readonly title: string;
  /** sha256 over the sorted (image id, sha256, split, label) of every image the report covers. */
  readonly manifestSha256: string;
  readonly document: () => Promise<ReportDocument>;
  readonly csv: () => string;
}

interface Scored {
  /** The image as stored now (path, hash); its label and score are the evaluation's. */
  readonly image: images.Image;
  readonly evaluated: evaluations.EvaluatedImage;
  readonly score: number;
  readonly defective: boolean;
  readonly verdict: 'pass' | 'review' | 'fail';
}

type Outcome = 'correct pass' | 'correct reject' | 'false accept' | 'false reject' | 'review';

function outcome(s: Scored): Outcome {
  if (s.verdict === 'review') return 'review';
  if (s.defective) return s.verdict === 'fail' ? 'correct reject' : 'false accept';
  return s.verdict === 'pass' ? 'correct pass' : 'false reject';
}

const interval = (i: { low: number; high: number } | null | undefined) => (i ? `[${fixed(i.low)}, ${fixed(i.high)}]` : '-');

export function buildValidationReport(p: Project, input: ValidationReportInput): ValidationReport {
  const model = models.get(p, input.modelId);
  const product = products.get(p, model.productId);
  const threshold = input.thresholdId !== undefined ? thresholds.get(p, input.thresholdId) : thresholds.latest(p, model.id);
  if (!threshold) throw new ApiError('BAD_INPUT', `model ${model.id} has no threshold yet: evaluate it (argus evaluate) or set one on the Thresholds screen`);
  if (threshold.modelId !== model.id) throw new ApiError('BAD_INPUT', `threshold ${threshold.id} belongs to model ${threshold.modelId}, not to model ${model.id}`);
  const record = evaluations.latest(p, model.id);
  if (!record) throw new ApiError('BAD_INPUT', `model ${model.id} has not been evaluated yet: run argus evaluate (or Evaluate in the station) first`);
  const scored: Scored[] = record.images.map((e) => ({
    image: images.get(p, e.imageId), evaluated: e, score: e.score, defective: e.verdict === 'defective', verdict: thresholds.decide(threshold, e.score),
  }));
  if (scored.length === 0) throw new ApiError('BAD_INPUT', `evaluation ${record.id} of model ${model.id} holds no test images: import labelled test images and evaluate again`);
  const evaluatedOf = new Map(scored.map((s) => [s.image.id, s.evaluated]));
  const labelOf = (i: images.Image) => evaluatedOf.get(i.id)?.verdict ?? i.verdict;
  const defectTypeOf = (i: images.Image) => evaluatedOf.get(i.id)?.defectType ?? i.defectType;
  const training = trainingImages(p, model.productId);
  const covered = [...training.filter((i) => !evaluatedOf.has(i.id)), ...scored.map((s) => s.image)].sort((a, b) => a.id - b.id);
  const splitOf = (i: images.Image) => evaluatedOf.get(i.id)?.split ?? i.split;
  const manifestSha256 = createHash('sha256').update(JSON.stringify(covered.map((i) => [i.id, i.sha256, splitOf(i), labelOf(i)]))).digest('hex');
  const title = input.title ?? `Validation report: ${product.name}, model v${model.version}, threshold v${threshold.version}`;
  const byScore = [...scored].sort((a, b) => b.score - a.score || a.image.id - b.image.id);

  const csv = () => csvText(VALIDATION_CSV_COLUMNS, byScore.map((s) => [
    s.image.id, s.image.originalPath, s.image.sha256, s.evaluated.split, s.evaluated.verdict, s.evaluated.defectType, s.score, s.verdict, outcome(s), model.version, threshold.version,
  ]));

  const document = async (): Promise<ReportDocument> => {
    const good = scored.filter((s) => !s.defective);
    const bad = scored.filter((s) => s.defective);
    const count = (list: readonly Scored[], v: Scored['verdict']) => list.filter((s) => s.verdict === v).length;

    // dataset manifest
    const splits = ['train', 'validation', 'test'] as const;
    const verdicts = ['good', 'defective', 'unlabelled'] as const;
    const countRows = splits.map((split) => {
      const inSplit = covered.filter((i) => splitOf(i) === split);
      return [split, ...verdicts.map((v) => String(inSplit.filter((i) => labelOf(i) === v).length)), String(inSplit.length)];
    }).filter((r) => r[4] !== '0');
    const settings = Object.fromEntries(Object.entries((model.config ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'trained'));
    const extended = 'extendedFrom' in settings;
    const trainingMatches = !extended && dataManifestSha256(training, settings) === model.dataManifestSha256;

    // metrics
    const metrics = record.metrics;
    const iv = metrics.intervals;
    const stored = (key: 'imageAuroc' | 'imageF1' | 'f1Threshold' | 'pixelAuroc' | 'pixelF1' | 'pixelF1Threshold' | 'aupro' | 'pixelImages') => metrics[key];
    const metricRows: string[][] = [
      ['Image AUROC', fixed(stored('imageAuroc')), interval(iv['imageAuroc']), 'ranking of all test images by score'],
      ['Image F1 (best threshold)', fixed(stored('imageF1')), interval(iv['imageF1']), `at score ${num(stored('f1Threshold'))}`],
      ['Pixel AUROC', fixed(stored('pixelAuroc')), interval(iv['pixelAuroc']), `${num(stored('pixelImages'))} images with masks`],
      ['Pixel F1 (best threshold)', fixed(stored('pixelF1')), interval(iv['pixelF1']), `at map value ${num(stored('pixelF1Threshold'))}`],
      ['AUPRO (FPR <= 0.3)', fixed(stored('aupro')), interval(iv['aupro']), 'per-region overlap'],
    ];
    const rate = (k: number, n: number): string[] => [n ? fixed(k / n) : '-', interval(wilsonInterval(k, n)), `${k} of ${n}`];
    const fr = count(good, 'fail');
    const fa = count(bad, 'pass');
    const thresholdRowsAt: string[][] = [
      ['Detection rate (defective not passed)', ...rate(bad.length - fa, bad.length)],
      ['False accept rate (defective passed)', ...rate(fa, bad.length)],
      ['False reject rate (good failed)', ...rate(fr, good.length)],
      ['Review rate (sent to a person)', ...rate(count(scored, 'review'), scored.length)],
    ];

    // figures
    const opFpr = good.length ? good.filter((s) => s.score >= threshold.imageThreshold).length / good.length : 0;
    const opTpr = bad.length ? bad.filter((s) => s.score >= threshold.imageThreshold).length / bad.length : 0;
    const roc = record.curves.roc;

    // per defect type
    const goodMean = good.reduce((a, s) => a + s.score, 0) / (good.length || 1);
    const typeRows = [
      ['good', String(good.length), String(count(good, 'pass')), String(count(good, 'review')), String(count(good, 'fail')), '-', '-', num(goodMean)],
      ...recallByDefectType(record.images, threshold).map((r) => {
        const list = bad.filter((s) => s.evaluated.defectType === r.defectType);
        const both = [...list, ...good];
        return [r.defectType ?? '(unnamed)', String(r.images), String(count(list, 'pass')), String(count(list, 'review')), String(count(list, 'fail')),
          good.length ? fixed(auroc(both.map((s) => s.score), both.map((s) => (s.defective ? 1 : 0)))) : '-', percent(r.recall), num(list.reduce((a, s) => a + s.score, 0) / list.length)];
      }),
    ];

    // false accepts and false rejects
    const falseAccepts = byScore.filter((s) => outcome(s) === 'false accept').reverse();
    const falseRejects = byScore.filter((s) => outcome(s) === 'false reject');
    // overlays from the model's stored result of the image (its anomaly map); an image without one is listed only
    const pictured: string[] = [];
    const pictures = async (list: readonly Scored[]): Promise<Picture[]> => {
      const out: Picture[] = [];
      for (const s of list) {
        if (out.length === MAX_ERROR_PICTURES) break;
        const result = results.findFor(p, s.image.id, model.id);
        if (result) pictured.push(result.createdAt);
        if (result) out.push(await resultPicture(p, result, [fileName(s.image), `score ${num(s.score)} - ${s.verdict}`, s.defective ? `defective (${s.evaluated.defectType ?? 'unnamed'})` : 'good part']));
      }
      return out;
    };
    const errorTable = (list: readonly Scored[]): Block => ({
      type: 'table',
      columns: [{ title: 'File', weight: 4 }, { title: 'Label', weight: 1.3 }, { title: 'Score', align: 'right' }],
      rows: list.map((s) => [s.image.originalPath, s.defective ? `defective (${s.evaluated.defectType ?? '-'})` : 'good', num(s.score)]),
    });
    const errorSection = async (name: string, list: readonly Scored[], none: string): Promise<Block[]> => {
      if (list.length === 0) return [{ type: 'subheading', text: `${name} (0)` }, { type: 'paragraph', text: none }];
      const pics = await pictures(list);
      return [{ type: 'subheading', text: `${name} (${list.length})` }, errorTable(list), { type: 'pictures', pictures: pics }, ...moreNote(pics.length, list.length, name.toLowerCase())];
    };

    const blocks: Block[] = [
      { type: 'heading', text: 'Scope' },
      {
        type: 'keyValues', rows: [
          ['Project', `${p.name} (${p.dir})`],
          ['Product', product.name],
          ['Model', `version ${model.version} (${model.method})`],
          ['Threshold', `version ${threshold.version}`],
          ['Test set', `${scored.length} labelled images not used for training: ${good.length} good, ${bad.length} defective`],
          ['Evaluation', `record ${record.id}${record.jobId !== null ? ` (job ${record.jobId})` : ''}, ${record.evaluatedAt}: the test set, its labels and scores are frozen there`],
        ],
      },
      { type: 'heading', text: 'Dataset manifest' },
      {
        type: 'table',
        columns: [{ title: 'Split' }, { title: 'Good', align: 'right' }, { title: 'Defective', align: 'right' }, { title: 'Unlabelled', align: 'right' }, { title: 'Total', align: 'right' }],
        rows: [...countRows, ['all', ...verdicts.map((v) => String(covered.filter((i) => labelOf(i) === v).length)), String(covered.length)]],
      },
      {
        type: 'keyValues', rows: [
          ['Manifest sha256', manifestSha256],
          ['Manifest', 'sha256 of the JSON list of [image id, image sha256, split, label] of every image above, sorted by id; every image hash is listed in the appendix'],
          ['Training images match the model', extended ? 'not checked: the model extends an earlier version with added normal images' : trainingMatches ? "yes: the training images listed here give the model's training-data manifest hash" : "no: the training images changed since the model was trained (its training-data manifest hash differs)"],
        ],
      },
      ...modelSection(p, model).blocks,
      { type: 'heading', text: 'Threshold policy' },
      { type: 'keyValues', rows: thresholdRows(threshold) },
      { type: 'heading', text: 'Metrics' },
      { type: 'paragraph', text: `Threshold-free metrics of the evaluation, with ${Math.round(100 * iv.level)} % bootstrap confidence intervals over the test images (${iv.resamples} resamples).` },
      {
        type: 'table',
        columns: [{ title: 'Metric', weight: 2 }, { title: 'Value', align: 'right' }, { title: `${Math.round(100 * iv.level)} % CI`, align: 'right', weight: 1.4 }, { title: 'Note', weight: 2 }],
        rows: metricRows,
      },
      { type: 'paragraph', text: `At threshold version ${threshold.version}, with 95 % Wilson score intervals:` },
      { type: 'table', columns: [{ title: 'Rate', weight: 2.4 }, { title: 'Value', align: 'right' }, { title: '95 % CI', align: 'right', weight: 1.4 }, { title: 'Parts', align: 'right' }], rows: thresholdRowsAt },
      { type: 'heading', text: `Confusion matrix at threshold version ${threshold.version}` },
      {
        type: 'table',
        columns: [{ title: 'Actual \\ verdict', weight: 1.5 }, { title: 'pass', align: 'right' }, { title: 'review', align: 'right' }, { title: 'fail', align: 'right' }, { title: 'Total', align: 'right' }],
        rows: [
          ['good', String(count(good, 'pass')), String(count(good, 'review')), String(count(good, 'fail')), String(good.length)],
          ['defective', String(count(bad, 'pass')), String(count(bad, 'review')), String(count(bad, 'fail')), String(bad.length)],
          ['total', String(count(scored, 'pass')), String(count(scored, 'review')), String(count(scored, 'fail')), String(scored.length)],
        ],
      },
      { type: 'paragraph', text: 'Verdicts are recomputed from the stored scores under this threshold version, whatever threshold was current when the images were scored.' },
      {
        type: 'figures', charts: [
          ...(roc ? [{ kind: 'roc' as const, points: roc.fpr.map((x, i) => [x, roc.tpr[i]!] as const), operatingPoint: [opFpr, opTpr] as const, label: `ROC, image AUROC ${fixed(metrics.imageAuroc)}` }] : []),
          { kind: 'histogram', bins: scoreBins(scored.map((s) => ({ score: s.score, defective: s.defective }))), threshold: threshold.imageThreshold, reviewBand: threshold.reviewLow !== null && threshold.reviewHigh !== null ? [threshold.reviewLow, threshold.reviewHigh] : null, label: 'Score histogram' },
        ],
      },
      { type: 'paragraph', text: `Left: ROC curve of the test images; the dot is the image threshold's operating point (false positive rate ${fixed(opFpr)}, true positive rate ${fixed(opTpr)}). Right: image scores of good and defective test images; dashed line: image threshold ${num(threshold.imageThreshold)}${threshold.reviewLow !== null ? `; shaded: review band` : ''}.` },
      { type: 'heading', text: 'Results per defect type' },
      {
        type: 'table',
        columns: [{ title: 'Type', weight: 1.6 }, { title: 'Images', align: 'right' }, { title: 'Pass', align: 'right' }, { title: 'Review', align: 'right' }, { title: 'Fail', align: 'right' }, { title: 'AUROC vs good', align: 'right', weight: 1.2 }, { title: 'Caught', align: 'right' }, { title: 'Mean score', align: 'right' }],
        rows: typeRows,
      },
      { type: 'paragraph', text: 'Caught: share of the type the threshold does not pass (fail, or review: a person looks at those).' },
      { type: 'heading', text: 'False accepts and false rejects' },
      { type: 'paragraph', text: 'Overlays: anomaly heatmap, detector outline white, refined outline green, ground truth magenta.' },
      ...(await errorSection('False accepts', falseAccepts, 'No defective test image passed.')),
      ...(await errorSection('False rejects', falseRejects, 'No good test image failed.')),
      ...signOffBlocks(input.signOff),
      { type: 'appendix', text: 'Appendix: image hashes' },
      { type: 'paragraph', text: `Every image of the manifest (${covered.length}), by id: the training images and the test set.` },
      {
        type: 'table', small: true,
        columns: [{ title: 'Id', align: 'right', weight: 0.5 }, { title: 'Split', weight: 0.8 }, { title: 'Label', weight: 1.1 }, { title: 'sha256', fit: true }, { title: 'File', weight: 3.2 }],
        rows: covered.map((i) => [String(i.id), splitOf(i), labelOf(i) === 'defective' && defectTypeOf(i) ? `defective (${defectTypeOf(i)})` : labelOf(i), i.sha256, i.originalPath]),
      },
    ];
    const asOf = newest([model.createdAt, record.evaluatedAt, threshold.createdAt, ...covered.map((i) => i.createdAt), ...pictured], record.evaluatedAt);
    return {
      title,
      subtitle: `Project ${p.name} - product ${product.name} - model v${model.version} (${model.method}) - threshold v${threshold.version}`,
      asOf, blocks,
    };
  };

  return { productId: product.id, modelId: model.id, thresholdId: threshold.id, title, manifestSha256, document, csv };
}
