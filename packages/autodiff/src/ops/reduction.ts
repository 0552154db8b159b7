/**
 * Reductions over axes. Their VJPs reshape the gradient to the kept-axes shape (reduced axes
 * as 1) and broadcast it back over the input with `expand`, a view that copies nothing.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { div, mul, sub, where } from './arithmetic';
import { equal } from './compare';
import { exp, sqrt } from './math';
import { expand, reshape } from './shape';

/** Axes to reduce: one axis, a list, or undefined for all. Negative axes count from the end. */
export type Axes = number | readonly number[] | undefined;

/** The input's shape with the reduced axes set to 1. */
function keptShape(x: Tensor, axes: Axes, op: string): number[] {
  const reduced = k.normalizeAxes(op, axes, x.ndim, x.shape);
  return x.shape.map((dim, axis) => (reduced.includes(axis) ? 1 : dim));
}

/** Broadcasts a reduction's gradient (or result) back over the input's shape. */
function spread(value: Tensor, x: Tensor, axes: Axes, op: string): Tensor {
  return expand(reshape(value, keptShape(x, axes, op)), x.shape);
}

/**
 * Sum over `axes` (all when undefined); `keepDims` keeps reduced axes with size 1.
 *
 * sum(tensor([[1, 2], [3, 4]]), 0) is [4, 6].
 */
export function sum(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const result = Tensor.fromView(k.sum(x, axes, keepDims));
  return record('sum', result, [x], (grad) => [spread(grad, x, axes, 'sum')]);
}

/** Arithmetic mean over `axes`. */
export function mean(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const result = Tensor.fromView(k.mean(x, axes, keepDims));
  const count = x.size / Math.max(1, result.size);
  return record('mean', result, [x], (grad) => [div(spread(grad, x, axes, 'mean'), count)]);
}

/**
 * Variance over `axes` with `correction` (default 1, the unbiased estimate, as `torch.var`;
 * 0 gives the population variance). The variance of equal values is exactly 0, and so is its
 * gradient. VJP: grad * 2 (x - mean) / (n - correction).
 */
export function variance(x: Tensor, axes?: Axes, keepDims = false, correction = 1): Tensor {
  const result = Tensor.fromView(k.variance(x, axes, keepDims, correction));
  const count = x.size / Math.max(1, result.size);
  return record('var', result, [x], (grad) => {
    const centered = sub(x, mean(x, axes, true));
    return [mul(spread(grad, x, axes, 'var'), mul(centered, 2 / (count - correction)))];
  });
}

/**
 * Standard deviation: sqrt of `variance`. Its gradient is NaN where the deviation is 0 (for
 * example for equal values), because the infinite derivative of sqrt at 0 meets the zero
 * gradient of `variance` there.
 */
export function std(x: Tensor, axes?: Axes, keepDims = false, correction = 1): Tensor {
  return sqrt(variance(x, axes, keepDims, correction));
}

/**
 * log(sum(exp(x))) over `axes`, without overflow. VJP: grad * exp(x - result), which is 0 in a
 * block of all -Infinity instead of NaN.
 */
export function logsumexp(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const result = Tensor.fromView(k.logsumexp(x, axes, keepDims));
  return record('logsumexp', result, [x], (grad) => {
    const lse = spread(result, x, axes, 'logsumexp');
    const finiteLse = where(equal(lse, -Infinity), 0, lse);
    return [mul(spread(grad, x, axes, 'logsumexp'), exp(sub(x, finiteLse)))];
  });
}

/**
 * Maximum over `axes`. The gradient goes to the first maximum of each block only (the index
 * that argmax returns); ties do not share it.
 */
export function max(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return extreme('max', x, axes, keepDims);
}

/** Minimum over `axes`; the gradient goes to the first minimum of each block. */
export function min(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return extreme('min', x, axes, keepDims);
}

function extreme(op: 'max' | 'min', x: Tensor, axes: Axes, keepDims: boolean): Tensor {
  const { values, indices } = op === 'max' ? k.maxWithIndices(x, axes, keepDims) : k.minWithIndices(x, axes, keepDims);
  const result = Tensor.fromView(values);
  return record(op, result, [x], (grad) => [mul(spread(grad, x, axes, op), winnerMask(x, axes, indices))]);
}

/** A constant tensor of x's shape: 1 at each block's winning index, 0 elsewhere. */
function winnerMask(x: Tensor, axes: Axes, indices: { data: Int32Array }): Tensor {
  const mask = new Tensor(x.dtype === 'float32' ? new Float32Array(x.size) : new Float64Array(x.size), x.shape);
  // The mask has x's shape, so its own layout addresses the same (block, position) pairs.
  const layout = k.reductionLayout('max', mask, axes, false);
  for (let o = 0; o < layout.baseOffsets.length; o++) {
    mask.data[layout.baseOffsets[o] + layout.blockOffsets[indices.data[o]]] = 1;
  }
  return mask;
}

/**
 * Index of the first maximum along `axis` (of all elements, flattened, when undefined), in x's
 * dtype; float32 holds every index below 2^24 exactly. No gradient.
 */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return indexTensor(k.argMax(x, axis, keepDims), x);
}

/** Index of the first minimum along `axis`, in x's dtype. No gradient. */
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return indexTensor(k.argMin(x, axis, keepDims), x);
}

function indexTensor(indices: { data: Int32Array; shape: number[] }, like: Tensor): Tensor {
  const data = like.dtype === 'float32' ? Float32Array.from(indices.data) : Float64Array.from(indices.data);
  return new Tensor(data, indices.shape);
}
