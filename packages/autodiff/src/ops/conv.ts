/**
 * Convolution and pooling. The three convolution maps are bilinear and adjoint to one another:
 *   y  = conv2d(x, w)
 *   dx = conv2dBackwardInput(dy, w)      (the adjoint of conv2d in x)
 *   dw = conv2dBackwardFilter(x, dy)     (the adjoint of conv2d in w)
 * so each one's VJP is written with the other two, and gradients of any order stay exact.
 * Likewise max pooling's gradient scatters by the argmax indices and its VJP gathers by them,
 * and average pooling and its gradient are each other's VJP.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { add } from './arithmetic';
import { gather } from './indexing';
import { reshape } from './shape';

/** Options of conv2d: stride, padding (a number, a pair, 'same' or 'valid'), dilation and groups. */
export type Conv2dArgs = k.Conv2dOptions;
/** Options of maxPool2d, or just the kernel size. */
export type PoolArgs = k.Pool2dOptions | number;
/** Options of avgPool2d, or just the kernel size. */
export type AvgPoolArgs = k.AvgPool2dOptions | number;

function poolOptions<T extends { kernelSize: k.Pair }>(options: T | number): T {
  return (typeof options === 'number' ? { kernelSize: options } : options) as T;
}

/**
 * 2-D convolution (cross-correlation) of x [N, C, H, W] with weight [F, C / groups, KH, KW],
 * plus an optional bias [F], as PyTorch's F.conv2d. Returns [N, F, OH, OW].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dArgs = {}): Tensor {
  const result = Tensor.fromView(k.conv2d(x, weight, options));
  const convolved = record('conv2d', result, [x, weight], (grad) => [
    x.requiresGrad ? conv2dBackwardInput(grad, weight, x.shape, options) : null,
    weight.requiresGrad ? conv2dBackwardFilter(x, grad, weight.shape, options) : null,
  ]);
  if (!bias) return convolved;
  if (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]) {
    throw new Error(`conv2d: bias must have shape [${weight.shape[0]}] (one value per filter), got ${k.formatShape(bias.shape)}`);
  }
  return add(convolved, reshape(bias, [1, bias.shape[0], 1, 1]));
}

/** The gradient of conv2d with respect to its input, as a differentiable op. */
export function conv2dBackwardInput(grad: Tensor, weight: Tensor, inputShape: readonly number[], options: Conv2dArgs = {}): Tensor {
  const result = Tensor.fromView(k.conv2dBackwardInput(grad, weight, inputShape, options));
  return record('conv2dBackwardInput', result, [grad, weight], (gradOfResult) => [
    grad.requiresGrad ? conv2d(gradOfResult, weight, null, options) : null,
    weight.requiresGrad ? conv2dBackwardFilter(gradOfResult, grad, weight.shape, options) : null,
  ]);
}

/** The gradient of conv2d with respect to its filters, as a differentiable op. */
export function conv2dBackwardFilter(x: Tensor, grad: Tensor, filterShape: readonly number[], options: Conv2dArgs = {}): Tensor {
  const result = Tensor.fromView(k.conv2dBackwardFilter(x, grad, filterShape, options));
  return record('conv2dBackwardFilter', result, [x, grad], (gradOfResult) => [
    x.requiresGrad ? conv2dBackwardInput(grad, gradOfResult, x.shape, options) : null,
    grad.requiresGrad ? conv2d(x, gradOfResult, null, options) : null,
  ]);
}

/**
 * Max pooling over windows of x [N, C, H, W]. The gradient of each window goes to its first
 * maximum in row-major window order; tied elements after it get none.
 */
export function maxPool2d(x: Tensor, options: PoolArgs): Tensor {
  const resolved = poolOptions(options);
  const { values, indices } = k.maxPool2d(x, resolved);
  const result = Tensor.fromView(values);
  return record('maxPool2d', result, [x], (grad) => [maxPool2dBackward(grad, indices, x.shape, resolved)]);
}

/** Scatters a max-pooling gradient to the argmax positions; its own VJP gathers from them. */
function maxPool2dBackward(grad: Tensor, indices: k.StridedView<Int32Array>, inputShape: readonly number[], options: k.Pool2dOptions): Tensor {
  const result = Tensor.fromView(k.maxPool2dBackward(grad, indices, inputShape, options));
  const [batch, channels, height, width] = inputShape;
  const windows = grad.shape[2] * grad.shape[3];
  const flatIndices = { data: indices.data, shape: [batch, channels, windows], stride: [channels * windows, windows, 1], offset: 0 };
  return record('maxPool2dBackward', result, [grad], (gradOfResult) => [
    reshape(gather(reshape(gradOfResult, [batch, channels, height * width]), 2, flatIndices), grad.shape),
  ]);
}

/**
 * Average pooling over windows of x [N, C, H, W]. With countIncludePad (the default), padded
 * zeros count in each window's divisor, as in PyTorch.
 */
export function avgPool2d(x: Tensor, options: AvgPoolArgs): Tensor {
  const resolved = poolOptions(options);
  const result = Tensor.fromView(k.avgPool2d(x, resolved));
  return record('avgPool2d', result, [x], (grad) => [avgPool2dBackward(grad, x.shape, resolved)]);
}

function avgPool2dBackward(grad: Tensor, inputShape: readonly number[], options: k.AvgPool2dOptions): Tensor {
  const result = Tensor.fromView(k.avgPool2dBackward(grad, inputShape, options));
  return record('avgPool2dBackward', result, [grad], (gradOfResult) => [avgPool2d(gradOfResult, options)]);
}
