/**
 * Progress on stderr: bars on a terminal; elsewhere (a log file, a CI job) plain lines, one when a stage
 * starts or ends and at most one every `LOG_INTERVAL_MS` between, so a long run in the background shows
 * it is alive without filling its log. Results go to stdout either way.
 */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  /** A new label starts a new bar; `detail` (e.g. the latest loss) changes in place. */
  update(label: string, done: number, total: number, detail?: string): void;
  stop(): void;
}

export const LOG_INTERVAL_MS = 30_000;

export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, now: () => number = Date.now): ProgressReporter {
  if (!stream.isTTY) return progressLines(stream, now);
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {value}/{total} {detail}| ETA {eta_formatted}', stream, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let current = '';
  return {
    update(label, done, total, detail = '') {
      const payload = { label: label.padEnd(28), detail: detail ? `${detail} ` : '' };
      if (label !== current) {
        if (current) bar.stop();
        bar.start(total, done, payload);
        current = label;
      } else bar.update(done, payload);
    },
    stop() {
      if (current) bar.stop();
      current = '';
    },
  };
}

function progressLines(stream: NodeJS.WritableStream, now: () => number): ProgressReporter {
  let current = '';
  let last = -Infinity;
  let finished = false;
  return {
    update(label, done, total, detail = '') {
      const starts = label !== current;
      const ends = done >= total && !finished;
      if (!starts && !ends && now() - last < LOG_INTERVAL_MS) return;
      current = label;
      finished = done >= total;
      last = now();
      stream.write(`${label} ${done}/${total}${total > 0 ? ` (${Math.round((100 * done) / total)} %)` : ''}${detail ? ` ${detail}` : ''}\n`);
    },
    stop() {
      current = '';
      finished = false;
    },
  };
}
