/** Stochastic gradient descent with momentum, Nesterov momentum and weight decay, as torch.optim.SGD. */
import type { Tensor } from '@metagrad/autodiff';
import type { FloatArray } from '@metagrad/kernels';
import { Optimizer } from './optimizer';

export interface SgdOptions {
  lr: number;
  /** Momentum factor. Default 0 (plain SGD). */
  momentum?: number;
  /** Dampening of the momentum buffer's new gradient. Default 0. */
  dampening?: number;
  /** Use Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
}

/**
 * Per step, with g = grad + weightDecay * p:
 *   buf = momentum * buf + (1 - dampening) * g   (buf = g on the first step)
 *   g   = nesterov ? g + momentum * buf : buf     (when momentum > 0)
 *   p   = p - lr * g
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Iterable<Tensor>, options: SgdOptions) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
    }
  }

  protected update(index: number, values: FloatArray, valueOffset: number, grads: FloatArray, gradOffset: number, size: number): void {
    const { lr, momentum, dampening, nesterov, weightDecay } = this;
    const firstStep = momentum > 0 && !this.state[index].has('momentum_buffer');
    const buffer = momentum > 0 ? this.buffer(index, 'momentum_buffer') : undefined;

    for (let i = 0; i < size; i++) {
      let g = grads[gradOffset + i] + weightDecay * values[valueOffset + i];
      if (buffer) {
        buffer[i] = firstStep ? g : momentum * buffer[i] + (1 - dampening) * g;
        g = nesterov ? g + momentum * buffer[i] : buffer[i];
      }
      values[valueOffset + i] -= lr * g;
    }
  }

  protected settings(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay };
  }
}
