/**
 * The sinusoid regression tasks of Finn, Abbeel and Levine (2017), section 5.1: each task is
 * y = A sin(x - phase) with the amplitude A drawn uniformly from [0.1, 5], the phase from
 * [0, pi], and inputs x drawn uniformly from [-5, 5]. A task gives K support points to adapt on
 * and separate query points to measure the adapted model on.
 */
import { Generator, type Tensor, tensor } from '@metagrad/autodiff';
import type { Dtype } from '@metagrad/kernels';

/** A closed interval [low, high]. */
export type Range = readonly [number, number];

/** Options of `sinusoidTasks`. */
export interface SinusoidOptions {
  /** Amplitude range. Default [0.1, 5]. */
  amplitude?: Range;
  /** Phase range. Default [0, pi]. */
  phase?: Range;
  /** Input range. Default [-5, 5]. */
  x?: Range;
  /** Support points per task, K. */
  shots: number;
  /** Query points per task. Default: as many as `shots`. */
  queries?: number;
  /** Seed of the task stream. Default 0. */
  seed?: number;
  /** Element type of the tensors. Default float32. */
  dtype?: Dtype;
}

/** One sinusoid task with its support set [K, 1] and query set [Q, 1]. */
export interface SinusoidTask {
  amplitude: number;
  phase: number;
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
  /** The task's true function, A sin(x - phase). */
  evaluate(x: number): number;
}

/** T tasks with a leading task axis: support [T, K, 1] and query [T, Q, 1]. */
export interface SinusoidTaskBatch {
  amplitudes: number[];
  phases: number[];
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
  /** Task t alone, with the same points as row t. */
  task(t: number): SinusoidTask;
}

/** A task's values as numbers, before they become tensors. */
interface DrawnTask {
  amplitude: number;
  phase: number;
  supportX: number[];
  queryX: number[];
}

/** A seeded stream of sinusoid tasks. The same seed gives the same tasks on every machine. */
export class SinusoidTasks {
  readonly shots: number;
  readonly queries: number;
  readonly amplitude: Range;
  readonly phase: Range;
  readonly x: Range;
  readonly dtype: Dtype;
  private readonly generator: Generator;

  constructor(options: SinusoidOptions) {
    this.shots = options.shots;
    this.queries = options.queries ?? options.shots;
    this.amplitude = checkRange('amplitude', options.amplitude ?? [0.1, 5]);
    this.phase = checkRange('phase', options.phase ?? [0, Math.PI]);
    this.x = checkRange('x', options.x ?? [-5, 5]);
    this.dtype = options.dtype ?? 'float32';
    for (const [key, value] of [['shots', this.shots], ['queries', this.queries]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`sinusoidTasks: ${key} must be a whole number of at least 1, got ${value}`);
    }
    this.generator = new Generator(options.seed ?? 0);
  }

  /** Draws the next task. */
  sample(): SinusoidTask {
    return this.toTask(this.draw());
  }

  /**
   * Draws the next `tasks` tasks as one batch. They are the tasks that `tasks` calls of
   * `sample()` would have drawn.
   */
  sampleBatch(tasks: number): SinusoidTaskBatch {
    if (!Number.isInteger(tasks) || tasks < 1) throw new Error(`SinusoidTasks.sampleBatch: tasks must be a whole number of at least 1, got ${tasks}`);
    const drawn = Array.from({ length: tasks }, () => this.draw());
    const stacked = (pick: (task: DrawnTask) => number[], values: (task: DrawnTask, x: number) => number, count: number) => {
      const data = drawn.flatMap((task) => pick(task).map((x) => values(task, x)));
      return tensor(data, { shape: [tasks, count, 1], dtype: this.dtype });
    };
    const input = (_: DrawnTask, x: number) => x;
    const output = (task: DrawnTask, x: number) => sine(task, x);

    return {
      amplitudes: drawn.map((task) => task.amplitude),
      phases: drawn.map((task) => task.phase),
      supportX: stacked((task) => task.supportX, input, this.shots),
      supportY: stacked((task) => task.supportX, output, this.shots),
      queryX: stacked((task) => task.queryX, input, this.queries),
      queryY: stacked((task) => task.queryX, output, this.queries),
      task: (t) => this.toTask(drawn[t]),
    };
  }

  private draw(): DrawnTask {
    const uniform = ([low, high]: Range) => low + (high - low) * this.generator.uniform();
    const amplitude = uniform(this.amplitude);
    const phase = uniform(this.phase);
    const supportX = Array.from({ length: this.shots }, () => uniform(this.x));
    const queryX = Array.from({ length: this.queries }, () => uniform(this.x));
    return { amplitude, phase, supportX, queryX };
  }

  private toTask(drawn: DrawnTask): SinusoidTask {
    const column = (values: number[]) => tensor(values, { shape: [values.length, 1], dtype: this.dtype });
    return {
      amplitude: drawn.amplitude,
      phase: drawn.phase,
      supportX: column(drawn.supportX),
      supportY: column(drawn.supportX.map((x) => sine(drawn, x))),
      queryX: column(drawn.queryX),
      queryY: column(drawn.queryX.map((x) => sine(drawn, x))),
      evaluate: (x) => sine(drawn, x),
    };
  }
}

/**
 * Returns a seeded stream of sinusoid tasks with the distribution of Finn et al. (2017) unless
 * the options change it.
 *
 * const tasks = sinusoidTasks({ shots: 5, seed: 1 });
 * tasks.sample().supportX.shape;      // [5, 1]
 * tasks.sampleBatch(25).supportX.shape; // [25, 5, 1]
 */
export function sinusoidTasks(options: SinusoidOptions): SinusoidTasks {
  return new SinusoidTasks(options);
}

function sine(task: { amplitude: number; phase: number }, x: number): number {
  return task.amplitude * Math.sin(x - task.phase);
}

function checkRange(key: string, range: Range): Range {
  if (range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || range[0] > range[1]) {
    throw new Error(`sinusoidTasks: ${key} must be a range [low, high] of finite numbers with low <= high, got [${range.join(', ')}]`);
  }
  return range;
}
