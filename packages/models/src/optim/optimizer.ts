/**
 * The base of every optimizer: the parameters, the learning rate, per-parameter state buffers,
 * and saving and restoring that state.
 *
 * Optimizers update parameters in place, outside the graph: `step()` writes into each
 * parameter's buffer with plain loops, using its `.grad`. The buffers of a parameter and its
 * gradient are contiguous (layers create them so, and `backward()` stores dense gradients).
 */
import { Tensor } from '@metagrad/autodiff';
import { type FloatArray, formatShape, isContiguous } from '@metagrad/kernels';

/** An optimizer's state as tensors (saved beside the weights) and strings (its settings). */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  /** Learning rate; schedulers change it between steps. */
  lr: number;
  /** Number of completed steps. */
  stepCount = 0;
  /** Per-parameter state buffers by name, such as Adam's `exp_avg`. */
  protected state: Array<Map<string, FloatArray>>;

  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    if (this.params.length === 0) throw new Error(`${this.constructor.name}: got no parameters to optimize`);
    if (!(lr >= 0)) throw new Error(`${this.constructor.name}: learning rate must be a non-negative number, got ${lr}`);
    this.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${this.constructor.name}: parameter ${i} is not a Tensor`);
      if (!isContiguous(p)) throw new Error(`${this.constructor.name}: parameter ${i} ${formatShape(p.shape)} is not contiguous; optimize a contiguous copy instead`);
    });
    this.lr = lr;
    this.state = this.params.map(() => new Map());
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    this.params.forEach((param, index) => {
      if (param.grad === null) return;
      const grad = param.grad;
      if (!isContiguous(grad) || grad.size !== param.size) {
        throw new Error(`${this.constructor.name}: the gradient of parameter ${index} ${formatShape(grad.shape)} does not match the parameter ${formatShape(param.shape)}`);
      }
      this.update(index, param.data, param.offset, grad.data, grad.offset, param.size);
    });
  }

  /**
   * Updates one parameter: `size` elements of `values` from `valueOffset`, using the gradient
   * in `grads` from `gradOffset`.
   */
  protected abstract update(index: number, values: FloatArray, valueOffset: number, grads: FloatArray, gradOffset: number, size: number): void;

  /** The settings saved with the state, as strings. */
  protected abstract settings(): Record<string, number | boolean>;

  /** Returns the state buffer `name` of parameter `index`, created as zeros on first use. */
  protected buffer(index: number, name: string): FloatArray {
    let buffer = this.state[index].get(name);
    if (!buffer) {
      const param = this.params[index];
      buffer = param.dtype === 'float32' ? new Float32Array(param.size) : new Float64Array(param.size);
      this.state[index].set(name, buffer);
    }
    return buffer;
  }

  /** Clears the `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /**
   * The state as tensors named `<parameter index>.<buffer>` (for example `3.exp_avg`) and
   * settings as strings, ready to be saved next to the model's weights.
   */
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    this.state.forEach((buffers, index) => {
      for (const [name, data] of buffers) tensors[`${index}.${name}`] = new Tensor(data.slice(), this.params[index].shape);
    });
    const metadata: Record<string, string> = { type: this.constructor.name, step: String(this.stepCount), lr: String(this.lr) };
    for (const [key, value] of Object.entries(this.settings())) metadata[key] = String(value);
    return { tensors, metadata };
  }

  /** Restores state saved by `stateDict()` from an optimizer of the same type over parameters of the same shapes. */
  loadStateDict(saved: OptimizerState): void {
    if (saved.metadata.type !== this.constructor.name) {
      throw new Error(`${this.constructor.name}.loadStateDict: the state was saved by ${saved.metadata.type ?? 'an unknown optimizer'}`);
    }
    const restored = this.params.map(() => new Map<string, FloatArray>());
    for (const [key, tensor] of Object.entries(saved.tensors)) {
      const match = /^(\d+)\.(\w+)$/.exec(key);
      const index = match ? Number(match[1]) : -1;
      const param = this.params[index];
      if (!match || !param) throw new Error(`${this.constructor.name}.loadStateDict: unexpected state entry '${key}'`);
      if (tensor.size !== param.size) {
        throw new Error(`${this.constructor.name}.loadStateDict: '${key}' has ${tensor.size} elements but parameter ${index} ${formatShape(param.shape)} has ${param.size}`);
      }
      const values = tensor.to(param.dtype).toTypedArray();
      restored[index].set(match[2], values);
    }
    restored.forEach((buffers, index) => {
      this.state[index] = buffers;
    });
    this.stepCount = Number(saved.metadata.step ?? 0);
    if (saved.metadata.lr !== undefined) this.lr = Number(saved.metadata.lr);
  }
}
