/**
 * Reptile (Nichol, Achiam and Schulman, "On First-Order Meta-Learning Algorithms", 2018):
 * adapt to a task by plain SGD, then move the initial weights toward the adapted ones,
 * theta <- theta + epsilon * (phi - theta). No gradient flows through the inner loop.
 *
 * The update is exposed as a gradient: `accumulateGradient` adds weight * (theta - phi) to each
 * parameter's `.grad`. SGD with learning rate epsilon then performs exactly the step above, and
 * any other optimizer of @metagrad/models can be used in its place.
 *
 * const reptile = new Reptile(model, { innerLr: 0.01, innerSteps: 5 });
 * const optimizer = new SGD(reptile.parameters(), { lr: 0.1 });
 * for (const task of tasks) reptile.accumulateGradient(reptile.adapt(task.x, task.y, mseLoss), 1 / tasks.length);
 * optimizer.step(); optimizer.zeroGrad();
 */
import { type Tensor, noGrad, sub, sumToShape } from '@metagrad/autodiff';
import type { Module } from '@metagrad/models';
import { type AdaptOptions, AdaptedLearner, type LossFunction } from './learner';
import { MAML, type MamlOptions } from './maml';
import type { TaskBatchLearner } from './task-batched';

/** Options of Reptile: the inner loop's, without the second-order and learned-rate switches. */
export type ReptileOptions = Omit<MamlOptions, 'firstOrder' | 'learnInnerLr'>;

/**
 * Reptile reuses MAML's inner loop with recording off, so its adapted weights carry no graph.
 * Its default is 5 inner steps, because with one step Reptile's update is a multiple of the
 * plain gradient on the support set, the same as joint training.
 */
export class Reptile<M extends Module = Module> extends MAML<M> {
  constructor(module: M, options: ReptileOptions = {}) {
    super(module, { innerSteps: 5, ...options, firstOrder: true });
  }

  /** Fine-tunes the module on one task by SGD, without recording a graph. */
  override adapt(x: Tensor, y: Tensor, lossFn: LossFunction<ReturnType<M['forward']>>, options: AdaptOptions<AdaptedLearner<M>> = {}): AdaptedLearner<M> {
    return noGrad(() => super.adapt(x, y, lossFn, options));
  }

  /** Fine-tunes on a batch of tasks at once (see MAML.adaptTasks), without recording a graph. */
  override adaptTasks(x: Tensor, y: Tensor, lossFn: LossFunction, options: AdaptOptions<TaskBatchLearner<M>> = {}): TaskBatchLearner<M> {
    return noGrad(() => super.adaptTasks(x, y, lossFn, options));
  }

  /**
   * Adds weight * (theta - phi) to the `.grad` of each adapted parameter theta, with phi its
   * adapted value. For a task-batched learner, phi has a task axis and the differences of all
   * its tasks are summed, so pass weight 1 / T for their mean.
   */
  accumulateGradient(learner: AdaptedLearner<M> | TaskBatchLearner<M>, weight = 1): void {
    const own = new Map(this.module.namedParameters());
    noGrad(() => {
      for (const [name, adapted] of learner.parameters) {
        const parameter = own.get(name);
        if (parameter === undefined) throw new Error(`Reptile.accumulateGradient: the learner's parameter '${name}' is not one of the module's`);
        const difference = sumToShape(sub(parameter, adapted), parameter.shape).mul(weight);
        parameter.grad = parameter.grad === null ? difference.contiguous() : parameter.grad.add(difference);
      }
    });
  }
}
