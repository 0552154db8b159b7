/**
 * Evaluation on held-out tasks: fine-tune on each task's support set and measure on its query
 * set after several numbers of inner steps. Each measure is then summarised over the tasks as a
 * mean with its 95% confidence interval, as few-shot papers report accuracy and error.
 */
import { type Tensor, argmax, noGrad } from '@metagrad/autodiff';
import type { Module } from '@metagrad/models';
import type { LossFunction } from './learner';
import type { MAML } from './maml';
import { TaskBatchLearner } from './task-batched';

/** A sample mean with the half-width of its confidence interval. */
export interface MeanInterval {
  mean: number;
  /** Half-width: the interval is mean ± halfWidth. */
  halfWidth: number;
  /** Number of values. */
  count: number;
}

/** The 0.975 quantile of the standard normal distribution, for two-sided 95% intervals. */
const Z_95 = 1.959963984540054;

/**
 * Returns the mean of `values` and the half-width of its 95% confidence interval,
 * 1.96 * s / sqrt(n) with s the sample standard deviation. The normal approximation is close
 * for the hundreds of tasks an evaluation uses; for a handful of values it is too narrow.
 *
 * meanConfidenceInterval([1, 2, 3, 4]); // { mean: 2.5, halfWidth: 1.265..., count: 4 }
 */
export function meanConfidenceInterval(values: readonly number[]): MeanInterval {
  const count = values.length;
  if (count === 0) throw new Error('meanConfidenceInterval: got no values');
  const mean = values.reduce((total, v) => total + v, 0) / count;
  if (count === 1) return { mean, halfWidth: Number.NaN, count };

  const variance = values.reduce((total, v) => total + (v - mean) ** 2, 0) / (count - 1);
  return { mean, halfWidth: (Z_95 * Math.sqrt(variance)) / Math.sqrt(count), count };
}

/** Formats a mean and interval as '0.593 ± 0.041' with `digits` decimals. */
export function formatInterval(interval: MeanInterval, digits = 3): string {
  return `${interval.mean.toFixed(digits)} ± ${interval.halfWidth.toFixed(digits)}`;
}

/** A task's support and query sets; with a leading task axis, a batch of tasks. */
export interface TaskData {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
}

/** Options of `evaluateAdaptation` and `evaluateTaskBatch`. */
export interface EvaluationOptions<Metric> {
  /** The numbers of inner steps after which to measure; 0 measures the unadapted model. */
  steps: readonly number[];
  /** The measure taken on the query set. Default: the loss. */
  metric?: Metric;
}

/**
 * Fine-tunes `metaLearner`'s model on each task's support set by its inner loop, without
 * recording a graph, and returns, for each entry of `options.steps`, the metric on every
 * task's query set after that many steps.
 *
 * const curves = evaluateAdaptation(maml, heldOutTasks, mseLoss, { steps: [1, 5, 10] });
 * meanConfidenceInterval(curves.get(10)!); // query MSE after 10 steps, with its interval
 */
export function evaluateAdaptation<M extends Module>(
  metaLearner: MAML<M>,
  tasks: readonly TaskData[],
  lossFn: LossFunction<ReturnType<M['forward']>>,
  options: EvaluationOptions<(output: ReturnType<M['forward']>, target: Tensor) => number>,
): Map<number, number[]> {
  const measure = options.metric ?? ((output, target) => lossFn(output, target).item());
  const results = resultTable(options.steps);
  const maxSteps = Math.max(...options.steps);

  noGrad(() => {
    for (const task of tasks) {
      const record = (step: number, forward: (x: Tensor) => ReturnType<M['forward']>) => {
        results.get(step)?.push(measure(forward(task.queryX), task.queryY));
      };
      record(0, (x) => (metaLearner.module.forward as (input: Tensor) => ReturnType<M['forward']>)(x));
      if (maxSteps === 0) continue;
      metaLearner.adapt(task.supportX, task.supportY, lossFn, {
        steps: maxSteps,
        onStep: (step, learner) => record(step, (x) => learner.forward(...([x] as Parameters<M['forward']>))),
      });
    }
  });
  return results;
}

/**
 * The task-batched form of `evaluateAdaptation`: `batch` contains every task along a leading axis,
 * `lossFn` returns one loss per task, and `metric` one number per task. For models that
 * `supportsTaskBatching` accepts, it is many times faster than adapting task by task.
 */
export function evaluateTaskBatch<M extends Module>(
  metaLearner: MAML<M>,
  batch: TaskData,
  lossFn: LossFunction,
  options: EvaluationOptions<(output: Tensor, target: Tensor) => ArrayLike<number>>,
): Map<number, number[]> {
  const measure = options.metric ?? ((output, target) => lossFn(output, target).toTypedArray());
  const results = resultTable(options.steps);
  const maxSteps = Math.max(...options.steps);
  const unadapted = new TaskBatchLearner(metaLearner.module, new Map(), []);

  noGrad(() => {
    const record = (step: number, learner: TaskBatchLearner<M>) => {
      results.get(step)?.push(...Array.from(measure(learner.forward(batch.queryX), batch.queryY)));
    };
    record(0, unadapted);
    if (maxSteps > 0) metaLearner.adaptTasks(batch.supportX, batch.supportY, lossFn, { steps: maxSteps, onStep: record });
  });
  return results;
}

function resultTable(steps: readonly number[]): Map<number, number[]> {
  if (steps.length === 0 || steps.some((step) => !Number.isInteger(step) || step < 0)) {
    throw new Error(`evaluation: steps must be whole numbers of at least 0, got [${steps.join(', ')}]`);
  }
  return new Map(steps.map((step) => [step, []]));
}

/**
 * Returns the fraction of correct predictions of each task: logits [T, N, C] against class
 * indices [T, N] give [T].
 */
export function accuracyPerTask(logits: Tensor, targets: Tensor): Float64Array {
  const [tasks, examples] = logits.shape;
  const predicted = argmax(logits, 2).toTypedArray();
  const expected = targets.toTypedArray();
  const accuracy = new Float64Array(tasks);
  for (let t = 0; t < tasks; t++) {
    let correct = 0;
    for (let i = 0; i < examples; i++) if (predicted[t * examples + i] === expected[t * examples + i]) correct++;
    accuracy[t] = correct / examples;
  }
  return accuracy;
}
