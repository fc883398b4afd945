/**
 * Progress on long work: a bar on stderr when it is a terminal, one line per ~10% otherwise
 * (logs and CI), nothing with --quiet. Never writes to stdout (that is for results and --json).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  increment(n: number): void;
  stop(): void;
}

export function createProgress(label: string, total: number, options: { quiet?: boolean; initial?: number } = {}): Progress {
  if (options.quiet) return { increment() {}, stop() {} };
  let done = options.initial ?? 0;
  const started = Date.now();
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} images | {rate} img/s | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 200 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, done, { rate: '0.0' });
    return {
      increment(n) {
        done += n;
        const secs = (Date.now() - started) / 1000;
        bar.increment(n, { rate: secs > 0 ? ((done - (options.initial ?? 0)) / secs).toFixed(1) : '0.0' });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let nextReport = Math.ceil(total / 10);
  return {
    increment(n) {
      done += n;
      if (done >= nextReport && done < total) {
        process.stderr.write(`${label}: ${done}/${total} images (${Math.round((100 * done) / total)}%)\n`);
        nextReport += Math.ceil(total / 10);
      }
    },
    stop() {},
  };
}
