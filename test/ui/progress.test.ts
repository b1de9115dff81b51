/** Live job progress as the renderer shows it (src-renderer/src/lib/progress.ts). */
import { describe, expect, it } from 'vitest';
import { appendToSeries, newSeries, progressDetail } from '../../src-renderer/src/lib/progress.ts';

describe('progressDetail()', () => {
  it('does not repeat a stage the message already names', () => {
    expect(progressDetail('features', 'features: 12 / 40')).toBe('features: 12 / 40');
    expect(progressDetail('inspect', '3 / 7 images')).toBe('inspect: 3 / 7 images');
    expect(progressDetail('coreset', '')).toBe('coreset');
    expect(progressDetail('', '5 of 17 files')).toBe('5 of 17 files');
    expect(progressDetail('', '')).toBe('');
  });
});

describe('the loss series', () => {
  it('keeps every value while short, skipping non-finite ones', () => {
    const s = newSeries();
    for (const v of [3, 2, Number.NaN, 1]) appendToSeries(s, v);
    expect(s.values).toEqual([3, 2, 1]);
    expect(s.last).toBe(1);
    expect(s.count).toBe(3);
  });

  it('stays bounded over a long training, averaging neighbours, and keeps the trend', () => {
    const s = newSeries();
    const n = 100_000;
    for (let i = 0; i < n; i++) appendToSeries(s, n - i, 400);
    expect(s.values.length).toBeLessThan(400);
    expect(s.values.length).toBeGreaterThan(100);
    expect(s.count).toBe(n);
    expect(s.last).toBe(1);
    for (let i = 1; i < s.values.length; i++) expect(s.values[i]!).toBeLessThan(s.values[i - 1]!);
    // each point is the mean of `stride` consecutive raw values
    expect(s.values[0]).toBe(n - (s.stride - 1) / 2);
  });
});
