/**
 * The meta-learning algorithms the `metagrad maml` commands offer, and one meta-step of each on
 * a batch of tasks.
 */
import type { Tensor } from '@metagrad/autodiff';
import type { Module, Optimizer } from '@metagrad/models';
import { ANIL, MAML, MetaSGD, Reptile, type LossFunction, type TaskData } from '@metagrad/metalearn';

/** The names accepted by --algo. */
export const ALGORITHMS = ['maml', 'fomaml', 'reptile', 'metasgd', 'anil'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** The full name of each --algo value, for help text and reports. */
export const ALGORITHM_NAMES: Record<Algorithm, string> = {
  maml: 'MAML',
  fomaml: 'first-order MAML',
  reptile: 'Reptile',
  metasgd: 'Meta-SGD',
  anil: 'ANIL',
};

/** Settings of the inner loop shared by every algorithm. */
export interface InnerLoopSettings {
  innerLr: number;
  innerSteps: number;
  /** Learn a rate per parameter tensor and per inner step (MAML++); for maml, fomaml and anil. */
  learnInnerLr?: boolean;
}

/** Creates the meta-learner of `algorithm` around `model`. */
export function createMetaLearner<M extends Module>(algorithm: Algorithm, model: M, settings: InnerLoopSettings): MAML<M> {
  const options = { innerLr: settings.innerLr, innerSteps: settings.innerSteps, learnInnerLr: settings.learnInnerLr };
  switch (algorithm) {
    case 'maml':
      return new MAML(model, options);
    case 'fomaml':
      return new MAML(model, { ...options, firstOrder: true });
    case 'anil':
      return new ANIL(model, options);
    case 'metasgd':
      return new MetaSGD(model, { innerLr: settings.innerLr, innerSteps: settings.innerSteps });
    case 'reptile':
      return new Reptile(model, { innerLr: settings.innerLr, innerSteps: settings.innerSteps });
    default:
      throw new Error(`unknown algorithm '${String(algorithm)}'; choose one of ${ALGORITHMS.join(', ')}`);
  }
}

/** The adaptation path of a meta-step: all tasks at once with a task axis, or one task at a time. */
export type AdaptationPath = 'batched' | 'per-task';

/**
 * Runs one meta-step on a batch of tasks with a leading task axis and returns the mean query
 * loss after adaptation. `taskLoss` gives one loss per task; `loss` is the same loss for one
 * task, used by the per-task path.
 */
export function metaStep<M extends Module>(
  metaLearner: MAML<M>,
  optimizer: Optimizer,
  batch: TaskData,
  losses: { taskLoss: LossFunction; loss: LossFunction<ReturnType<M['forward']>> },
  path: AdaptationPath,
): number {
  const tasks = batch.supportX.shape[0];
  optimizer.zeroGrad();
  let total = 0;

  if (path === 'batched') {
    const learner = metaLearner.adaptTasks(batch.supportX, batch.supportY, losses.taskLoss);
    const queryLosses = losses.taskLoss(learner.forward(batch.queryX), batch.queryY);
    if (metaLearner instanceof Reptile) metaLearner.accumulateGradient(learner, 1 / tasks);
    else queryLosses.mean().backward();
    total = queryLosses.sum().item();
  } else {
    for (let t = 0; t < tasks; t++) {
      const row = (tensor: Tensor) => tensor.slice(t);
      const learner = metaLearner.adapt(row(batch.supportX), row(batch.supportY), losses.loss);
      const queryLoss = losses.loss(learner.forward(...([row(batch.queryX)] as Parameters<M['forward']>)), row(batch.queryY));
      // Each task's backward frees its graph before the next task is adapted.
      if (metaLearner instanceof Reptile) metaLearner.accumulateGradient(learner, 1 / tasks);
      else queryLoss.div(tasks).backward();
      total += queryLoss.item();
    }
  }

  optimizer.step();
  return total / tasks;
}
