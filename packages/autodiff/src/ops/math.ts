/**
 * Elementwise functions of one tensor. Where a derivative can be written with the result
 * (exp, tanh, sigmoid, sqrt), the VJP uses the result, which is itself differentiable.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { add, div, mul, neg, square, sub } from './arithmetic';

/** e^x. VJP: grad * e^x. */
export function exp(x: Tensor): Tensor {
  const result = Tensor.fromView(k.exp(x));
  return record('exp', result, [x], (grad) => [mul(grad, result)]);
}

/** e^x - 1, accurate near 0. VJP: grad * e^x = grad * (result + 1). */
export function expm1(x: Tensor): Tensor {
  const result = Tensor.fromView(k.expm1(x));
  return record('expm1', result, [x], (grad) => [mul(grad, add(result, 1))]);
}

/** Natural logarithm. VJP: grad / x. */
export function log(x: Tensor): Tensor {
  const result = Tensor.fromView(k.log(x));
  return record('log', result, [x], (grad) => [div(grad, x)]);
}

/** log(1 + x), accurate near 0. VJP: grad / (1 + x). */
export function log1p(x: Tensor): Tensor {
  const result = Tensor.fromView(k.log1p(x));
  return record('log1p', result, [x], (grad) => [div(grad, add(x, 1))]);
}

/** Square root. VJP: grad / (2 sqrt(x)), which is Infinity at x = 0. */
export function sqrt(x: Tensor): Tensor {
  const result = Tensor.fromView(k.sqrt(x));
  return record('sqrt', result, [x], (grad) => [div(grad, mul(result, 2))]);
}

/** 1 / sqrt(x). VJP: -grad * result^3 / 2. */
export function rsqrt(x: Tensor): Tensor {
  const result = Tensor.fromView(k.rsqrt(x));
  return record('rsqrt', result, [x], (grad) => [mul(grad, mul(mul(square(result), result), -0.5))]);
}

/** |x|. Its gradient at 0 is 0 (the subgradient PyTorch picks): VJP grad * sign(x). */
export function abs(x: Tensor): Tensor {
  const result = Tensor.fromView(k.abs(x));
  return record('abs', result, [x], (grad) => [mul(grad, sign(x))]);
}

/** -1, 0 or 1 by the sign of x. Its derivative is 0 wherever it exists, so the gradient is 0. */
export function sign(x: Tensor): Tensor {
  const result = Tensor.fromView(k.sign(x));
  return record('sign', result, [x], (grad) => [mul(grad, 0)]);
}

/** sin(x). VJP: grad * cos(x). */
export function sin(x: Tensor): Tensor {
  const result = Tensor.fromView(k.sin(x));
  return record('sin', result, [x], (grad) => [mul(grad, cos(x))]);
}

/** cos(x). VJP: -grad * sin(x). */
export function cos(x: Tensor): Tensor {
  const result = Tensor.fromView(k.cos(x));
  return record('cos', result, [x], (grad) => [neg(mul(grad, sin(x)))]);
}

/** Hyperbolic tangent. VJP: grad * (1 - tanh(x)^2). */
export function tanh(x: Tensor): Tensor {
  const result = Tensor.fromView(k.tanh(x));
  return record('tanh', result, [x], (grad) => [mul(grad, sub(1, square(result)))]);
}

/** Logistic sigmoid, stable for large |x|. VJP: grad * s * (1 - s) with s = sigmoid(x). */
export function sigmoid(x: Tensor): Tensor {
  const result = Tensor.fromView(k.sigmoid(x));
  return record('sigmoid', result, [x], (grad) => [mul(grad, mul(result, sub(1, result)))]);
}

/** The error function. VJP: grad * 2/sqrt(pi) * e^(-x^2). */
export function erf(x: Tensor): Tensor {
  const result = Tensor.fromView(k.erf(x));
  return record('erf', result, [x], (grad) => [mul(grad, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)))]);
}
