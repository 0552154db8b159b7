/** RMSprop, as torch.optim.RMSprop. */
import type { Tensor } from '@metagrad/autodiff';
import type { FloatArray } from '@metagrad/kernels';
import { Optimizer } from './optimizer';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

export interface RmspropOptions {
  /** Learning rate. Default 1e-2. */
  lr?: number;
  /** Decay of the squared-gradient average. Default 0.99. */
  alpha?: number;
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  /** Divide by the variance estimate (mean of squares minus square of mean) instead. Default false. */
  centered?: boolean;
}

/**
 * Per step, with g = grad + weightDecay * p:
 *   s = alpha s + (1 - alpha) g^2;   centered: a = alpha a + (1 - alpha) g, s' = s - a^2
 *   d = sqrt(s') + eps;  p = p - lr * g / d   (or via a momentum buffer b = momentum b + g / d)
 */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(params: Iterable<Tensor>, options: RmspropOptions = {}) {
    super(params, options.lr ?? 1e-2);
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.momentum = options.momentum ?? 0;
    this.centered = options.centered ?? false;
  }

  protected update(index: number, values: FloatArray, valueOffset: number, grads: FloatArray, gradOffset: number, size: number): void {
    const { lr, alpha, eps, weightDecay, momentum, centered } = this;
    const squareAverage = this.buffer(index, 'square_avg');
    const gradAverage = centered ? this.buffer(index, 'grad_avg') : undefined;
    const momentumBuffer = momentum > 0 ? this.buffer(index, 'momentum_buffer') : undefined;

    for (let i = 0; i < size; i++) {
      const g = grads[gradOffset + i] + weightDecay * values[valueOffset + i];
      squareAverage[i] = alpha * squareAverage[i] + (1 - alpha) * g * g;
      let variance = squareAverage[i];
      if (gradAverage) {
        gradAverage[i] = alpha * gradAverage[i] + (1 - alpha) * g;
        variance -= gradAverage[i] * gradAverage[i];
      }
      const denominator = math.sqrt(variance) + eps;
      if (momentumBuffer) {
        momentumBuffer[i] = momentum * momentumBuffer[i] + g / denominator;
        values[valueOffset + i] -= lr * momentumBuffer[i];
      } else {
        values[valueOffset + i] -= (lr * g) / denominator;
      }
    }
  }

  protected settings(): Record<string, number | boolean> {
    return { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
  }
}
