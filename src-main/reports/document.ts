/**
 * The one report document: what a validation or inspection report says, as typed blocks. Builders
 * (validation.ts, inspection.ts) make it from the project; renderers (render-html.ts, render-pdf.ts)
 * draw it, so the HTML and the PDF of a report carry the same content by construction. Figures are
 * data (chart.ts turns them into shapes both renderers draw), pictures are PNG bytes.
 */

export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
  /** Relative width (default 1): the renderers share the page width out in these proportions. */
  readonly weight?: number;
  /** As wide as its widest value, never wrapped (hashes); the other columns share what is left. */
  readonly fit?: boolean;
}

export interface RocChart {
  readonly kind: 'roc';
  /** (false positive rate, true positive rate) from (0, 0) to (1, 1). */
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** The threshold's operating point, if one applies. */
  readonly operatingPoint: readonly [number, number] | null;
  readonly label: string;
}

export interface HistogramBin {
  readonly from: number;
  readonly to: number;
  readonly good: number;
  readonly defective: number;
}

export interface HistogramChart {
  readonly kind: 'histogram';
  readonly bins: readonly HistogramBin[];
  readonly threshold: number | null;
  readonly reviewBand: readonly [number, number] | null;
  readonly label: string;
}

export type Chart = RocChart | HistogramChart;

export interface Picture {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Lines under the picture (file name, score, verdict, area). */
  readonly caption: readonly string[];
}

export type Block =
  | { readonly type: 'heading'; readonly text: string }
  | { readonly type: 'subheading'; readonly text: string }
  | { readonly type: 'paragraph'; readonly text: string }
  | { readonly type: 'keyValues'; readonly rows: ReadonlyArray<readonly [string, string]> }
  | { readonly type: 'table'; readonly columns: readonly Column[]; readonly rows: ReadonlyArray<readonly string[]>; readonly small?: boolean }
  | { readonly type: 'figures'; readonly charts: readonly Chart[] }
  | { readonly type: 'pictures'; readonly pictures: readonly Picture[] }
  | { readonly type: 'signOff'; readonly preparedBy: string; readonly reviewedBy: string; readonly role: string }
  | { readonly type: 'appendix'; readonly text: string };

export interface ReportDocument {
  readonly title: string;
  /** One line under the title: project, product, model, threshold. */
  readonly subtitle: string;
  /**
   * The time the report's data is as of (the newest record it reads), ISO-8601 UTC. It is also the
   * PDF's creation date, so the same data gives the same bytes whenever and wherever it is rendered.
   */
  readonly asOf: string;
  readonly blocks: readonly Block[];
}

export interface SignOff {
  readonly preparedBy: string;
  readonly reviewedBy: string;
  readonly role: string;
}

/** Numbers as reports print them: integers as such, others with `digits` decimals; missing as "-". */
export function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** Metrics and rates: always `digits` decimals (1 prints as 1.0000), missing as "-". */
export function fixed(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function percent(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(digits)} %`;
}

/** The newest of ISO-8601 UTC times (they sort as text); `fallback` when none is given. */
export function newest(times: ReadonlyArray<string | null | undefined>, fallback: string): string {
  let best: string | null = null;
  for (const t of times) if (t && (best === null || t > best)) best = t;
  return best ?? fallback;
}
