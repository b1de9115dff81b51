/**
 * A reviewer's decisions are kept the moment the station answers: a browser-mode station (bin/start.js,
 * its own process) records decisions through the HTTP API and is killed with SIGKILL; the reopened
 * project has them, the review queues follow them, and the inspection CSV carries them beside the
 * model's verdicts.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { ApiResponse } from '../../src-main/api/contract.ts';
import { createReport } from '../../src-main/services/reports.ts';
import { decisions, openProject, reports, results } from '../../src-main/store/index.ts';
import { reviewProject, tempDir } from '../fixtures/store.ts';

const START = resolve(import.meta.dirname, '../../bin/start.js');

describe('reviewer decisions and a kill -9 of the station', () => {
  it('survive the kill, drive the queues and appear in the CSV', async () => {
    const dir = join(tempDir('argus-decisions-'), 'project');
    const seeded = reviewProject(dir);
    seeded.p.close();

    const child = spawn(process.execPath, [START, '--browser', '--no-build', '--project', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    try {
      const url = await new Promise<URL>((found, fail) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(line);
          if (m) found(new URL(m[1]!));
        });
        child.on('exit', (code) => fail(new Error(`the station exited (${code}) before it was ready`)));
      });
      const token = new URLSearchParams(url.hash.slice(1)).get('token')!;
      const call = async (method: string, input: unknown) => {
        const res = await fetch(`${url.origin}/api/${method}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(input) });
        const body = (await res.json()) as ApiResponse<unknown>;
        if (!body.ok) throw new Error(`${method}: ${body.error.code} ${body.error.message}`);
        return body.value;
      };
      await call('results.decide', { resultId: seeded.resultIds[1], verdict: 'fail', defectType: 'dent', note: 'seen under raking light', by: 'QE Weber' });
      await call('results.decide', { resultId: seeded.resultIds[0], verdict: 'fail', by: 'QE Weber' });
      const listed = (await call('results.list', { modelId: seeded.modelId, queue: 'disagree' })) as { items: Array<{ id: number; decision: { verdict: string } | null }> };
      expect(listed.items.map((r) => [r.id, r.decision?.verdict])).toEqual([[seeded.resultIds[1], 'fail']]);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const p = openProject(dir);
    try {
      const kept = decisions.latestFor(p, seeded.imageIds);
      expect([...kept.values()].map((d) => [d.resultId, d.verdict, d.defectType, d.decidedBy])).toEqual(expect.arrayContaining([
        [seeded.resultIds[1], 'fail', 'dent', 'QE Weber'], [seeded.resultIds[0], 'fail', null, 'QE Weber'],
      ]));
      expect(results.get(p, seeded.resultIds[1]!).verdict).toBe('pass');
      expect(results.page(p, { modelId: seeded.modelId, queue: 'awaiting', offset: 0, limit: 10 }).items.map((r) => r.id)).toEqual([seeded.resultIds[2]]);

      const report = await createReport(p, { modelId: seeded.modelId, format: 'csv' });
      const [header, ...rows] = reports.readBytes(p, report).toString('utf8').trim().split('\r\n').map((l) => l.split(','));
      const col = (name: string) => header!.indexOf(name);
      expect(col('reviewer_verdict')).toBeGreaterThan(col('verdict'));
      expect(col('good_percentile')).toBeGreaterThan(col('score'));
      const overridden = rows.find((r) => r[col('result_id')] === String(seeded.resultIds[1]))!;
      expect([overridden[col('verdict')], overridden[col('reviewer_verdict')], overridden[col('reviewer_defect_type')], overridden[col('reviewer_note')], overridden[col('reviewed_by')]])
        .toEqual(['pass', 'fail', 'dent', 'seen under raking light', 'QE Weber']);
      expect(rows.find((r) => r[col('result_id')] === String(seeded.resultIds[2]))![col('reviewer_verdict')]).toBe('');
    } finally {
      p.close();
    }
  });
});
