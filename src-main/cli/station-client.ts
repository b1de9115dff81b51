/**
 * The CLI's way into the station: the same Station, services and store the screens use, in this
 * process, through the same API contract (so every request is validated the same way).
 */
import type { ApiInput, ApiMethod, ApiOutput, Job } from '../api/contract.ts';
import { ApiError } from '../api/contract.ts';
import { Station } from '../services/station.ts';
import { createProgress } from './progress.ts';

export class CliStation {
  readonly station = new Station();

  async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
    const r = await this.station.handle(method, input);
    if (!r.ok) throw new ApiError(r.error.code, r.error.message);
    return r.value as ApiOutput<M>;
  }

  /** Follows a job to its end with a progress bar on a terminal; resolves with its final record. */
  async follow(job: Job, label: string): Promise<Job> {
    const progress = createProgress();
    const off = this.station.subscribe((e) => {
      if (e.type === 'progress' && e.jobId === job.id) {
        const p = e.progress;
        progress.update(`${label} ${p.step}`.slice(0, 40), Math.round(p.fraction * 1000), 1000, p.loss !== null ? `loss ${p.loss.toFixed(4)}` : '');
      }
    });
    try {
      for (;;) {
        const current = await this.call('jobs.get', { id: job.id });
        if (current.status !== 'queued' && current.status !== 'running') return current;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      off();
      progress.stop();
    }
  }

  close(): Promise<void> {
    return this.station.close();
  }
}

/** Opens the project in `dir` for one command and always closes it (releasing its writer lock). */
export async function withProject<T>(dir: string, fn: (s: CliStation) => Promise<T>): Promise<T> {
  const s = new CliStation();
  try {
    await s.call('project.open', { dir });
    return await fn(s);
  } finally {
    await s.close();
  }
}
