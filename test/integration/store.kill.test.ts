/**
 * Nothing lost: a real child process writing to a project is killed with SIGKILL at a random moment;
 * the project must reopen with integrity_check ok, every row the child reported as committed present
 * with a file that hashes right, and the job marked interrupted.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProject, images, jobs, openProject, results, verifyProject } from '../../src-main/store/index.ts';
import { startWriter, tempDir } from '../fixtures/store.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reported(lines: readonly string[], tag: string): { id: number; sha: string }[] {
  return lines.filter((l) => l.startsWith(`${tag} `)).map((l) => {
    const [, id, sha] = l.split(' ');
    return { id: Number(id), sha: sha ?? '' };
  });
}

function jobIdOf(lines: readonly string[]): number {
  const line = lines.find((l) => l.startsWith('job '));
  if (!line) throw new Error('the writer never reported its job');
  return Number(line.split(' ')[1]);
}

describe('kill -9 in the middle of writing', () => {
  it('an import loop (one image file + row per transaction) keeps every committed image and marks the job interrupted', async () => {
    const dir = join(tempDir(), 'project');
    createProject(dir, 'kill-import').close();
    let previous = 0;
    for (let round = 0; round < 3; round++) {
      const writer = startWriter(dir, 'import');
      await writer.until((lines) => reported(lines, 'image').length >= 5);
      await sleep(Math.random() * 120);
      await writer.kill();
      const seen = reported(writer.lines, 'image');
      const jobId = jobIdOf(writer.lines);
      const p = openProject(dir);
      try {
        expect(p.recovery.interruptedJobs).toEqual([jobId]);
        expect(jobs.get(p, jobId).status).toBe('interrupted');
        const check = verifyProject(p);
        expect(check).toMatchObject({ ok: true, integrity: ['ok'], missing: [], corrupt: [] });
        expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
        for (const { id, sha } of seen) {
          const img = images.get(p, id);
          expect(img.sha256).toBe(sha);
          expect(img.jobId).toBe(jobId);
          expect(images.readBytes(p, img).length).toBe(img.byteSize);
        }
        const count = images.count(p, 1);
        expect(count).toBeGreaterThanOrEqual(previous + seen.length);
        previous = count;
      } finally {
        p.close();
      }
    }
  });

  it('a results loop (maps and masks as blobs, batches of three) keeps every committed result and marks the job interrupted', async () => {
    for (let round = 0; round < 2; round++) {
      const dir = join(tempDir(), 'project');
      createProject(dir, 'kill-results').close();
      const writer = startWriter(dir, 'results');
      await writer.until((lines) => reported(lines, 'result').length >= 3);
      await sleep(50 + Math.random() * 250);
      await writer.kill();
      expect(writer.lines).not.toContain('done');
      const seen = reported(writer.lines, 'result');
      const jobId = jobIdOf(writer.lines);
      const p = openProject(dir);
      try {
        expect(p.recovery.interruptedJobs).toEqual([jobId]);
        const job = jobs.get(p, jobId);
        expect(job.status).toBe('interrupted');
        expect(verifyProject(p)).toMatchObject({ ok: true, missing: [], corrupt: [] });
        const stored = results.list(p, { jobId });
        expect(stored.length % 3).toBe(0);
        expect(stored.length).toBeGreaterThanOrEqual(seen.length);
        expect(job.progress).toBeCloseTo(stored.length / 6000, 10);
        for (const { id, sha } of seen) {
          const r = results.get(p, id);
          expect(r.mapSha256).toBe(sha);
          expect(results.readMap(p, r)?.length).toBe(32 * 32 * 4);
          expect(results.readMask(p, r)).not.toBeNull();
        }
      } finally {
        p.close();
      }
    }
  });
});
