import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobQueue, type JobHandler } from '../../src-main/jobs/index.ts';
import { createProject, jobs, openProject, type Project } from '../../src-main/store/index.ts';
import { tempDir } from '../fixtures/store.ts';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

function project(): Project {
  return createProject(join(tempDir(), 'project'), 'q');
}

describe('JobQueue', () => {
  it('runs GPU-heavy jobs one at a time in submission order, and light jobs beside them', async () => {
    const p = project();
    const log: string[] = [];
    let concurrentHeavy = 0;
    let maxHeavy = 0;
    const heavy: JobHandler = async ({ job }) => {
      concurrentHeavy++;
      maxHeavy = Math.max(maxHeavy, concurrentHeavy);
      log.push(`start ${job.id}`);
      await tick(10);
      log.push(`end ${job.id}`);
      concurrentHeavy--;
    };
    const queue = new JobQueue(p, { handlers: { train: heavy, inspect: heavy, import: async () => { log.push('import'); } } });
    const a = queue.submit('train');
    const b = queue.submit('inspect');
    queue.submit('import');
    await queue.idle();
    expect(maxHeavy).toBe(1);
    expect(log.filter((l) => l !== 'import')).toEqual([`start ${a.id}`, `end ${a.id}`, `start ${b.id}`, `end ${b.id}`]);
    expect(log.indexOf('import')).toBeLessThan(log.indexOf(`end ${a.id}`));
    expect(jobs.list(p).map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    p.close();
  });

  it('emits every progress update and writes them to the store at most once per interval', async () => {
    const p = project();
    const events: number[] = [];
    const queue = new JobQueue(p, {
      progressIntervalMs: 60_000,
      handlers: { train: async (ctx) => { for (const f of [0.1, 0.2, 0.3]) ctx.progress({ fraction: f, step: 'fit' }); expect(jobs.get(p, ctx.job.id).progress).toBe(0.1); } },
    });
    queue.on('progress', (_id, u) => events.push(u.fraction));
    const job = queue.submit('train');
    await queue.idle();
    expect(events).toEqual([0.1, 0.2, 0.3]);
    expect(jobs.get(p, job.id)).toMatchObject({ status: 'succeeded', progress: 1 });
    p.close();
  });

  it('cancels a queued job at once and a running one through its AbortSignal', async () => {
    const p = project();
    const queue = new JobQueue(p, {
      handlers: {
        train: async ({ signal }) => {
          while (!signal.aborted) await tick();
          throw new Error('stopped');
        },
      },
    });
    const running = queue.submit('train');
    const waiting = queue.submit('train');
    await tick(20);
    expect(queue.cancel(waiting.id)).toBe(true);
    expect(jobs.get(p, waiting.id).status).toBe('cancelled');
    expect(queue.cancel(running.id)).toBe(true);
    await queue.idle();
    expect(jobs.get(p, running.id).status).toBe('cancelled');
    expect(queue.cancel(running.id)).toBe(false);
    p.close();
  });

  it('records a failing handler as failed with its error, and a kind without a handler likewise', async () => {
    const p = project();
    const queue = new JobQueue(p, { handlers: { evaluate: async () => { throw new Error('backbone file missing'); } } });
    const a = queue.submit('evaluate');
    const b = queue.submit('refine');
    await queue.idle();
    expect(jobs.get(p, a.id)).toMatchObject({ status: 'failed', error: 'backbone file missing' });
    expect(jobs.get(p, b.id)).toMatchObject({ status: 'failed', error: 'no handler for refine jobs' });
    p.close();
  });

  it('after a restart, resumes queued jobs; jobs that were running come back interrupted', async () => {
    const dir = join(tempDir(), 'project');
    const before = createProject(dir, 'q');
    const wasRunning = jobs.start(before, jobs.create(before, { kind: 'train' }).id);
    const wasQueued = jobs.create(before, { kind: 'inspect' });
    before.close();
    const p = openProject(dir);
    const ran: number[] = [];
    const queue = new JobQueue(p, { handlers: { inspect: async ({ job }) => { ran.push(job.id); } } });
    expect(queue.resume()).toEqual([wasQueued.id]);
    await queue.idle();
    expect(ran).toEqual([wasQueued.id]);
    expect(jobs.get(p, wasRunning.id).status).toBe('interrupted');
    expect(jobs.get(p, wasQueued.id).status).toBe('succeeded');
    p.close();
  });
});
