/**
 * Figures as vector shapes: a ROC curve or a score histogram laid out in a box of the given size
 * (points, origin top left). The HTML renderer writes them as SVG, the PDF renderer as pdfkit paths:
 * one drawing, two outputs.
 */
import type { Chart, HistogramChart, RocChart } from './document.ts';

export type Shape =
  | { readonly type: 'line'; readonly x1: number; readonly y1: number; readonly x2: number; readonly y2: number; readonly colour: string; readonly width: number; readonly dash?: boolean }
  | { readonly type: 'polyline'; readonly points: ReadonlyArray<readonly [number, number]>; readonly colour: string; readonly width: number }
  | { readonly type: 'rect'; readonly x: number; readonly y: number; readonly w: number; readonly h: number; readonly fill: string; readonly opacity?: number }
  | { readonly type: 'circle'; readonly x: number; readonly y: number; readonly r: number; readonly fill: string }
  | { readonly type: 'text'; readonly x: number; readonly y: number; readonly text: string; readonly size: number; readonly anchor: 'start' | 'middle' | 'end'; readonly colour: string };

export const CHART_COLOURS = { axis: '#444444', grid: '#dddddd', curve: '#1f5fa8', good: '#4c9a5b', defective: '#c0392b', threshold: '#111111', band: '#f3d27a' } as const;

const MARGIN = { left: 34, right: 8, top: 16, bottom: 40 };
const FONT = 7;

interface Frame {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
}

function frame(width: number, height: number): Frame {
  return { x0: MARGIN.left, y0: MARGIN.top, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
}

/** Axes, grid and tick labels for x in [xmin, xmax] and y in [0, ymax]. */
function axes(f: Frame, xTicks: readonly number[], xmin: number, xmax: number, yTicks: readonly number[], ymax: number, xLabel: string, yLabel: string, title: string, tickText: (v: number) => string): Shape[] {
  const out: Shape[] = [];
  const X = (v: number) => f.x0 + ((v - xmin) / (xmax - xmin || 1)) * f.w;
  const Y = (v: number) => f.y0 + f.h - (v / (ymax || 1)) * f.h;
  for (const t of yTicks) {
    out.push({ type: 'line', x1: f.x0, y1: Y(t), x2: f.x0 + f.w, y2: Y(t), colour: CHART_COLOURS.grid, width: 0.5 });
    out.push({ type: 'text', x: f.x0 - 3, y: Y(t) + FONT / 3, text: Number.isInteger(t) ? String(t) : t.toFixed(1), size: FONT, anchor: 'end', colour: CHART_COLOURS.axis });
  }
  for (const t of xTicks) out.push({ type: 'text', x: X(t), y: f.y0 + f.h + FONT + 2, text: tickText(t), size: FONT, anchor: 'middle', colour: CHART_COLOURS.axis });
  out.push({ type: 'line', x1: f.x0, y1: f.y0 + f.h, x2: f.x0 + f.w, y2: f.y0 + f.h, colour: CHART_COLOURS.axis, width: 0.8 });
  out.push({ type: 'line', x1: f.x0, y1: f.y0, x2: f.x0, y2: f.y0 + f.h, colour: CHART_COLOURS.axis, width: 0.8 });
  out.push({ type: 'text', x: f.x0 + f.w / 2, y: f.y0 + f.h + 2 * FONT + 5, text: xLabel, size: FONT, anchor: 'middle', colour: CHART_COLOURS.axis });
  out.push({ type: 'text', x: f.x0, y: f.y0 - 5, text: yLabel, size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  out.push({ type: 'text', x: f.x0 + f.w, y: f.y0 - 5, text: title, size: FONT + 1, anchor: 'end', colour: CHART_COLOURS.threshold });
  return out;
}

function rocShapes(c: RocChart, width: number, height: number): Shape[] {
  const f = frame(width, height);
  const X = (v: number) => f.x0 + v * f.w;
  const Y = (v: number) => f.y0 + f.h - v * f.h;
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const out = axes(f, ticks, 0, 1, ticks, 1, 'false positive rate (good parts rejected)', 'true positive rate', c.label, (v) => v.toFixed(1));
  out.push({ type: 'line', x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), colour: CHART_COLOURS.grid, width: 0.8, dash: true });
  out.push({ type: 'polyline', points: c.points.map(([x, y]) => [X(x), Y(y)] as const), colour: CHART_COLOURS.curve, width: 1.5 });
  if (c.operatingPoint) out.push({ type: 'circle', x: X(c.operatingPoint[0]), y: Y(c.operatingPoint[1]), r: 3, fill: CHART_COLOURS.defective });
  const ly = f.y0 + f.h + 2 * FONT + 10;
  if (c.operatingPoint) {
    out.push({ type: 'circle', x: f.x0 + 3, y: ly + 3.5, r: 3, fill: CHART_COLOURS.defective });
    out.push({ type: 'text', x: f.x0 + 10, y: ly + 6, text: "image threshold's operating point", size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  }
  out.push({ type: 'line', x1: f.x0 + 130, y1: ly + 3.5, x2: f.x0 + 140, y2: ly + 3.5, colour: CHART_COLOURS.grid, width: 0.8, dash: true });
  out.push({ type: 'text', x: f.x0 + 143, y: ly + 6, text: 'chance', size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  return out;
}

function niceTicks(max: number): number[] {
  if (max <= 0) return [0];
  const step = max <= 5 ? 1 : max <= 10 ? 2 : max <= 25 ? 5 : max <= 50 ? 10 : Math.pow(10, Math.floor(Math.log10(max))) * (max / Math.pow(10, Math.floor(Math.log10(max))) > 5 ? 2 : 1);
  const out: number[] = [];
  for (let t = 0; t <= max; t += step) out.push(t);
  return out;
}

function histogramShapes(c: HistogramChart, width: number, height: number): Shape[] {
  const f = frame(width, height);
  const bins = c.bins;
  const xmin = Math.min(bins[0]?.from ?? 0, c.threshold ?? Infinity, c.reviewBand?.[0] ?? Infinity);
  const xmax = Math.max(bins[bins.length - 1]?.to ?? 1, c.threshold ?? -Infinity, c.reviewBand?.[1] ?? -Infinity);
  const ymax = Math.max(1, ...bins.map((b) => Math.max(b.good, b.defective)));
  const yTicks = niceTicks(ymax);
  const top = Math.max(ymax, yTicks[yTicks.length - 1]!);
  const X = (v: number) => f.x0 + ((v - xmin) / (xmax - xmin || 1)) * f.w;
  const Y = (v: number) => f.y0 + f.h - (v / top) * f.h;
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((t) => xmin + t * (xmax - xmin));
  const digits = xmax - xmin >= 10 ? 1 : xmax - xmin >= 1 ? 2 : 3;
  const out: Shape[] = [];
  if (c.reviewBand) out.push({ type: 'rect', x: X(c.reviewBand[0]), y: f.y0, w: X(c.reviewBand[1]) - X(c.reviewBand[0]), h: f.h, fill: CHART_COLOURS.band, opacity: 0.5 });
  out.push(...axes(f, xTicks, xmin, xmax, yTicks, top, 'image score', 'images', c.label, (v) => (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v).toFixed(digits)));
  for (const b of bins) {
    const x = X(b.from);
    const w = Math.max(0.5, X(b.to) - x);
    if (b.good > 0) out.push({ type: 'rect', x: x + w * 0.05, y: Y(b.good), w: w * 0.45, h: Y(0) - Y(b.good), fill: CHART_COLOURS.good });
    if (b.defective > 0) out.push({ type: 'rect', x: x + w * 0.5, y: Y(b.defective), w: w * 0.45, h: Y(0) - Y(b.defective), fill: CHART_COLOURS.defective });
  }
  if (c.threshold !== null) {
    out.push({ type: 'line', x1: X(c.threshold), y1: f.y0, x2: X(c.threshold), y2: f.y0 + f.h, colour: CHART_COLOURS.threshold, width: 1.2, dash: true });
  }
  // legend, under the axis label
  const lx = f.x0;
  const ly = f.y0 + f.h + 2 * FONT + 10;
  out.push({ type: 'rect', x: lx, y: ly, w: 7, h: 7, fill: CHART_COLOURS.good });
  out.push({ type: 'text', x: lx + 10, y: ly + 6, text: 'good', size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  out.push({ type: 'rect', x: lx + 36, y: ly, w: 7, h: 7, fill: CHART_COLOURS.defective });
  out.push({ type: 'text', x: lx + 46, y: ly + 6, text: 'defective', size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  if (c.threshold !== null) {
    out.push({ type: 'line', x1: lx + 86, y1: ly + 3.5, x2: lx + 96, y2: ly + 3.5, colour: CHART_COLOURS.threshold, width: 1.2, dash: true });
    out.push({ type: 'text', x: lx + 99, y: ly + 6, text: 'threshold', size: FONT, anchor: 'start', colour: CHART_COLOURS.axis });
  }
  return out;
}

export function chartShapes(chart: Chart, width: number, height: number): Shape[] {
  return chart.kind === 'roc' ? rocShapes(chart, width, height) : histogramShapes(chart, width, height);
}

/** Histogram bins over [min, max] of the scores, good and defective counted apart. */
export function scoreBins(scores: ReadonlyArray<{ score: number; defective: boolean }>, count = 20): Array<{ from: number; to: number; good: number; defective: number }> {
  if (scores.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) {
    lo = Math.min(lo, s.score);
    hi = Math.max(hi, s.score);
  }
  if (hi === lo) hi = lo + 1e-6;
  const width = (hi - lo) / count;
  const bins = Array.from({ length: count }, (_, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, good: 0, defective: 0 }));
  for (const s of scores) {
    const b = bins[Math.min(count - 1, Math.floor((s.score - lo) / width))]!;
    if (s.defective) b.defective++;
    else b.good++;
  }
  return bins;
}
