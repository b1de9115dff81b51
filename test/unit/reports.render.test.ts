/**
 * The report renderers on a document made to stress the layout: a table longer than a page, a path
 * with no place to break, figures, a sign-off block. The PDF is read back with poppler (pdftotext,
 * pdfinfo) as a reader's tools would.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scoreBins } from '../../src-main/reports/chart.ts';
import type { ReportDocument } from '../../src-main/reports/document.ts';
import { renderHtml } from '../../src-main/reports/render-html.ts';
import { renderPdf, winAnsi } from '../../src-main/reports/render-pdf.ts';

const dir = mkdtempSync(join(tmpdir(), 'argus-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LONG_PATH = `/line3/${'camera-left/'.repeat(14)}part_000123_with_a_very_long_unbroken_name.png`;
const HASH = 'ab'.repeat(32);

function stressDocument(asOf = '2026-03-01T10:00:00.000Z'): ReportDocument {
  const scores = Array.from({ length: 40 }, (_, i) => ({ score: (i % 10) + (i % 4 === 0 ? 8 : 0), defective: i % 4 === 0 }));
  return {
    title: 'Layout check', subtitle: 'a document longer than a page', asOf,
    blocks: [
      { type: 'heading', text: 'Key values' },
      { type: 'keyValues', rows: [['Manifest sha256', HASH], ['Long path', LONG_PATH]] },
      { type: 'figures', charts: [
        { kind: 'roc', points: [[0, 0], [0.1, 0.7], [0.4, 1], [1, 1]], operatingPoint: [0.1, 0.7], label: 'ROC' },
        { kind: 'histogram', bins: scoreBins(scores), threshold: 8, reviewBand: [7, 9], label: 'Scores' },
      ] },
      { type: 'heading', text: 'Rows' },
      {
        type: 'table', small: true,
        columns: [{ title: 'Row', align: 'right', weight: 0.5 }, { title: 'Hash', fit: true }, { title: 'File', weight: 3 }],
        rows: Array.from({ length: 160 }, (_, i) => [String(i + 1), HASH, i === 7 ? LONG_PATH : `/line3/part_${i}.png`]),
      },
      { type: 'signOff', preparedBy: 'Anna Weber', reviewedBy: 'Bo Kim', role: 'Quality engineer' },
    ],
  };
}

async function pdfFile(doc: ReportDocument, name: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, await renderPdf(doc));
  return file;
}

describe('the PDF renderer', () => {
  it('numbers every page "Page n of N" and repeats the table header on each page the table continues on', async () => {
    const file = await pdfFile(stressDocument(), 'stress.pdf');
    const pages = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }).split('\f').filter((t) => t.trim() !== '');
    expect(pages.length).toBeGreaterThanOrEqual(3);
    pages.forEach((text, i) => expect(text).toContain(`Page ${i + 1} of ${pages.length}`));
    for (const text of pages.slice(1, -1)) expect(text.trimStart()).toMatch(/^Row\s+Hash\s+File/);
    // every row is there once, in order
    const rows = pages.join('\n').match(/^\s*(\d+)\s+(?:ab){32}/gm)!.map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(rows).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
  });

  it('wraps a long path inside its cell and keeps every word on the page', async () => {
    const file = await pdfFile(stressDocument(), 'wrap.pdf');
    const text = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' });
    expect(text.replace(/\s+/g, '')).toContain(LONG_PATH);
    expect(text).toContain(HASH);
    const bbox = execFileSync('pdftotext', ['-bbox', file, '-'], { encoding: 'utf8' });
    const [, width, height] = /<page width="([\d.]+)" height="([\d.]+)"/.exec(bbox)!.map(Number);
    const words = [...bbox.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">/g)].map((m) => m.slice(1).map(Number));
    expect(words.length).toBeGreaterThan(500);
    for (const [xMin, yMin, xMax, yMax] of words) {
      expect(xMin).toBeGreaterThanOrEqual(0);
      expect(yMin).toBeGreaterThanOrEqual(0);
      expect(xMax).toBeLessThanOrEqual(width!);
      expect(yMax).toBeLessThanOrEqual(height!);
    }
  });

  it('gives the same bytes for the same document, dated by its asOf, and other bytes for another asOf', async () => {
    const a = await renderPdf(stressDocument());
    const b = await renderPdf(stressDocument());
    expect(b.equals(a)).toBe(true);
    const later = await renderPdf(stressDocument('2026-03-02T10:00:00.000Z'));
    expect(later.equals(a)).toBe(false);
    const info = execFileSync('pdfinfo', ['-isodates', await pdfFile(stressDocument(), 'info.pdf')], { encoding: 'utf8' });
    expect(info).toMatch(/CreationDate:\s+2026-03-01T10:00:00/);
    expect(info).toMatch(/Title:\s+Layout check/);
  });

  it('prints characters outside the built-in fonts as "?"', () => {
    expect(winAnsi('Prüfteil – Ø 12 mm')).toBe('Prüfteil – Ø 12 mm');
    expect(winAnsi('零件 ≥ 3')).toBe('?? ? 3');
  });
});

describe('the HTML renderer', () => {
  it('carries the same values, the figures as SVG and the sign-off block', () => {
    const html = renderHtml(stressDocument());
    for (const v of [HASH, LONG_PATH, 'Anna Weber', 'Quality engineer', 'Prepared by', 'Reviewed by', 'Signature', 'Page " counter(page) " of " counter(pages)']) expect(html).toContain(v);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html.match(/<tr>/g)!.length).toBeGreaterThanOrEqual(160);
  });

  it('escapes text, so a file name cannot inject markup', () => {
    const html = renderHtml({ title: '<b>x</b>', subtitle: '', asOf: '2026-01-01T00:00:00Z', blocks: [{ type: 'paragraph', text: '<script>alert(1)</script>' }] });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });
});
