/**
 * The result of an inner loop: a module paired with its adapted parameters. Calling `forward`
 * runs the module with those parameters in place of its own, through `functionalCall`, so the
 * output stays differentiable with respect to whatever the adapted parameters were computed
 * from: the meta-parameters, and learned inner learning rates.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type Module, functionalCall } from '@metagrad/models';

/** A loss of a model's output against a target, such as `mseLoss` or `crossEntropy`. */
export type LossFunction<Output = Tensor> = (output: Output, target: Tensor) => Tensor;

/** Options of an `adapt` call. */
export interface AdaptOptions<Learner> {
  /** Number of inner gradient steps; defaults to the meta-learner's `innerSteps`. */
  steps?: number;
  /** Called after each inner step with the step number (from 1) and the learner so far, for evaluation curves. */
  onStep?: (step: number, learner: Learner) => void;
}

/**
 * A module with adapted parameters. `parameters` maps dotted parameter names to the adapted
 * tensors; names it lacks keep the module's own parameters.
 */
export class AdaptedLearner<M extends Module = Module> {
  constructor(
    readonly module: M,
    readonly parameters: ReadonlyMap<string, Tensor>,
    /** The support loss before each inner step, as numbers. */
    readonly supportLosses: readonly number[],
  ) {}

  /** Runs the module's forward with the adapted parameters. */
  forward(...inputs: Parameters<M['forward']>): ReturnType<M['forward']> {
    return functionalCall(this.module, this.parameters as Map<string, Tensor>, ...inputs);
  }
}
