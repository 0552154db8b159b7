/**
 * Comparisons. They return 1 where the comparison holds and 0 elsewhere, in the operands'
 * dtype, and have no gradient: their results never require gradients.
 */
import * as k from '@metagrad/kernels';
import { Tensor } from '../tensor';
import { binaryOperands, type TensorLike } from './operands';

/** 1 where a == b. */
export function equal(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('equal', a, b);
  return Tensor.fromView(k.equal(x, y));
}

/** 1 where a != b. */
export function notEqual(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('notEqual', a, b);
  return Tensor.fromView(k.notEqual(x, y));
}

/** 1 where a > b. */
export function greater(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('greater', a, b);
  return Tensor.fromView(k.greater(x, y));
}

/** 1 where a >= b. */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('greaterEqual', a, b);
  return Tensor.fromView(k.greaterEqual(x, y));
}

/** 1 where a < b. */
export function less(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('less', a, b);
  return Tensor.fromView(k.less(x, y));
}

/** 1 where a <= b. */
export function lessEqual(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('lessEqual', a, b);
  return Tensor.fromView(k.lessEqual(x, y));
}
