import ndarray, { type Data, type NdArray } from 'ndarray';
import { KernelError } from './errors';
import { type StridedView, formatShape } from './view';

/**
 * Returns the shape that NumPy's broadcasting rules give for the input shapes: shapes are
 * aligned at their last axis, and each axis must be equal or 1 in every input.
 *
 * broadcastShapes('add', [3, 1], [4]) returns [3, 4].
 */
export function broadcastShapes(kernel: string, ...shapes: ReadonlyArray<readonly number[]>): number[] {
  const ndim = Math.max(0, ...shapes.map((shape) => shape.length));
  const result = new Array<number>(ndim).fill(1);

  for (const shape of shapes) {
    const lead = ndim - shape.length;
    for (let axis = 0; axis < shape.length; axis++) {
      const dim = shape[axis];
      const current = result[lead + axis];
      if (dim === current || dim === 1) continue;
      if (current === 1) {
        result[lead + axis] = dim;
        continue;
      }
      const listing = shapes.map((s) => formatShape(s)).join(' and ');
      throw new KernelError(
        kernel,
        `shapes ${listing} cannot be broadcast: axis ${axis - shape.length} has sizes ${current} and ${dim}; ` +
          'each axis must match or be 1',
      );
    }
  }
  return result;
}

/**
 * Returns strides that read `view` as if it had `shape`: broadcast axes get stride 0, so no
 * element is copied. Throws when `view.shape` does not broadcast to `shape`.
 */
export function broadcastStrides(kernel: string, view: StridedView<ArrayLike<number>>, shape: readonly number[]): number[] {
  const lead = shape.length - view.shape.length;
  if (lead < 0) {
    throw new KernelError(kernel, `cannot broadcast shape ${formatShape(view.shape)} to the smaller shape ${formatShape(shape)}`);
  }
  const strides = new Array<number>(shape.length).fill(0);
  for (let axis = 0; axis < view.shape.length; axis++) {
    const dim = view.shape[axis];
    if (dim === shape[lead + axis]) {
      strides[lead + axis] = dim === 1 ? 0 : view.stride[axis];
    } else if (dim !== 1) {
      throw new KernelError(
        kernel,
        `cannot broadcast shape ${formatShape(view.shape)} to ${formatShape(shape)}: axis ${axis} has size ${dim}, expected ${shape[lead + axis]} or 1`,
      );
    }
  }
  return strides;
}

/**
 * Returns a view of `view` with the given shape, reading broadcast axes with stride 0.
 * Nothing is copied, so writing through the result writes the shared elements.
 *
 * broadcastTo(ndarray(new Float32Array([1, 2]), [2]), [3, 2]) reads as [[1, 2], [1, 2], [1, 2]].
 */
export function broadcastTo<T extends Data<number> & ArrayLike<number>>(view: StridedView<T>, shape: readonly number[]): NdArray<T> {
  const strides = broadcastStrides('broadcastTo', view, shape);
  return ndarray(view.data, shape.slice(), strides, view.offset);
}
