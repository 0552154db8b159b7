/** Linear, Flatten and Identity layers. */
import { type Tensor, flatten, linear, zeros } from '@metagrad/autodiff';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';

/** Options of `Linear`. */
export interface LinearOptions extends LayerOptions {
  /** Whether to add a learned bias. Default true. */
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b over the last axis, with weight [outFeatures, inFeatures] and bias [outFeatures],
 * as torch.nn.Linear, initialised as it is: U(-1/sqrt(inFeatures), 1/sqrt(inFeatures)).
 */
export class Linear extends Module {
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const generator = layerGenerator(options);
    const dtype = options.dtype ?? 'float32';
    const bound = 1 / Math.sqrt(inFeatures);
    const weight = init.uniform(zeros([outFeatures, inFeatures], { dtype }), -bound, bound, { generator });
    this.registerParameter('weight', weight);
    const bias = options.bias === false ? null : init.uniform(zeros([outFeatures], { dtype }), -bound, bound, { generator });
    this.registerParameter('bias', bias);
  }

  get weight(): Tensor {
    return this.parameter('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParameter('bias');
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override describe(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Flattens axes startAxis..endAxis into one; by default all but the batch axis, as torch.nn.Flatten. */
export class Flatten extends Module {
  constructor(readonly startAxis = 1, readonly endAxis = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis, this.endAxis);
  }

  override describe(): string {
    return `startAxis=${this.startAxis}, endAxis=${this.endAxis}`;
  }
}

/** Returns its input unchanged. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
