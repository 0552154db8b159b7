/**
 * Batch normalisation, as torch.nn.BatchNorm1d and BatchNorm2d: each channel is normalised
 * with statistics over the batch and every other axis, and running estimates of those
 * statistics are kept for evaluation.
 */
import { type Tensor, add, mean, mul, noGrad, ones, reshape, rsqrt, sub, variance, zeros } from '@metagrad/autodiff';
import { copy, formatShape } from '@metagrad/kernels';
import { Module } from '../module';
import type { LayerOptions } from './common';

/** Options of BatchNorm1d and BatchNorm2d, with PyTorch's defaults. Their initial weights are constants, so they take no seed. */
export interface BatchNormOptions extends Pick<LayerOptions, 'dtype'> {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /**
   * Weight of the new batch in the running statistics: running = (1 - momentum) * running +
   * momentum * batch. null gives the cumulative average of all batches so far. Default 0.1.
   */
  momentum?: number | null;
  /** Whether to learn a per-channel scale (weight) and shift (bias). Default true. */
  affine?: boolean;
  /** Whether to keep running statistics and use them in eval mode; without them every mode uses batch statistics. Default true. */
  trackRunningStats?: boolean;
}

/**
 * The shared part of BatchNorm1d and BatchNorm2d, as PyTorch's _BatchNorm. Parameters weight
 * (ones) and bias (zeros), buffers running_mean (zeros), running_var (ones) and
 * num_batches_tracked, all with PyTorch's names.
 */
export abstract class BatchNorm extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${this.constructor.name}: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    if (!(this.eps >= 0)) throw new Error(`${this.constructor.name}: eps must be a non-negative number, got ${this.eps}`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) {
      throw new Error(`${this.constructor.name}: momentum must be in [0, 1] or null, got ${this.momentum}`);
    }

    const dtype = options.dtype ?? 'float32';
    this.registerParameter('weight', this.affine ? ones([numFeatures], { dtype }) : null);
    this.registerParameter('bias', this.affine ? zeros([numFeatures], { dtype }) : null);
    this.registerBuffer('running_mean', this.trackRunningStats ? zeros([numFeatures], { dtype }) : null);
    this.registerBuffer('running_var', this.trackRunningStats ? ones([numFeatures], { dtype }) : null);
    // PyTorch stores this count as an int64 scalar; here it is a scalar of the layer's dtype, exact up to 2^24 in float32.
    this.registerBuffer('num_batches_tracked', this.trackRunningStats ? zeros([], { dtype }) : null);
  }

  /** Throws unless x has a layout this layer accepts, naming the layer and the shape. */
  protected abstract checkInput(x: Tensor): void;

  /**
   * Normalises x per channel (axis 1). In training mode, or without running statistics, it
   * uses the batch's mean and biased variance, and in training mode it also updates the
   * running statistics, with the unbiased variance as PyTorch does. In eval mode it uses the
   * running statistics.
   */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const own = this.optionalParameter('weight') ?? (this.trackRunningStats ? this.buffer('running_mean') : null);
    if (own && own.dtype !== x.dtype) {
      throw new Error(`${this.constructor.name}: the input is ${x.dtype} but the layer is ${own.dtype}; convert the input with .to('${own.dtype}')`);
    }
    const axes = x.shape.map((_, axis) => axis).filter((axis) => axis !== 1);
    const perChannel = [this.numFeatures, ...x.shape.slice(2).map(() => 1)];
    const useBatchStatistics = this.training || !this.trackRunningStats;

    let normalized: Tensor;
    if (useBatchStatistics) {
      const count = x.size / this.numFeatures;
      if (this.training && count === 1) {
        throw new Error(`${this.constructor.name}: training needs more than one value per channel to compute a variance, got input ${formatShape(x.shape)}`);
      }
      const batchMean = mean(x, axes, true);
      const batchVariance = variance(x, axes, true, 0);
      if (this.training && this.trackRunningStats) this.updateRunningStatistics(batchMean, batchVariance, count);
      normalized = mul(sub(x, batchMean), rsqrt(add(batchVariance, this.eps)));
    } else {
      const runningMean = reshape(this.buffer('running_mean'), perChannel);
      const runningVariance = reshape(this.buffer('running_var'), perChannel);
      normalized = mul(sub(x, runningMean), rsqrt(add(runningVariance, this.eps)));
    }

    if (!this.affine) return normalized;
    return add(mul(normalized, reshape(this.parameter('weight'), perChannel)), reshape(this.parameter('bias'), perChannel));
  }

  /**
   * Blends the batch statistics into the running buffers in place, outside the graph. In place,
   * so that under functionalCall the buffers passed in are the ones updated, as in PyTorch.
   */
  private updateRunningStatistics(batchMean: Tensor, batchVariance: Tensor, count: number): void {
    noGrad(() => {
      const batches = this.buffer('num_batches_tracked');
      batches.data[batches.offset] += 1;
      const factor = this.momentum ?? 1 / batches.data[batches.offset];

      const runningMean = this.buffer('running_mean');
      const runningVariance = this.buffer('running_var');
      const unbiased = mul(reshape(batchVariance, [this.numFeatures]), count / (count - 1));
      const nextMean = add(mul(runningMean, 1 - factor), mul(reshape(batchMean, [this.numFeatures]), factor));
      const nextVariance = add(mul(runningVariance, 1 - factor), mul(unbiased, factor));
      copy(nextMean, runningMean.toNdarray());
      copy(nextVariance, runningVariance.toNdarray());
    });
  }

  override describe(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/**
 * Batch normalisation of [N, C] or [N, C, L] inputs over N (and L), as torch.nn.BatchNorm1d.
 *
 * const norm = new BatchNorm1d(3); norm.forward(x); // x [N, 3]: each column gets mean 0 and variance near 1
 */
export class BatchNorm1d extends BatchNorm {
  protected checkInput(x: Tensor): void {
    if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d: input must be [N, ${this.numFeatures}] or [N, ${this.numFeatures}, L], got ${formatShape(x.shape)}`);
    }
  }
}

/**
 * Batch normalisation of [N, C, H, W] inputs over N, H and W, as torch.nn.BatchNorm2d.
 *
 * const norm = new BatchNorm2d(16); norm.forward(x); // x [N, 16, H, W], normalised per channel
 */
export class BatchNorm2d extends BatchNorm {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4 || x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm2d: input must be [N, ${this.numFeatures}, H, W], got ${formatShape(x.shape)}`);
    }
  }
}
