/** Progress bars on a terminal (stderr); silence otherwise, so piped output stays clean. */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

export function createProgress(): ProgressReporter {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {value}/{total} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let current = '';
  return {
    update(label, done, total) {
      if (label !== current) {
        if (current) bar.stop();
        bar.start(total, done, { label: label.padEnd(28) });
        current = label;
      } else bar.update(done, { label: label.padEnd(28) });
    },
    stop() {
      if (current) bar.stop();
      current = '';
    },
  };
}
