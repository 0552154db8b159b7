/**
 * Activation functions and softmax. Kinks follow PyTorch: relu and leakyRelu use the slope of
 * the negative side at exactly 0.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { add, mul, square, sub, where } from './arithmetic';
import { greater } from './compare';
import { erf, exp, sigmoid } from './math';
import { sum } from './reduction';

/** max(x, 0). Its gradient at 0 is 0. VJP: grad where x > 0, else 0. */
export function relu(x: Tensor): Tensor {
  const result = Tensor.fromView(k.relu(x));
  return record('relu', result, [x], (grad) => [reluBackward(grad, x)]);
}

/**
 * grad where x > 0, else 0: the VJP of relu as one op. It is linear in grad, so its own VJP is
 * itself; its derivative with respect to x is 0 wherever it exists, so x is not an input.
 */
function reluBackward(grad: Tensor, x: Tensor): Tensor {
  const result = Tensor.fromView(k.reluBackward(grad, x));
  return record('reluBackward', result, [grad], (gradOfResult) => [reluBackward(gradOfResult, x)]);
}

/** x for x > 0 and slope * x otherwise (slope 0.01 by default). At 0 the gradient is `slope`. */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  const result = Tensor.fromView(k.leakyRelu(x, slope));
  return record('leakyRelu', result, [x], (grad) => [mul(grad, where(greater(x, 0), 1, slope))]);
}

/** x for x > 0 and alpha * (e^x - 1) otherwise. VJP: grad, or grad * (result + alpha) for x <= 0. */
export function elu(x: Tensor, alpha = 1): Tensor {
  const result = Tensor.fromView(k.elu(x, alpha));
  return record('elu', result, [x], (grad) => [where(greater(x, 0), grad, mul(grad, add(result, alpha)))]);
}

/**
 * GELU with the exact Gaussian CDF Φ: x * Φ(x), with Φ(x) = (1 + erf(x / sqrt(2))) / 2.
 * VJP: grad * (Φ(x) + x * φ(x)), with φ the standard normal density.
 */
export function gelu(x: Tensor): Tensor {
  const result = Tensor.fromView(k.gelu(x));
  return record('gelu', result, [x], (grad) => {
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const density = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(grad, add(cdf, mul(x, density)))];
  });
}

/** log(1 + e^x), without overflow. VJP: grad * sigmoid(x). */
export function softplus(x: Tensor): Tensor {
  const result = Tensor.fromView(k.softplus(x));
  return record('softplus', result, [x], (grad) => [mul(grad, sigmoid(x))]);
}

/**
 * Softmax along `axis` (default: the last). A row of all -Infinity gives zeros and a zero
 * gradient (see @metagrad/kernels softmax). VJP: y * (grad - sum(grad * y)) with y the result.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const result = Tensor.fromView(k.softmax(x, axis));
  return record('softmax', result, [x], (grad) => [mul(result, sub(grad, sum(mul(grad, result), axis, true)))]);
}

/**
 * log(softmax(x)) along `axis`, exact for logits far apart: logSoftmax([1000, 0]) is [0, -1000].
 * VJP: grad - softmax(x) * sum(grad).
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const result = Tensor.fromView(k.logSoftmax(x, axis));
  return record('logSoftmax', result, [x], (grad) => [sub(grad, mul(exp(result), sum(grad, axis, true)))]);
}
