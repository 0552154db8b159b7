/** Layer normalisation over the trailing axes of each sample. */
import { type Tensor, add, mean, mul, ones, rsqrt, sub, variance, zeros } from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';
import { Module } from '../module';
import type { LayerOptions } from './common';

/** Options of `LayerNorm`. Its initial weights are constants, so it takes no seed. */
export interface LayerNormOptions extends Pick<LayerOptions, 'dtype'> {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Whether to learn a per-element scale (weight) and shift (bias) of normalizedShape. Default true. */
  elementwiseAffine?: boolean;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and the biased variance taken
 * over the last normalizedShape.length axes, as torch.nn.LayerNorm. weight starts at ones and
 * bias at zeros, both of shape normalizedShape.
 *
 * Built from differentiable ops, so second derivatives (as MAML needs) work.
 *
 * new LayerNorm(4).forward(x) gives each row of x [N, 4] mean 0 and variance var / (var + eps), just under 1.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape.slice();
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((dim) => !Number.isInteger(dim) || dim < 1)) {
      throw new Error(`LayerNorm: normalizedShape must be one or more positive integers, got ${formatShape(this.normalizedShape)}`);
    }
    this.eps = options.eps ?? 1e-5;
    if (!(this.eps >= 0)) throw new Error(`LayerNorm: eps must be a non-negative number, got ${this.eps}`);
    this.elementwiseAffine = options.elementwiseAffine ?? true;

    const dtype = options.dtype ?? 'float32';
    this.registerParameter('weight', this.elementwiseAffine ? ones(this.normalizedShape, { dtype }) : null);
    this.registerParameter('bias', this.elementwiseAffine ? zeros(this.normalizedShape, { dtype }) : null);
  }

  get weight(): Tensor | null {
    return this.optionalParameter('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParameter('bias');
  }

  /** Normalises x [..., ...normalizedShape] over its trailing normalizedShape axes. */
  forward(x: Tensor): Tensor {
    const count = this.normalizedShape.length;
    const trailing = x.shape.slice(x.ndim - count);
    if (x.ndim < count || trailing.some((dim, i) => dim !== this.normalizedShape[i])) {
      throw new Error(`LayerNorm: input ${formatShape(x.shape)} must end with normalizedShape ${formatShape(this.normalizedShape)}`);
    }
    const axes = this.normalizedShape.map((_, i) => x.ndim - count + i);

    const centered = sub(x, mean(x, axes, true));
    const normalized = mul(centered, rsqrt(add(variance(x, axes, true, 0), this.eps)));

    const { weight, bias } = this;
    if (!weight || !bias) return normalized;
    return add(mul(normalized, weight), bias);
  }

  override describe(): string {
    return `${formatShape(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
