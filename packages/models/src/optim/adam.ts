/** Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW. */
import type { Tensor } from '@metagrad/autodiff';
import type { FloatArray } from '@metagrad/kernels';
import { Optimizer, type OptimizerState } from './optimizer';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment estimates. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps?: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay of the weights. */
  weightDecay?: number;
  /** Use the maximum of past second moments (AMSGrad). Default false. */
  amsgrad?: boolean;
}

/**
 * Adam. Per step t, with g = grad (+ weightDecay * p for Adam):
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
 *   p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * As in PyTorch, t counts the steps in which this parameter had a gradient, so a parameter
 * that joins late gets the bias correction of its own first step.
 */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  /** AdamW decays the weights directly instead of adding the penalty to the gradient. */
  protected readonly decoupled: boolean = false;
  /** Per parameter, the number of steps that updated it: the t of the bias corrections. */
  private parameterSteps: number[];

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, defaultWeightDecay = 0) {
    super(params, options.lr ?? 1e-3);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    this.amsgrad = options.amsgrad ?? false;
    for (const beta of [this.beta1, this.beta2]) {
      if (!(beta >= 0 && beta < 1)) throw new Error(`${this.constructor.name}: betas must be in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
    this.parameterSteps = this.params.map(() => 0);
  }

  protected update(index: number, values: FloatArray, valueOffset: number, grads: FloatArray, gradOffset: number, size: number): void {
    const { lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled } = this;
    const step = ++this.parameterSteps[index];
    const m = this.buffer(index, 'exp_avg');
    const v = this.buffer(index, 'exp_avg_sq');
    const vMax = amsgrad ? this.buffer(index, 'max_exp_avg_sq') : undefined;
    const stepSize = lr / (1 - beta1 ** step);
    const secondCorrection = math.sqrt(1 - beta2 ** step);
    const decay = decoupled ? 1 - lr * weightDecay : 1;
    const penalty = decoupled ? 0 : weightDecay;

    if (vMax !== undefined) {
      for (let i = 0; i < size; i++) {
        const p = values[valueOffset + i] * decay;
        const g = grads[gradOffset + i] + penalty * p;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        vMax[i] = math.max(vMax[i], v[i]);
        values[valueOffset + i] = p - (stepSize * m[i]) / (math.sqrt(vMax[i]) / secondCorrection + eps);
      }
      return;
    }

    // The same step without AMSGrad. Float32 moments are rounded before the update uses them, as
    // PyTorch's are; rounding with fround is faster than reading the stored values back.
    if (m instanceof Float32Array) {
      for (let i = 0; i < size; i++) {
        const p = values[valueOffset + i] * decay;
        const g = grads[gradOffset + i] + penalty * p;
        const first = math.fround(beta1 * m[i] + (1 - beta1) * g);
        const second = math.fround(beta2 * v[i] + (1 - beta2) * g * g);
        m[i] = first;
        v[i] = second;
        values[valueOffset + i] = p - (stepSize * first) / (math.sqrt(second) / secondCorrection + eps);
      }
      return;
    }
    for (let i = 0; i < size; i++) {
      const p = values[valueOffset + i] * decay;
      const g = grads[gradOffset + i] + penalty * p;
      const first = beta1 * m[i] + (1 - beta1) * g;
      const second = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = first;
      v[i] = second;
      values[valueOffset + i] = p - (stepSize * first) / (math.sqrt(second) / secondCorrection + eps);
    }
  }

  protected settings(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad };
  }

  /** Returns the state of `Optimizer.stateDict` plus each parameter's step count in `parameterSteps` ("5,4,5"). */
  override stateDict(): OptimizerState {
    const state = super.stateDict();
    state.metadata.parameterSteps = this.parameterSteps.join(',');
    return state;
  }

  /**
   * Restores state saved by `stateDict()`. A state without `parameterSteps` counts every
   * parameter that has moment estimates as having taken all `step` steps.
   */
  override loadStateDict(saved: OptimizerState): void {
    const text = saved.metadata.parameterSteps;
    const steps = text === undefined ? undefined : text.split(',').map(Number);
    if (steps && steps.length !== this.params.length) {
      throw new Error(`${this.constructor.name}.loadStateDict: the state is of ${steps.length} parameters (parameterSteps '${text}') but this optimizer has ${this.params.length}`);
    }
    if (steps && steps.some((step) => !(Number.isInteger(step) && step >= 0))) {
      throw new Error(`${this.constructor.name}.loadStateDict: parameterSteps '${text}' must be non-negative integers separated by commas`);
    }
    super.loadStateDict(saved);
    this.parameterSteps = steps ?? this.params.map((_, index) => (`${index}.exp_avg` in saved.tensors ? this.stepCount : 0));
  }
}

/** AdamW: Adam with decoupled weight decay, p = p * (1 - lr * weightDecay) before the Adam step. Default weightDecay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, 0.01);
  }
}
