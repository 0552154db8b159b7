/**
 * Arithmetic with NumPy broadcasting. The VJP of a broadcast operand sums the gradient back
 * to the operand's shape with `sumToShape`, the one place where un-broadcasting happens.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { binaryOperands, scalarLike, type TensorLike } from './operands';
import { sumToShape } from './shape';
import { greater, less, lessEqual, greaterEqual, equal } from './compare';
import { log } from './math';

/**
 * a + b.
 *
 * add(tensor([1, 2]), 10) is [11, 12].
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('add', a, b);
  const result = Tensor.fromView(k.add(x, y));
  return record('add', result, [x, y], (grad) => [
    x.requiresGrad ? sumToShape(grad, x.shape) : null,
    y.requiresGrad ? sumToShape(grad, y.shape) : null,
  ]);
}

/**
 * a - alpha * b, with a number alpha (1 by default) as in torch.sub. Another alpha makes one op
 * and one pass over the data where sub(a, mul(b, alpha)) makes two. The values are the same,
 * except that a zero in the gradient of a broadcast b may differ in sign. MAML's inner update
 * of per-task weights uses it. VJP: grad for a and -alpha * grad for b.
 *
 * sub(tensor([1, 2]), tensor([10, 20]), 0.5) is [-4, -8].
 */
export function sub(a: TensorLike, b: TensorLike, alpha = 1): Tensor {
  if (typeof alpha !== 'number') {
    throw new Error(`sub: alpha must be a number, got ${typeof alpha}; for a tensor alpha write sub(a, mul(b, alpha))`);
  }
  const [x, y] = binaryOperands('sub', a, b);
  if (alpha !== 1) return subScaled(x, y, alpha);

  const result = Tensor.fromView(k.sub(x, y));
  return record('sub', result, [x, y], (grad) => [
    x.requiresGrad ? sumToShape(grad, x.shape) : null,
    y.requiresGrad ? sumToShape(neg(grad), y.shape) : null,
  ]);
}

function subScaled(x: Tensor, y: Tensor, alpha: number): Tensor {
  const result = Tensor.fromView(k.subScaled(x, y, alpha));
  return record('sub', result, [x, y], (grad) => [
    x.requiresGrad ? sumToShape(grad, x.shape) : null,
    y.requiresGrad ? sumToShape(mul(grad, -alpha), y.shape) : null,
  ]);
}

/** a * b, elementwise. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('mul', a, b);
  const result = Tensor.fromView(k.mul(x, y));
  return record('mul', result, [x, y], (grad) => [
    x.requiresGrad ? sumToShape(mul(grad, y), x.shape) : null,
    y.requiresGrad ? sumToShape(mul(grad, x), y.shape) : null,
  ]);
}

/** a / b, elementwise. d(a/b)/db = -a / b^2 = -result / b. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('div', a, b);
  const result = Tensor.fromView(k.div(x, y));
  return record('div', result, [x, y], (grad) => {
    const gradOverY = div(grad, y);
    return [
      x.requiresGrad ? sumToShape(gradOverY, x.shape) : null,
      y.requiresGrad ? sumToShape(neg(mul(gradOverY, result)), y.shape) : null,
    ];
  });
}

/** -x. */
export function neg(x: Tensor): Tensor {
  const result = Tensor.fromView(k.neg(x));
  return record('neg', result, [x], (grad) => [neg(grad)]);
}

/** x * x. */
export function square(x: Tensor): Tensor {
  const result = Tensor.fromView(k.square(x));
  return record('square', result, [x], (grad) => [mul(grad, mul(x, 2))]);
}

/**
 * a ** b. With a number exponent p the VJP is grad * p * a^(p - 1), and exponent 0 gives a zero
 * gradient. With a tensor exponent, d/db = result * log(a), taken as 0 where a == 0 and b > 0
 * (where the limit is 0), as PyTorch does.
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number' && a instanceof Tensor) return powScalar(a, b);
  const [x, y] = binaryOperands('pow', a, b);
  const result = Tensor.fromView(k.pow(x, y));
  return record('pow', result, [x, y], (grad) => {
    const gradX = x.requiresGrad ? sumToShape(mul(grad, mul(y, pow(x, sub(y, 1)))), x.shape) : null;
    let gradY: Tensor | null = null;
    if (y.requiresGrad) {
      const zeroBase = mul(equal(x, 0), greater(y, 0));
      const safeLog = log(where(zeroBase, 1, x));
      gradY = sumToShape(mul(grad, mul(result, safeLog)), y.shape);
    }
    return [gradX, gradY];
  });
}

function powScalar(x: Tensor, exponent: number): Tensor {
  const result = Tensor.fromView(k.powScalar(x, exponent));
  return record('pow', result, [x], (grad) => {
    if (exponent === 0) return [mul(grad, 0)];
    if (exponent === 1) return [grad];
    return [mul(grad, mul(pow(x, exponent - 1), exponent))];
  });
}

/**
 * The larger of a and b, elementwise. The gradient goes to the larger operand; at a tie each
 * operand gets half, as in PyTorch.
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('maximum', a, b);
  const result = Tensor.fromView(k.maximum(x, y));
  return record('maximum', result, [x, y], (grad) => splitByComparison(grad, x, y, greater(x, y), equal(x, y)));
}

/** The smaller of a and b, elementwise; ties split the gradient in half. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands('minimum', a, b);
  const result = Tensor.fromView(k.minimum(x, y));
  return record('minimum', result, [x, y], (grad) => splitByComparison(grad, x, y, less(x, y), equal(x, y)));
}

function splitByComparison(grad: Tensor, x: Tensor, y: Tensor, xWins: Tensor, tie: Tensor): Array<Tensor | null> {
  const xShare = add(xWins, mul(tie, 0.5));
  const yShare = sub(sub(1, xWins), mul(tie, 0.5));
  return [
    x.requiresGrad ? sumToShape(mul(grad, xShare), x.shape) : null,
    y.requiresGrad ? sumToShape(mul(grad, yShare), y.shape) : null,
  ];
}

/**
 * Limits x to [min, max]; either bound may be omitted. The gradient passes where
 * min <= x <= max (bounds included, as in PyTorch) and is 0 outside.
 */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new Error(`clamp: min ${min} is greater than max ${max}`);
  const result = Tensor.fromView(k.clamp(x, min, max));
  return record('clamp', result, [x], (grad) => [mul(grad, mul(greaterEqual(x, min), lessEqual(x, max)))]);
}

/**
 * Picks `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three. The
 * gradient of each branch is the incoming gradient where that branch was picked and 0 elsewhere.
 *
 * A zero gradient still meets the unpicked branch's own VJP, and 0 * Infinity is NaN. So
 * `where(x > 0, sqrt(x), 0)` has a NaN gradient at x = 0, because sqrt's VJP divides by
 * sqrt(0). Keep unpicked values finite instead:
 * `where(x > 0, sqrt(where(x > 0, x, 1)), 0)` has gradient 0 at x = 0.
 */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : condition;
  const x = typeof a === 'number' ? scalarLike(a, like) : a;
  const y = typeof b === 'number' ? scalarLike(b, like) : b;
  const [left, right] = binaryOperands('where', x, y);
  const result = Tensor.fromView(k.where(condition, left, right));
  return record('where', result, [left, right], (grad) => [
    left.requiresGrad ? sumToShape(where(condition, grad, 0), left.shape) : null,
    right.requiresGrad ? sumToShape(where(condition, 0, grad), right.shape) : null,
  ]);
}
