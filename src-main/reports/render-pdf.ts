/**
 * A report document as an A4 PDF (pdfkit: pure JavaScript, no browser in the shipped app). Tables
 * break across pages with their header repeated, long values wrap inside their cells, every page
 * carries "Page n of N". The output is deterministic: the creation and modification dates are the
 * document's `asOf` (pdfkit derives the file ID from them), the fonts are the built-in Helvetica
 * (nothing embedded, no random subset tags), so the same document always gives the same bytes.
 */
import PDFDocument from 'pdfkit';
import { chartShapes, type Shape } from './chart.ts';
import type { Block, Column, Picture, ReportDocument } from './document.ts';
import { FIGURE_SIZE } from './render-html.ts';

type Doc = InstanceType<typeof PDFDocument>;

const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = { top: 48, bottom: 56, left: 48, right: 48 };
const CONTENT_WIDTH = PAGE.width - MARGIN.left - MARGIN.right;
const BOTTOM = PAGE.height - MARGIN.bottom;
const FONT = { regular: 'Helvetica', bold: 'Helvetica-Bold' };
const SIZE = { body: 9.5, small: 7, h1: 17, h2: 13, h3: 11, caption: 7 };
const CELL_PAD = { x: 4, y: 2.5 };
const THUMB = { width: 114, gap: 12, perRow: 4 };

/** The built-in fonts speak WinAnsi (Latin-1 and a few more): anything else prints as '?'. */
const WIN_ANSI_EXTRA = new Set([...'€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ']);
export function winAnsi(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += (c >= 0x20 && c < 0x7f) || (c >= 0xa0 && c <= 0xff) || WIN_ANSI_EXTRA.has(ch) ? ch : ch === '\n' ? '\n' : '?';
  }
  return out;
}

class Layout {
  constructor(readonly doc: Doc) {}

  get y(): number {
    return this.doc.y;
  }

  set y(v: number) {
    this.doc.y = v;
  }

  /** Starts a new page unless `height` fits below the cursor. */
  room(height: number): void {
    if (this.y + height > BOTTOM) this.newPage();
  }

  newPage(): void {
    this.doc.addPage();
    this.doc.x = MARGIN.left;
    this.y = MARGIN.top;
  }

  font(bold: boolean, size: number): void {
    this.doc.font(bold ? FONT.bold : FONT.regular).fontSize(size);
  }

  textHeight(text: string, width: number, bold: boolean, size: number): number {
    this.font(bold, size);
    return this.doc.heightOfString(winAnsi(text) || ' ', { width, lineGap: 0.5 });
  }

  /** Text in a box at (x, y), never breaking the page (the caller made room). */
  textAt(text: string, x: number, y: number, width: number, opts: { bold?: boolean; size?: number; align?: 'left' | 'right' | 'center'; colour?: string } = {}): void {
    this.font(opts.bold ?? false, opts.size ?? SIZE.body);
    this.doc.fillColor(opts.colour ?? '#1a1a1a');
    const keep = this.y;
    this.doc.text(winAnsi(text), x, y, { width, align: opts.align ?? 'left', lineGap: 0.5 });
    this.y = keep;
  }

  /** A paragraph that flows over pages. */
  paragraph(text: string, size = SIZE.body, colour = '#1a1a1a', gapAfter = 5): void {
    const h = this.textHeight(text, CONTENT_WIDTH, false, size);
    if (h <= BOTTOM - MARGIN.top) this.room(h);
    this.font(false, size);
    this.doc.fillColor(colour).text(winAnsi(text), MARGIN.left, this.y, { width: CONTENT_WIDTH, lineGap: 0.5 });
    this.y += gapAfter;
  }

  heading(text: string, level: 2 | 3): void {
    const size = level === 2 ? SIZE.h2 : SIZE.h3;
    // a heading keeps at least a few lines of what follows on its page
    this.room(size + 60);
    this.y += level === 2 ? 10 : 6;
    this.textAt(text, MARGIN.left, this.y, CONTENT_WIDTH, { bold: true, size });
    this.y += this.textHeight(text, CONTENT_WIDTH, true, size) + 1;
    if (level === 2) {
      this.doc.moveTo(MARGIN.left, this.y).lineTo(MARGIN.left + CONTENT_WIDTH, this.y).lineWidth(0.6).strokeColor('#999999').stroke();
      this.y += 4;
    } else {
      this.y += 2;
    }
  }

  /** A table: rows never split, the header row is repeated on every page the table continues on. */
  table(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>, opts: { small?: boolean; header?: boolean; boldFirst?: boolean; minRowHeight?: number } = {}): void {
    const size = opts.small ? SIZE.small : SIZE.body;
    const fitted = columns.map((c, i) => {
      if (!c.fit) return 0;
      let w = 0;
      this.font(true, size);
      w = this.doc.widthOfString(winAnsi(c.title));
      this.font(false, size);
      for (const r of rows) w = Math.max(w, this.doc.widthOfString(winAnsi(r[i] ?? '')));
      return w + 2 * CELL_PAD.x + 1;
    });
    const left = CONTENT_WIDTH - fitted.reduce((s, w) => s + w, 0);
    const total = columns.reduce((s, c) => s + (c.fit ? 0 : c.weight ?? 1), 0);
    const widths = columns.map((c, i) => (c.fit ? fitted[i]! : (left * (c.weight ?? 1)) / total));
    const xs = widths.map((_, i) => MARGIN.left + widths.slice(0, i).reduce((s, w) => s + w, 0));
    const rowHeight = (cells: readonly string[], bold: (i: number) => boolean) =>
      Math.max(opts.minRowHeight ?? 0, ...cells.map((c, i) => this.textHeight(c, widths[i]! - 2 * CELL_PAD.x, bold(i), size))) + 2 * CELL_PAD.y;
    const drawRow = (cells: readonly string[], bold: (i: number) => boolean, fill: string | null, h: number) => {
      const y = this.y;
      for (let i = 0; i < cells.length; i++) {
        if (fill) this.doc.rect(xs[i]!, y, widths[i]!, h).fillColor(fill).fill();
        else if (opts.boldFirst && i === 0) this.doc.rect(xs[i]!, y, widths[i]!, h).fillColor('#f6f7f9').fill();
        this.doc.rect(xs[i]!, y, widths[i]!, h).lineWidth(0.5).strokeColor('#bbbbbb').stroke();
        this.textAt(cells[i]!, xs[i]! + CELL_PAD.x, y + CELL_PAD.y, widths[i]! - 2 * CELL_PAD.x, {
          bold: bold(i), size, align: columns[i]!.align === 'right' ? 'right' : 'left',
        });
      }
      this.y = y + h;
    };
    const header = opts.header ?? true;
    const titles = columns.map((c) => c.title);
    const headerHeight = header ? rowHeight(titles, () => true) : 0;
    const drawHeader = () => {
      if (header) drawRow(titles, () => true, '#eef1f5', headerHeight);
    };
    const bodyBold = (i: number) => (opts.boldFirst ?? false) && i === 0;
    const first = rows[0];
    this.room(headerHeight + (first ? rowHeight(first, bodyBold) : 0));
    drawHeader();
    for (const row of rows) {
      const h = rowHeight(row, bodyBold);
      if (this.y + h > BOTTOM) {
        this.newPage();
        drawHeader();
      }
      drawRow(row, bodyBold, null, h);
    }
    this.y += 6;
  }

  shape(s: Shape): void {
    const d = this.doc;
    switch (s.type) {
      case 'line':
        d.moveTo(s.x1, s.y1).lineTo(s.x2, s.y2).lineWidth(s.width).strokeColor(s.colour);
        if (s.dash) d.dash(3, { space: 2 });
        d.stroke();
        if (s.dash) d.undash();
        return;
      case 'polyline': {
        const [first, ...rest] = s.points;
        if (!first) return;
        d.moveTo(first[0], first[1]);
        for (const [x, y] of rest) d.lineTo(x, y);
        d.lineWidth(s.width).strokeColor(s.colour).stroke();
        return;
      }
      case 'rect':
        d.rect(s.x, s.y, s.w, s.h).fillColor(s.fill).fillOpacity(s.opacity ?? 1).fill().fillOpacity(1);
        return;
      case 'circle':
        d.circle(s.x, s.y, s.r).fillColor(s.fill).fill();
        return;
      case 'text': {
        this.font(false, s.size);
        const text = winAnsi(s.text);
        const w = d.widthOfString(text);
        const x = s.anchor === 'start' ? s.x : s.anchor === 'middle' ? s.x - w / 2 : s.x - w;
        // SVG places text by its baseline; pdfkit by the top of the line
        this.textAt(text, x, s.y - s.size * 0.78, w + 2, { size: s.size, colour: s.colour });
      }
    }
  }

  figures(charts: readonly import('./document.ts').Chart[]): void {
    const scale = (CONTENT_WIDTH - 12) / 2 / FIGURE_SIZE.width;
    const h = FIGURE_SIZE.height * scale;
    for (let i = 0; i < charts.length; i += 2) {
      this.room(h + 6);
      const y = this.y;
      charts.slice(i, i + 2).forEach((c, k) => {
        this.doc.save();
        this.doc.translate(MARGIN.left + k * (FIGURE_SIZE.width * scale + 12), y).scale(scale);
        for (const s of chartShapes(c, FIGURE_SIZE.width, FIGURE_SIZE.height)) this.shape(s);
        this.doc.restore();
      });
      this.y = y + h + 6;
    }
  }

  pictures(list: readonly Picture[]): void {
    for (let i = 0; i < list.length; i += THUMB.perRow) {
      const row = list.slice(i, i + THUMB.perRow);
      const heights = row.map((p) => (p.height / p.width) * THUMB.width + 3 + this.textHeight(p.caption.join('\n'), THUMB.width, false, SIZE.caption));
      const h = Math.max(...heights);
      this.room(h + 8);
      const y = this.y;
      row.forEach((p, k) => {
        const x = MARGIN.left + k * (THUMB.width + THUMB.gap);
        const ih = (p.height / p.width) * THUMB.width;
        this.doc.image(Buffer.from(p.png), x, y, { width: THUMB.width, height: ih });
        this.doc.rect(x, y, THUMB.width, ih).lineWidth(0.5).strokeColor('#999999').stroke();
        this.textAt(p.caption.join('\n'), x, y + ih + 3, THUMB.width, { size: SIZE.caption });
      });
      this.y = y + h + 8;
    }
  }

  signOff(b: Extract<Block, { type: 'signOff' }>): void {
    this.table(
      [{ title: '', weight: 1.1 }, { title: 'Name', weight: 1.6 }, { title: 'Role', weight: 1.3 }, { title: 'Date', weight: 1.1 }, { title: 'Signature', weight: 1.9 }],
      [['Prepared by', b.preparedBy, b.role, '', ''], ['Reviewed by', b.reviewedBy, '', '', '']],
      { boldFirst: true, minRowHeight: 26 },
    );
  }

  block(b: Block): void {
    switch (b.type) {
      case 'heading':
        return this.heading(b.text, 2);
      case 'subheading':
        return this.heading(b.text, 3);
      case 'appendix':
        this.newPage();
        return this.heading(b.text, 2);
      case 'paragraph':
        return this.paragraph(b.text);
      case 'keyValues':
        return this.table([{ title: '', weight: 0.9 }, { title: '', weight: 2.3 }], b.rows.map(([k, v]) => [k, v]), { header: false, boldFirst: true });
      case 'table':
        return this.table(b.columns, b.rows, { small: b.small ?? false });
      case 'figures':
        return this.figures(b.charts);
      case 'pictures':
        return this.pictures(b.pictures);
      case 'signOff':
        return this.signOff(b);
    }
  }
}

/** The document as PDF bytes. */
export function renderPdf(doc: ReportDocument): Promise<Buffer> {
  const date = new Date(doc.asOf);
  if (Number.isNaN(date.getTime())) throw new RangeError(`report asOf is not a time: '${doc.asOf}'`);
  const pdf = new PDFDocument({
    size: 'A4', margins: MARGIN, bufferPages: true, compress: true, lang: 'en',
    info: { Title: winAnsi(doc.title), Subject: winAnsi(doc.subtitle), Author: 'Argus', Creator: 'Argus', Producer: 'Argus (pdfkit)', CreationDate: date, ModDate: date },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  const layout = new Layout(pdf);
  layout.y = MARGIN.top;
  layout.textAt(doc.title, MARGIN.left, layout.y, CONTENT_WIDTH, { bold: true, size: SIZE.h1 });
  layout.y += layout.textHeight(doc.title, CONTENT_WIDTH, true, SIZE.h1) + 2;
  layout.paragraph(doc.subtitle, SIZE.body, '#444444', 1);
  layout.paragraph(`Data as of ${doc.asOf}`, SIZE.small, '#666666', 6);
  for (const b of doc.blocks) layout.block(b);

  const range = pdf.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    pdf.switchToPage(i);
    // the footer sits in the bottom margin: lift the margin so pdfkit does not start another page
    const bottom = pdf.page.margins.bottom;
    pdf.page.margins.bottom = 0;
    const y = PAGE.height - MARGIN.bottom + 20;
    pdf.moveTo(MARGIN.left, y - 6).lineTo(PAGE.width - MARGIN.right, y - 6).lineWidth(0.4).strokeColor('#bbbbbb').stroke();
    layout.textAt(doc.title, MARGIN.left, y, CONTENT_WIDTH * 0.7, { size: SIZE.small, colour: '#555555' });
    layout.textAt(`Page ${i - range.start + 1} of ${range.count}`, MARGIN.left, y, CONTENT_WIDTH, { size: SIZE.small, colour: '#555555', align: 'right' });
    pdf.page.margins.bottom = bottom;
  }
  pdf.end();
  return done;
}
