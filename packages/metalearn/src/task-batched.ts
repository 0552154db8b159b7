/**
 * Task-batched adaptation: the tasks of a meta-batch share one leading task axis, so the inner
 * loop of T tasks runs as one pass of batched matrix products instead of T passes of small ones.
 *
 * The shared weights W [out, in] are broadcast to per-task weights [T, out, in] (a view, no
 * copy), and each Linear layer computes x_t W_tᵀ + b_t for every task t at once with batchedLinear.
 * Because the tasks do not interact, the gradient of the sum of the per-task losses with
 * respect to the per-task weights holds, in row t, the gradient of task t's own loss: one
 * backward pass yields every task's inner gradient.
 *
 * Supported models are a Linear layer, or a Sequential of Linear layers and elementwise
 * activations (ReLU, Tanh, Sigmoid, LeakyReLU, GELU, Identity). Other modules adapt per task.
 */
import { type Tensor, batchedLinear, expand, linear, mean, reshape, unsqueeze } from '@metagrad/autodiff';
import { GELU, Identity, LeakyReLU, Linear, type Module, ReLU, Sequential, Sigmoid, Tanh, crossEntropy } from '@metagrad/models';
import { formatShape } from '@metagrad/kernels';
import type { LossFunction } from './learner';

const ELEMENTWISE_LAYERS = [ReLU, Tanh, Sigmoid, LeakyReLU, GELU, Identity];

/** A layer of a task-batched model with the dotted prefix of its parameter names ('' or '0.'). */
interface PrefixedLayer {
  prefix: string;
  layer: Module;
}

/** Returns the layers of a task-batchable model in order, or a reason why it is not one. */
function batchableLayers(module: Module): PrefixedLayer[] | string {
  const layers: PrefixedLayer[] = module instanceof Sequential
    ? module.namedChildren().map(([name, layer]) => ({ prefix: `${name}.`, layer }))
    : [{ prefix: '', layer: module }];

  for (const { prefix, layer } of layers) {
    const supported = layer instanceof Linear || ELEMENTWISE_LAYERS.some((kind) => layer instanceof kind);
    if (!supported) {
      const where = prefix === '' ? 'the model' : `layer ${prefix.slice(0, -1)}`;
      return `${where} is a ${layer.constructor.name}, but task batching supports only Linear, ReLU, Tanh, Sigmoid, LeakyReLU, GELU and Identity layers`;
    }
  }
  return layers;
}

/** Tells whether `adaptTasks` can run `module` with a task axis. */
export function supportsTaskBatching(module: Module): boolean {
  return typeof batchableLayers(module) !== 'string';
}

/**
 * Broadcasts a shared parameter to one copy per task, [tasks, ...shape], as a view.
 *
 * expandToTasks(weight, 25) turns a [40, 1] weight into [25, 40, 1] without copying it.
 */
export function expandToTasks(parameter: Tensor, tasks: number): Tensor {
  return expand(unsqueeze(parameter, 0), [tasks, ...parameter.shape]);
}

/**
 * Runs a task-batchable model on x [T, N, in] with `parameters` by dotted name and returns
 * [T, N, out]. A parameter with a leading task axis ([T, out, in] or [T, out]) is per task and
 * any other is shared by all tasks. A name not given uses the module's own parameter.
 */
export function taskBatchedForward(module: Module, parameters: ReadonlyMap<string, Tensor>, x: Tensor): Tensor {
  const layers = batchableLayers(module);
  if (typeof layers === 'string') throw new Error(`taskBatchedForward: ${layers}; adapt this model one task at a time instead`);
  if (x.ndim < 3) {
    throw new Error(`taskBatchedForward: the input must be [tasks, examples, features], got ${formatShape(x.shape)}`);
  }

  let value = x;
  for (const { prefix, layer } of layers) {
    if (!(layer instanceof Linear)) {
      value = (layer.forward as (input: Tensor) => Tensor)(value);
      continue;
    }
    const weight = parameters.get(`${prefix}weight`) ?? layer.weight;
    const bias = parameters.get(`${prefix}bias`) ?? layer.bias;
    value = taskLinear(value, weight, bias);
  }
  return value;
}

/**
 * x·Wᵀ + b for x [T, N, in], with W [out, in] shared or [T, out, in] per task, and b [out] or
 * [T, out] likewise. A shared W and b take the fused `linear` op.
 */
function taskLinear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (weight.ndim === 2 && (bias === null || bias.ndim === 1)) return linear(x, weight, bias);

  const tasks = x.shape[0];
  const perTaskWeight = weight.ndim === 2 ? expandToTasks(weight, tasks) : weight;
  const perTaskBias = bias === null || bias.ndim === 2 ? bias : expandToTasks(bias, tasks);
  return batchedLinear(x, perTaskWeight, perTaskBias);
}

/**
 * A model adapted to every task of a meta-batch at once: its parameters carry a leading task
 * axis, and `forward` takes inputs [T, N, in] whose row t belongs to task t.
 */
export class TaskBatchLearner<M extends Module = Module> {
  constructor(
    readonly module: M,
    readonly parameters: ReadonlyMap<string, Tensor>,
    /** The support loss before each inner step, summed over the tasks. */
    readonly supportLosses: readonly number[],
  ) {}

  /** Runs every task's adapted model on its own row of x [T, N, in]; returns [T, N, out]. */
  forward(x: Tensor): Tensor {
    return taskBatchedForward(this.module, this.parameters, x);
  }
}

/** Throws unless `module` can run with a task axis, naming the first layer that cannot. */
export function checkTaskBatching(caller: string, module: Module): void {
  const layers = batchableLayers(module);
  if (typeof layers === 'string') throw new Error(`${caller}: ${layers}; call adapt() once per task instead`);
}

/**
 * Mean squared error of each task: prediction and target [T, N, ...] give [T].
 *
 * mseLossPerTask(zeros([2, 3, 1]), ones([2, 3, 1])) is [1, 1].
 */
export const mseLossPerTask: LossFunction = (prediction, target) => {
  if (prediction.ndim < 2 || prediction.shape.length !== target.shape.length || prediction.shape.some((dim, i) => dim !== target.shape[i])) {
    throw new Error(`mseLossPerTask: prediction ${formatShape(prediction.shape)} and target ${formatShape(target.shape)} must have the same shape [tasks, examples, ...]`);
  }
  const axes = prediction.shape.slice(1).map((_, i) => i + 1);
  return mean(prediction.sub(target).square(), axes);
};

/**
 * Mean cross-entropy of each task: logits [T, N, C] against class indices [T, N] give [T].
 */
export const crossEntropyPerTask: LossFunction = (logits, targets) => {
  if (logits.ndim !== 3 || targets.ndim !== 2 || targets.shape[0] !== logits.shape[0] || targets.shape[1] !== logits.shape[1]) {
    throw new Error(`crossEntropyPerTask: logits must be [tasks, examples, classes] and targets [tasks, examples], got ${formatShape(logits.shape)} and ${formatShape(targets.shape)}`);
  }
  const [tasks, examples, classes] = logits.shape;
  const losses = crossEntropy(reshape(logits, [tasks * examples, classes]), reshape(targets, [tasks * examples]), { reduction: 'none' });
  return mean(reshape(losses, [tasks, examples]), 1);
};
