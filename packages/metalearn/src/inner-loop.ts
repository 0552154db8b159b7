/**
 * The inner loop shared by every gradient-based meta-learner: a few steps of gradient descent
 * on named parameters, theta <- theta - alpha * grad L(theta), where alpha is a number or a
 * tensor (one rate per parameter tensor, or one per element).
 *
 * How much of the loop is recorded decides which derivatives the meta-gradient contains:
 *   - second order: each gradient is taken with createGraph, so backpropagating through the
 *     result also differentiates through the gradients themselves (Hessian-vector products);
 *   - first order: each gradient is taken on a detached copy, so the result depends on the
 *     starting parameters and the rates only through the update's sum, and each step's
 *     support graph is released as soon as its gradient is known;
 *   - with graph recording off (inside `noGrad`), nothing is recorded and the result is
 *     detached, which is what evaluation wants.
 */
import { type Tensor, enableGrad, grad, isGradEnabled, mul, noGrad, sub } from '@metagrad/autodiff';

/** The step size of `name` at inner step `step` (from 0): a number, or a tensor that broadcasts against the parameter. */
export type StepSize = (name: string, step: number) => Tensor | number;

/** Options of `gradientSteps`. */
export interface GradientStepsOptions {
  /** Number of steps. */
  steps: number;
  /** The names of the parameters to update; the others stay fixed. */
  names: readonly string[];
  stepSize: StepSize;
  /** Take the gradients on detached copies, so that no second derivatives are recorded. */
  firstOrder: boolean;
  /** Called after each step with the step number (from 1) and the parameters so far. */
  onStep?: (step: number, parameters: Map<string, Tensor>) => void;
}

/** The parameters after the inner loop, and the loss before each step. */
export interface GradientStepsResult {
  parameters: Map<string, Tensor>;
  losses: number[];
}

/**
 * Runs `options.steps` gradient steps from `start` on `loss(parameters, step)` and returns the
 * updated parameters. A parameter that the loss does not use keeps its value.
 *
 * const { parameters } = gradientSteps(new Map([['w', w]]), (p) => p.get('w')!.square().sum(), {
 *   steps: 1, names: ['w'], stepSize: () => 0.25, firstOrder: false,
 * }); // w - 0.25 * 2w = w / 2, differentiable with respect to w
 */
export function gradientSteps(
  start: ReadonlyMap<string, Tensor>,
  loss: (parameters: Map<string, Tensor>, step: number) => Tensor,
  options: GradientStepsOptions,
): GradientStepsResult {
  checkSteps(options.steps);
  const recording = isGradEnabled();
  let parameters = new Map(start);
  const losses: number[] = [];

  for (let step = 0; step < options.steps; step++) {
    const current = options.names.map((name) => requireParameter(parameters, name));

    // A second-order step differentiates with respect to the recorded tensors themselves. Any
    // other step uses detached leaves, so its gradient carries no graph back to the start.
    const secondOrder = recording && !options.firstOrder;
    const inputs = current.map((tensor) => (secondOrder && tensor.requiresGrad ? tensor : tensor.detach().requiresGrad_(true)));
    const evaluated = new Map(parameters);
    options.names.forEach((name, i) => evaluated.set(name, inputs[i]));

    const value = enableGrad(() => loss(evaluated, step));
    losses.push(value.item());
    const grads = enableGrad(() => grad(value, inputs, { createGraph: secondOrder, allowUnused: true }));

    const next = new Map(parameters);
    options.names.forEach((name, i) => {
      const gradient = grads[i];
      if (gradient === null) return;
      const update = () => {
        const rate = options.stepSize(name, step);
        // A number rate goes to sub's alpha: one op and one pass over the weights instead of two.
        return typeof rate === 'number' ? sub(current[i], gradient, rate) : sub(current[i], mul(gradient, rate));
      };
      next.set(name, recording ? update() : noGrad(update));
    });
    parameters = next;
    options.onStep?.(step + 1, parameters);
  }
  return { parameters, losses };
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new Error(`gradientSteps: the number of inner steps must be a whole number of at least 0, got ${steps}`);
  }
}

function requireParameter(parameters: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const tensor = parameters.get(name);
  if (tensor === undefined) {
    throw new Error(`gradientSteps: no parameter named '${name}'; the names are ${[...parameters.keys()].join(', ')}`);
  }
  return tensor;
}
