/**
 * Inspection reports of a model: CSV (one row per result, for spreadsheets and MES imports) or a
 * self-contained HTML page (summary, metrics, threshold, every result, overlays of the worst images)
 * that opens on any offline PC. Stored as blobs; the manifest hash names the exact results reported.
 * Where a result was refined (F2PAD), its defect area and outline are the refined mask's. The CSV
 * carries each part's latest reviewer decision beside the model's verdict (decisions.ts).
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../api/contract.ts';
import { decisions, images, models, products, refinements, reports, results, thresholds, type Project } from '../store/index.ts';
import { goodPercentile, goodReference } from './percentiles.ts';
import { resultOverlay } from './pictures.ts';

/** Overlays embedded in an HTML report: the highest-scoring results that did not pass. */
const MAX_OVERLAYS = 24;

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // a leading = + - @ would be run as a formula by spreadsheet programs
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === null || v === undefined ? '–' : String(v);
}

export async function createReport(p: Project, input: { modelId: number; format: 'html' | 'csv'; title?: string }): Promise<reports.Report> {
  const model = models.get(p, input.modelId);
  const product = products.get(p, model.productId);
  const threshold = thresholds.latest(p, model.id);
  const rows = results.list(p, { modelId: model.id });
  if (rows.length === 0) throw new ApiError('BAD_INPUT', `model ${model.id} has no results yet: inspect or evaluate first`);
  const imageOf = new Map(rows.map((r) => [r.imageId, images.get(p, r.imageId)]));
  const refined = refinements.forModel(p, model.id);
  const decided = decisions.latestFor(p, [...imageOf.keys()]);
  const areaOf = (r: results.Result) => refined.get(r.id)?.defectAreaPx ?? r.defectAreaPx;
  const outlineOf = (r: results.Result) => (refined.has(r.id) ? 'refined' : r.maskSha256 !== null ? 'detector' : '');
  const title = input.title ?? `${product.name}: inspection with model v${model.version} (${model.method})`;
  const manifest = createHash('sha256').update(JSON.stringify(rows.map((r) => [r.id, r.imageId, r.score, r.verdict, r.createdAt, refined.get(r.id)?.createdAt ?? null, decided.get(r.imageId)?.id ?? null]))).digest('hex');
  const counts = { pass: 0, review: 0, fail: 0, unjudged: 0 };
  for (const r of rows) counts[r.verdict]++;
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  let text: string;
  if (input.format === 'csv') {
    const good = goodReference(p, model.id);
    const header = ['result_id', 'image_id', 'original_path', 'sha256', 'split', 'label', 'score', 'good_percentile', 'verdict', 'defect_area_px', 'model_version', 'threshold_version', 'inspected_at', 'outline', 'detector_defect_area_px',
      'reviewer_verdict', 'reviewer_defect_type', 'reviewer_note', 'reviewed_by', 'reviewed_at'];
    const versionOf = new Map(thresholds.list(p, model.id).map((t) => [t.id, t.version]));
    const lines = sorted.map((r) => {
      const img = imageOf.get(r.imageId)!;
      const percentile = goodPercentile(good, r.score);
      const fields = [r.id, r.imageId, img.originalPath, img.sha256, img.split, img.verdict, r.score, percentile === null ? '' : percentile.toFixed(2), r.verdict, areaOf(r), model.version,
        r.thresholdId === null ? '' : versionOf.get(r.thresholdId), r.createdAt, outlineOf(r), r.defectAreaPx];
      const d = decided.get(r.imageId);
      return [...fields, d?.verdict, d?.defectType, d?.note, d?.decidedBy, d?.decidedAt].map(csvField).join(',');
    });
    text = [header.join(','), ...lines].join('\r\n') + '\r\n';
  } else {
    const worst = sorted.filter((r) => r.verdict !== 'pass').slice(0, MAX_OVERLAYS);
    const figures: string[] = [];
    for (const r of worst) {
      const isRefined = refined.has(r.id);
      const pic = await resultOverlay(p, r.id, 384, { heatmap: true, detector: !isRefined, refined: true, truth: false });
      const img = imageOf.get(r.imageId)!;
      const area = areaOf(r);
      figures.push(`<figure><img alt="result ${r.id}" src="data:image/png;base64,${pic.base64}"><figcaption>${escapeHtml(img.originalPath.split(/[\\/]/).pop() ?? '')}<br>score ${fmt(r.score)} · ${r.verdict}${area !== null ? ` · ${area} px${isRefined ? ' (refined outline)' : ''}` : ''}</figcaption></figure>`);
    }
    const metrics = (model.metrics ?? {}) as Record<string, unknown>;
    const metricRows = ['imageAuroc', 'pixelAuroc', 'aupro', 'imageF1', 'images', 'good', 'defective']
      .filter((k) => k in metrics).map((k) => `<tr><th>${k}</th><td>${fmt(metrics[k])}</td></tr>`).join('');
    const resultRows = sorted.map((r) => {
      const img = imageOf.get(r.imageId)!;
      return `<tr class="${r.verdict}"><td>${r.imageId}</td><td>${escapeHtml(img.originalPath)}</td><td>${img.verdict}</td><td>${fmt(r.score)}</td><td>${r.verdict}</td><td>${fmt(areaOf(r))}${refined.has(r.id) ? ' (refined)' : ''}</td></tr>`;
    }).join('\n');
    text = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.fail td{background:#fde2e2}tr.review td{background:#fff4d6}figure{display:inline-block;margin:6px;width:260px;vertical-align:top}figure img{width:100%}figcaption{font-size:12px}
.counts span{display:inline-block;margin-right:1.5em;font-size:18px}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Product <b>${escapeHtml(product.name)}</b> · model v${model.version} (${escapeHtml(model.method)}, backbone ${escapeHtml(model.backboneId)} ${model.backboneSha256.slice(0, 12)}) ·
threshold ${threshold ? `v${threshold.version}: image ${fmt(threshold.imageThreshold)}${threshold.reviewLow !== null ? `, review band [${fmt(threshold.reviewLow)}, ${fmt(threshold.reviewHigh)})` : ''}${threshold.pixelThreshold !== null ? `, pixel ${fmt(threshold.pixelThreshold)}` : ''}${threshold.note ? ` — ${escapeHtml(threshold.note)}` : ''}` : 'none (results unjudged)'} ·
generated ${new Date().toISOString()} · results manifest ${manifest.slice(0, 16)}</p>
<p class="counts"><span>${rows.length} inspected</span><span>${counts.pass} pass</span><span>${counts.review} review</span><span>${counts.fail} fail</span>${counts.unjudged ? `<span>${counts.unjudged} unjudged</span>` : ''}</p>
${metricRows ? `<h2>Validation metrics</h2><table>${metricRows}</table>` : ''}
${figures.length ? `<h2>Rejected and review images (highest scores)</h2>${figures.join('\n')}` : ''}
<h2>All results</h2><table><tr><th>image</th><th>file</th><th>label</th><th>score</th><th>verdict</th><th>defect area px</th></tr>
${resultRows}</table></body></html>`;
  }
  return reports.add(p, {
    productId: product.id, modelId: model.id, thresholdId: threshold?.id ?? null, kind: 'inspection', format: input.format, title,
    data: Buffer.from(text, 'utf8'), manifestSha256: manifest,
  });
}

export const MEDIA_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', csv: 'text/csv; charset=utf-8', pdf: 'application/pdf' };
