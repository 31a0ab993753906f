import { Presets, SingleBar } from 'cli-progress';

/** Progress of a long command on stderr, so stdout keeps only the result. */
export interface Progress {
  update(done: number): void;
  /** Ends the bar and prints the summary line. */
  stop(summary: string): void;
}

/** A bar when stderr is a terminal; otherwise (CI logs, pipes) only the summary line at the end. */
export function progressOnStderr(label: string, total: number): Progress {
  if (!process.stderr.isTTY) {
    return { update: () => undefined, stop: (summary) => process.stderr.write(`${summary}\n`) };
  }
  const bar = new SingleBar(
    {
      format: `${label} {bar} {value}/{total} ({percentage}%, {eta_formatted} left)`,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done) => bar.update(done),
    stop: (summary) => {
      bar.stop();
      process.stderr.write(`${summary}\n`);
    },
  };
}
