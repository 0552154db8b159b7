/**
 * The benchmark harness: what a suite and a case are, and how one side of a case is timed.
 *
 * A case compares metagrad with one peer (TF.js, PyTorch, ...) on the same work. Each side is
 * a `Measure`, a function that returns a `Measurement` when the harness calls it. So a case
 * can time code in this process (`timed`) or read a timing taken elsewhere (a Python twin),
 * and a side that cannot run returns the reason instead of failing the whole suite.
 */

/** Timing of one side of a case. Times are wall-clock milliseconds. */
export interface Timing {
  medianMs: number;
  minMs: number;
  warmup: number;
  repetitions: number;
  samplesMs: number[];
}

/** A side that did not run, with the reason shown in the table. */
export interface Skipped {
  skipped: string;
}

export type Measurement = Timing | Skipped;

/** Runs one side of a case and returns its measurement. */
export type Measure = () => Promise<Measurement>;

/** How many untimed warm-up runs and timed runs one side gets. */
export interface RunCounts {
  warmup?: number;
  repetitions?: number;
}

export const defaultCounts: Required<RunCounts> = { warmup: 2, repetitions: 10 };

/** One row of a suite's table. */
export interface BenchmarkCase {
  name: string;
  /** Floating-point operations of one run, counting a multiply-add as two, for the GFLOP/s columns. */
  flops?: number;
  metagrad: Measure;
  peer: Measure;
  /** Frees the memory the case keeps outside the JavaScript heap, such as TF.js tensors. */
  dispose?: () => void;
}

/** A group of cases run and reported together, selected with `--suite <name>`. */
export interface Suite {
  /** Name used by `--suite` and in the results file name. */
  name: string;
  description: string;
  /** Label of the peer's columns, for example 'TF.js CPU'. */
  peer: string;
  /** Prepares the inputs and returns the cases, without timing anything. */
  cases(): Promise<BenchmarkCase[]>;
}

/** The measurements of one case. */
export interface CaseResult {
  name: string;
  flops?: number;
  metagrad: Measurement;
  peer: Measurement;
}

export function isSkipped(measurement: Measurement): measurement is Skipped {
  return 'skipped' in measurement;
}

/**
 * Calls `run` `warmup` times untimed, then `repetitions` times timed with
 * process.hrtime.bigint. A run that returns a promise is timed until the promise settles.
 */
export async function timeRuns(run: () => unknown, counts: RunCounts = {}): Promise<Timing> {
  const warmup = counts.warmup ?? defaultCounts.warmup;
  const repetitions = counts.repetitions ?? defaultCounts.repetitions;
  if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(repetitions) || repetitions < 1) {
    throw new RangeError(`timeRuns: warmup must be an integer >= 0 and repetitions an integer >= 1, got warmup ${warmup} and repetitions ${repetitions}`);
  }

  for (let i = 0; i < warmup; i++) await run();

  const samplesMs: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const start = process.hrtime.bigint();
    await run();
    samplesMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }

  return { medianMs: median(samplesMs), minMs: Math.min(...samplesMs), warmup, repetitions, samplesMs };
}

/** Returns a `Measure` that times `run` in this process with `timeRuns`. */
export function timed(run: () => unknown, counts: RunCounts = {}): Measure {
  return () => timeRuns(run, counts);
}

/** Returns a `Measure` for a side that cannot run, for example a peer that is not installed. */
export function skipped(reason: string): Measure {
  return async () => ({ skipped: reason });
}

/**
 * Measures every case of `suite` in order, metagrad first, and passes each result to
 * `onResult` as soon as it is known, because a suite can run for minutes.
 */
export async function runSuite(suite: Suite, onResult: (result: CaseResult) => void = () => {}): Promise<CaseResult[]> {
  const cases = await suite.cases();
  const results: CaseResult[] = [];

  try {
    for (const benchmark of cases) {
      const metagrad = await benchmark.metagrad();
      const peer = await benchmark.peer();
      const result = { name: benchmark.name, flops: benchmark.flops, metagrad, peer };
      results.push(result);
      onResult(result);
    }
  } finally {
    for (const benchmark of cases) benchmark.dispose?.();
  }
  return results;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
