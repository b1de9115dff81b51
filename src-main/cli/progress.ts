/** Progress bars on a terminal (stderr); silence otherwise, so piped output stays clean. */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  /** A new label starts a new bar; `detail` (e.g. the latest loss) changes in place. */
  update(label: string, done: number, total: number, detail?: string): void;
  stop(): void;
}

export function createProgress(): ProgressReporter {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {value}/{total} {detail}| ETA {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
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
