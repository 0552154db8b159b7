/**
 * A progress bar per epoch with loss, throughput and time left, drawn by cli-progress on a
 * terminal. When stderr is not a terminal (a log file, CI), it prints a plain line every few
 * seconds instead, so logs stay readable.
 */
import { SingleBar } from 'cli-progress';

export interface EpochProgress {
  /** Advances by `examples` and shows the latest loss. */
  update(done: number, loss: number): void;
  stop(): void;
}

/** Formats seconds as 4m05s or 12s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return minutes > 0 ? `${minutes}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}

/**
 * Starts the bar of one epoch over `total` examples; `unit` names them ("images"). Training
 * loops are synchronous, so the bar is redrawn from `update()`, never from a timer.
 */
export function startEpochProgress(label: string, total: number, unit: string): EpochProgress {
  const started = performance.now();
  const stats = { loss: '-', rate: '-', left: '--' };
  const describe = (done: number) => `${label} ${done}/${total} ${unit} | loss ${stats.loss} | ${stats.rate} ${unit}/s | ${stats.left} left`;

  if (!process.stderr.isTTY) {
    // A log gets one plain line every 10 seconds and one at the end.
    let lastLine = started;
    let latest = 0;
    let printed = -1;
    const print = (done: number) => {
      process.stderr.write(describe(done) + '\n');
      printed = done;
    };
    return {
      update(done, loss) {
        latest = done;
        refresh(done, loss);
        const now = performance.now();
        if (now - lastLine < 10_000) return;
        lastLine = now;
        print(done);
      },
      stop() {
        // The last update may have printed the final line already.
        if (printed !== latest) print(latest);
      },
    };
  }

  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | loss {loss} | {rate} ${unit}/s | {left} left`,
    barCompleteChar: '=',
    barIncompleteChar: ' ',
    barsize: 24,
    hideCursor: true,
    fps: 5,
    stream: process.stderr,
  });
  bar.start(total, 0, stats);
  return {
    update(done, loss) {
      refresh(done, loss);
      bar.update(done, stats);
    },
    stop() {
      bar.stop();
    },
  };

  function refresh(done: number, loss: number): void {
    const seconds = (performance.now() - started) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    stats.loss = loss.toFixed(4);
    stats.rate = rate.toFixed(0);
    stats.left = formatDuration((total - done) / rate);
  }
}
