/**
 * Conversions shared by the ops: numbers to tensors, and the dtype check of binary ops.
 */
import { formatShape } from '@metagrad/kernels';
import { Tensor } from '../tensor';

/** A tensor, or a number that is used as a scalar tensor of the other operand's dtype. */
export type TensorLike = Tensor | number;

/** Returns a scalar (shape []) tensor holding `value`, with the dtype of `like`. */
export function scalarLike(value: number, like: Tensor): Tensor {
  const data = like.dtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]);
  return new Tensor(data, []);
}

/** Returns a tensor of the given shape filled with `value`, with the dtype of `like`. */
export function filledLike(value: number, like: Tensor, shape: readonly number[] = like.shape): Tensor {
  const size = shape.reduce((product, dim) => product * dim, 1);
  const data = like.dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape);
}

/**
 * Turns the operands of a binary op into tensors of one dtype. A number takes the dtype of the
 * other operand; two tensors of different dtypes are rejected.
 */
export function binaryOperands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new Error(`${op}: at least one operand must be a tensor, got the numbers ${a} and ${b}`);
  }
  const x = typeof a === 'number' ? scalarLike(a, b as Tensor) : requireTensor(op, a, 'first operand');
  const y = typeof b === 'number' ? scalarLike(b, x) : requireTensor(op, b, 'second operand');
  if (x.dtype !== y.dtype) {
    throw new Error(
      `${op}: dtypes differ: ${x.dtype} ${formatShape(x.shape)} and ${y.dtype} ${formatShape(y.shape)}; ` +
        `convert one operand with .to('${x.dtype}') or .to('${y.dtype}')`,
    );
  }
  return [x, y];
}

/** Throws unless `value` is a Tensor, naming the op and the argument. */
export function requireTensor(op: string, value: unknown, argument: string): Tensor {
  if (value instanceof Tensor) return value;
  const described = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new Error(`${op}: the ${argument} must be a Tensor, got ${described}; wrap arrays with tensor()`);
}
