/**
 * Hyperparameter tuning by hypergradients: the learning rate and the weight decay of plain SGD
 * are learned by differentiating a validation loss through a few unrolled training steps, as
 * in Maclaurin, Duvenaud and Adams, "Gradient-based Hyperparameter Optimization through
 * Reversible Learning" (2015). Their reversible-memory trick is left out, because a few
 * unrolled steps fit in memory as they are.
 *
 * Both are stored as logarithms, log lr and log weightDecay, so that any update of them keeps
 * the rates positive. One round:
 *
 * const tuner = new HypergradientTuner(model, { lr: 0.05, weightDecay: 1e-3 });
 * const hyperOptimizer = new Adam(tuner.parameters(), { lr: 0.01 });
 * const learner = tuner.unroll(trainingBatches, crossEntropy); // one SGD step per batch
 * const validationLoss = crossEntropy(learner.forward(validationX), validationY);
 * hyperOptimizer.zeroGrad(); validationLoss.backward(); hyperOptimizer.step();
 * tuner.commit(learner); // the model keeps the trained weights
 */
import { type Tensor, add, exp, full, mul, noGrad, square, sum } from '@metagrad/autodiff';
import { type Module, functionalCall } from '@metagrad/models';
import { gradientSteps } from './inner-loop';
import { AdaptedLearner, type LossFunction } from './learner';

/** Initial values of the tuned hyperparameters. */
export interface HypergradientOptions {
  /** Initial SGD learning rate, > 0. */
  lr: number;
  /** Initial L2 weight decay, > 0: the update is theta - lr * (grad + weightDecay * theta). */
  weightDecay: number;
}

/** A batch of training data for one unrolled step. */
export interface Batch {
  x: Tensor;
  y: Tensor;
}

export class HypergradientTuner<M extends Module = Module> {
  readonly module: M;
  /** log of the learning rate, a scalar leaf. */
  readonly logLr: Tensor;
  /** log of the weight decay, a scalar leaf. */
  readonly logWeightDecay: Tensor;

  constructor(module: M, options: HypergradientOptions) {
    for (const [key, value] of Object.entries(options)) {
      if (!(value > 0) || !Number.isFinite(value)) throw new Error(`HypergradientTuner: ${key} must be a positive number, got ${value}`);
    }
    this.module = module;
    const dtype = module.parameters()[0]?.dtype ?? 'float32';
    this.logLr = full([], Math.log(options.lr), { dtype, requiresGrad: true, name: 'logLr' });
    this.logWeightDecay = full([], Math.log(options.weightDecay), { dtype, requiresGrad: true, name: 'logWeightDecay' });
  }

  /** The current learning rate. */
  get lr(): number {
    return Math.exp(this.logLr.item());
  }

  /** The current weight decay. */
  get weightDecay(): number {
    return Math.exp(this.logWeightDecay.item());
  }

  /** Returns the hyperparameters to optimize: [logLr, logWeightDecay]. */
  parameters(): Tensor[] {
    return [this.logLr, this.logWeightDecay];
  }

  /**
   * Runs one SGD step with weight decay per batch, from the module's weights, recording every
   * step with its second derivatives, and returns the trained learner. A loss computed with it
   * can be backpropagated to logLr and logWeightDecay.
   */
  unroll(batches: readonly Batch[], lossFn: LossFunction<ReturnType<M['forward']>>): AdaptedLearner<M> {
    if (batches.length === 0) throw new Error('HypergradientTuner.unroll: got no batches; pass one batch per training step');
    const start = new Map(this.module.namedParameters());
    const weightDecay = exp(this.logWeightDecay);
    const lr = exp(this.logLr);

    // SGD's weight decay adds weightDecay * theta to the gradient: that is the gradient of
    // weightDecay / 2 * |theta|^2, so the penalty is added to the loss.
    const regularizedLoss = (parameters: Map<string, Tensor>, step: number) => {
      const { x, y } = batches[step];
      const output = functionalCall(this.module, parameters, ...([x] as Parameters<M['forward']>));
      const squaredNorm = [...parameters.values()].map((p) => sum(square(p))).reduce((total, term) => add(total, term));
      return add(lossFn(output, y), mul(mul(squaredNorm, weightDecay), 0.5));
    };

    const { parameters, losses } = gradientSteps(start, regularizedLoss, {
      steps: batches.length,
      names: [...start.keys()],
      stepSize: () => lr,
      firstOrder: false,
    });
    return new AdaptedLearner(this.module, parameters, losses);
  }

  /** Copies the learner's trained weights into the module and clears the module's gradients. */
  commit(learner: AdaptedLearner<M>): void {
    const own = new Map(this.module.namedParameters());
    noGrad(() => {
      for (const [name, trained] of learner.parameters) {
        const parameter = own.get(name)!;
        parameter.data.set(trained.contiguous().toTypedArray(), parameter.offset);
      }
    });
    this.module.zeroGrad();
  }
}
