/**
 * When the thread pool stops offering work to its workers for a while.
 *
 * Workers fall behind when other processes hold the cores: the operating system then runs a
 * worker late or in short slices, and the main thread either computes the worker's part itself
 * or waits longer for it than it computed. After a few such calls in a row, calls run on the
 * main thread alone for a pause. Results are the same either way; only the time differs.
 *
 * The first pause is short, so a single hiccup on an otherwise quiet machine costs a few
 * milliseconds of one-thread work. Until the workers keep up for a while again, each further
 * pause is twice as long as the one before, up to a limit. So a machine whose other core stays
 * busy settles at long pauses and probes that core rarely.
 */
import { now } from './host';

/** Calls in a row in which workers fell behind before a pause starts. */
export const STRIKES_BEFORE_PAUSE = 3;
/** The first (shortest) pause and the longest one, in milliseconds. */
export const MIN_PAUSE_MILLISECONDS = 10;
export const MAX_PAUSE_MILLISECONDS = 200;
/** Calls in a row in which workers kept up, after which the next pause is the shortest again. */
export const CALLS_THAT_RESET_PAUSES = 50;

/** The times of one call that offered parts to workers, in milliseconds, as ThreadPool.finish measures them. */
export interface CallTimes {
  /** When this thread began its own work, after it offered the parts. */
  started: number;
  /** When it had computed its share. */
  computed: number;
  /** When the last worker was done. */
  finished: number;
  /** The fraction of the job that this thread computed, from 0 to 1. */
  share: number;
  /** Parts that no worker had started, which this thread ran itself. */
  takenOver: number;
}

/**
 * Tells whether the workers fell behind in a call. They did when this thread had to run a part
 * that no worker started, or when the call took longer than this thread alone would have taken
 * for the whole job, at the speed at which it computed its share. With fixed halves on two
 * threads, that is a wait longer than this thread's own work. A thread that computed nothing
 * has no speed to compare.
 */
export function workersFellBehind(call: CallTimes): boolean {
  if (call.takenOver > 0) return true;
  if (call.share <= 0) return false;
  const aloneEstimate = (call.computed - call.started) / call.share;
  return call.finished - call.started > aloneEstimate;
}

export class Backoff {
  private strikes = 0;
  private callsKeptUp = 0;
  private nextPause = MIN_PAUSE_MILLISECONDS;
  private pausedUntil = 0;

  /** `clock` returns milliseconds; tests pass their own. */
  constructor(private readonly clock: () => number = now) {}

  /** Tells whether calls should run on the main thread alone for now. */
  get paused(): boolean {
    return this.clock() < this.pausedUntil;
  }

  /** The length of the next pause, in milliseconds. */
  get nextPauseMilliseconds(): number {
    return this.nextPause;
  }

  /** Records one call that offered parts to workers, and whether they fell behind in it. */
  record(fellBehind: boolean): void {
    if (!fellBehind) {
      this.strikes = 0;
      this.callsKeptUp++;
      if (this.callsKeptUp >= CALLS_THAT_RESET_PAUSES) this.nextPause = MIN_PAUSE_MILLISECONDS;
      return;
    }

    this.callsKeptUp = 0;
    this.strikes++;
    if (this.strikes < STRIKES_BEFORE_PAUSE) return;

    this.strikes = 0;
    this.pausedUntil = this.clock() + this.nextPause;
    this.nextPause = Math.min(MAX_PAUSE_MILLISECONDS, 2 * this.nextPause);
  }
}
