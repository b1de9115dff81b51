/**
 * A report document as one self-contained HTML page (inline CSS, figures as inline SVG, pictures as
 * data: URLs) that opens on any offline PC and prints on A4 with page numbers.
 */
import { chartShapes, type Shape } from './chart.ts';
import type { Block, Chart, Column, ReportDocument } from './document.ts';

export const FIGURE_SIZE = { width: 250, height: 170 } as const;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const n = (v: number) => String(Math.round(v * 100) / 100);

function svgShape(s: Shape): string {
  switch (s.type) {
    case 'line':
      return `<line x1="${n(s.x1)}" y1="${n(s.y1)}" x2="${n(s.x2)}" y2="${n(s.y2)}" stroke="${s.colour}" stroke-width="${s.width}"${s.dash ? ' stroke-dasharray="3 2"' : ''}/>`;
    case 'polyline':
      return `<polyline fill="none" stroke="${s.colour}" stroke-width="${s.width}" points="${s.points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ')}"/>`;
    case 'rect':
      return `<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.w)}" height="${n(s.h)}" fill="${s.fill}"${s.opacity !== undefined ? ` fill-opacity="${s.opacity}"` : ''}/>`;
    case 'circle':
      return `<circle cx="${n(s.x)}" cy="${n(s.y)}" r="${s.r}" fill="${s.fill}"/>`;
    case 'text':
      return `<text x="${n(s.x)}" y="${n(s.y)}" font-size="${s.size}" text-anchor="${s.anchor}" fill="${s.colour}">${escapeHtml(s.text)}</text>`;
  }
}

function svgChart(c: Chart): string {
  const { width, height } = FIGURE_SIZE;
  return `<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(c.label)}" font-family="Helvetica, Arial, sans-serif">${chartShapes(c, width, height).map(svgShape).join('')}</svg></figure>`;
}

function table(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>, small: boolean): string {
  const total = columns.reduce((s, c) => s + (c.fit ? 0 : c.weight ?? 1), 0);
  const cls = (c: Column) => (c.align === 'right' ? ' class="num"' : c.fit ? ' class="fit"' : '');
  return `<table class="data${small ? ' small' : ''}"><colgroup>${columns.map((c) => (c.fit ? '<col>' : `<col style="width:${((100 * (c.weight ?? 1)) / total).toFixed(1)}%">`)).join('')}</colgroup>
<thead><tr>${columns.map((c) => `<th${cls(c)}>${escapeHtml(c.title)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${r.map((v, i) => `<td${cls(columns[i]!)}>${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

function block(b: Block): string {
  switch (b.type) {
    case 'heading':
      return `<h2>${escapeHtml(b.text)}</h2>`;
    case 'subheading':
      return `<h3>${escapeHtml(b.text)}</h3>`;
    case 'paragraph':
      return `<p>${escapeHtml(b.text)}</p>`;
    case 'appendix':
      return `<h2 class="appendix">${escapeHtml(b.text)}</h2>`;
    case 'keyValues':
      return `<table class="kv">${b.rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
    case 'table':
      return table(b.columns, b.rows, b.small ?? false);
    case 'figures':
      return `<div class="figures">${b.charts.map(svgChart).join('')}</div>`;
    case 'pictures':
      return `<div class="pictures">${b.pictures.map((p) => `<figure><img alt="${escapeHtml(p.caption[0] ?? '')}" width="${p.width}" height="${p.height}" src="data:image/png;base64,${Buffer.from(p.png).toString('base64')}"><figcaption>${p.caption.map(escapeHtml).join('<br>')}</figcaption></figure>`).join('')}</div>`;
    case 'signOff':
      return `<table class="signoff"><thead><tr><th></th><th>Name</th><th>Role</th><th>Date</th><th>Signature</th></tr></thead><tbody>
<tr><th>Prepared by</th><td>${escapeHtml(b.preparedBy)}</td><td>${escapeHtml(b.role)}</td><td class="line"></td><td class="line"></td></tr>
<tr><th>Reviewed by</th><td>${escapeHtml(b.reviewedBy)}</td><td></td><td class="line"></td><td class="line"></td></tr></tbody></table>`;
  }
}

const CSS = `@page{size:A4;margin:18mm 16mm 20mm;@bottom-center{content:"Page " counter(page) " of " counter(pages);font:9px Helvetica,Arial,sans-serif;color:#555}}
body{font:12px/1.4 Helvetica,Arial,sans-serif;color:#1a1a1a;max-width:190mm;margin:2em auto;padding:0 1em}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px;border-bottom:1px solid #bbb;padding-bottom:2px}h3{font-size:13px;margin:14px 0 4px}
.subtitle{color:#444;margin:0}.asof{color:#666;font-size:11px;margin:2px 0 12px}
table{border-collapse:collapse;margin:6px 0;width:100%}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
thead th{background:#eef1f5}td.fit{white-space:nowrap;overflow-wrap:normal;font-family:Helvetica,Arial,sans-serif}table.small{font-size:10px}.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{width:28%;background:#f6f7f9;font-weight:600}
.figures{display:grid;grid-template-columns:1fr 1fr;gap:12px}figure{margin:0}.chart svg{width:100%;height:auto}
.pictures{display:flex;flex-wrap:wrap;gap:10px}.pictures figure{width:150px}.pictures img{width:150px;height:auto;border:1px solid #999}
figcaption{font-size:10px;overflow-wrap:anywhere}
table.signoff td,table.signoff th{height:28px;vertical-align:bottom}table.signoff td.line{width:22%}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr,figure{break-inside:avoid}thead{display:table-header-group}}`;

export function renderHtml(doc: ReportDocument): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>${CSS}</style></head><body>
<h1>${escapeHtml(doc.title)}</h1>
<p class="subtitle">${escapeHtml(doc.subtitle)}</p>
<p class="asof">Data as of ${escapeHtml(doc.asOf)}</p>
${doc.blocks.map(block).join('\n')}
</body></html>
`;
}
