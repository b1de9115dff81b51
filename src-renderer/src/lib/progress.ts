/** Live job progress as the screens show it: one line of detail, and a bounded loss series. */

/**
 * The detail of a progress update in one line. A training job's message already names its stage
 * ('features: 12 / 40'), so the stage is not repeated; other jobs' messages ('3 / 7 images') get it.
 */
export function progressDetail(step: string, message: string): string {
  const s = step.trim();
  const m = message.trim();
  if (!m) return s;
  if (!s || m.startsWith(s)) return m;
  return `${s}: ${m}`;
}

/**
 * A series of values (the training loss, one per progress event) kept to at most `max` points: once
 * full, neighbouring points merge into their mean and each later point averages twice as many
 * values, so a long training costs the chart a few hundred points, never one per step.
 */
export interface Series {
  values: number[];
  /** How many raw values each point averages. */
  stride: number;
  /** Raw values waiting to make up the next point. */
  pendingSum: number;
  pendingCount: number;
  /** The latest raw value and how many there were. */
  last: number | null;
  count: number;
}

export function newSeries(): Series {
  return { values: [], stride: 1, pendingSum: 0, pendingCount: 0, last: null, count: 0 };
}

export function appendToSeries(series: Series, value: number, max = 400): void {
  if (!Number.isFinite(value)) return;
  series.last = value;
  series.count++;
  series.pendingSum += value;
  series.pendingCount++;
  if (series.pendingCount < series.stride) return;
  series.values.push(series.pendingSum / series.pendingCount);
  series.pendingSum = 0;
  series.pendingCount = 0;
  if (series.values.length >= max) {
    const merged: number[] = [];
    for (let i = 0; i + 1 < series.values.length; i += 2) merged.push((series.values[i]! + series.values[i + 1]!) / 2);
    if (series.values.length % 2 === 1) {
      // the odd last point starts the next, wider bucket
      series.pendingSum = series.values[series.values.length - 1]! * series.stride;
      series.pendingCount = series.stride;
    }
    series.values = merged;
    series.stride *= 2;
  }
}
