import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, LOG_INTERVAL_MS } from '../../src-main/cli/progress.ts';

function logged(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

describe('command-line progress outside a terminal', () => {
  it('writes a line when a stage starts and ends, and at most one per interval between', () => {
    const { stream, lines } = logged();
    let clock = 0;
    const progress = createProgress(stream, () => clock);
    progress.update('features', 0, 200);
    for (let done = 1; done < 200; done++) {
      clock += 1_000;
      progress.update('features', done, 200);
    }
    progress.update('features', 200, 200);
    progress.update('features', 200, 200);
    progress.update('scoring test images', 0, 120, 'batch 8');
    progress.stop();
    const out = lines();
    // 199 s of updates: the start, one line per 30 s, the end, the next stage
    expect(out[0]).toBe('features 0/200 (0 %)');
    expect(out.filter((l) => l.startsWith('features '))).toHaveLength(2 + Math.floor((199 * 1_000) / LOG_INTERVAL_MS));
    expect(out.at(-2)).toBe('features 200/200 (100 %)');
    expect(out.at(-1)).toBe('scoring test images 0/120 (0 %) batch 8');
  });
});
