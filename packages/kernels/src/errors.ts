import { KernelError } from './kernel-error';
import { type Dtype, type StridedView, dtypeOf, formatShape } from './view';

export { KernelError };

/** Returns the dtype of two views, or throws naming both when they differ or either reads past its data. */
export function pairDtype(kernel: string, a: StridedView, b: StridedView, names: readonly [string, string] = ['a', 'b']): Dtype {
  const dtype = dtypeOf(a, kernel);
  if (dtypeOf(b, kernel) !== dtype) return commonDtype(kernel, { [names[0]]: a, [names[1]]: b });
  checkExtent(kernel, names[0], a);
  checkExtent(kernel, names[1], b);
  return dtype;
}

/**
 * Returns the shared dtype of the views, or throws naming each view's dtype when they differ,
 * or naming a view whose shape, strides and offset reach outside its data.
 */
export function commonDtype(kernel: string, views: Record<string, StridedView<ArrayLike<number>>>): Dtype {
  let dtype: Dtype | undefined;
  for (const name in views) {
    const view = views[name];
    checkExtent(kernel, name, view);
    const current = dtypeOf(view, kernel);
    if (dtype !== undefined && current !== dtype) {
      const listing = Object.entries(views)
        .map(([name, v]) => `${name} is ${dtypeOf(v, kernel)}`)
        .join(', ');
      throw new KernelError(kernel, `dtypes differ (${listing}); convert one with cast() first`);
    }
    dtype = current;
  }
  return dtype ?? 'float32';
}

/** Throws unless `out` has the expected shape and dtype, and lies inside its data. */
export function checkOut(kernel: string, out: StridedView, shape: readonly number[], dtype: Dtype): void {
  if (!sameShape(out.shape, shape)) {
    throw new KernelError(kernel, `out has shape ${formatShape(out.shape)} but the result has shape ${formatShape(shape)}`);
  }
  const outDtype = dtypeOf(out, kernel);
  if (outDtype !== dtype) {
    throw new KernelError(kernel, `out is ${outDtype} but the inputs are ${dtype}`);
  }
  checkExtent(kernel, 'out', out);
}

/**
 * Throws unless every element of `view` lies inside its data. A view whose data is shorter than
 * its shape and strides need would read past the end. There a typed array gives undefined (NaN
 * in sums), and WebAssembly memory gives whatever an earlier call left there.
 */
export function checkExtent(kernel: string, name: string, view: StridedView<ArrayLike<number>>): void {
  const { lowest, highest } = elementRange(view);
  if (highest < lowest) return;
  if (lowest < 0 || highest >= view.data.length) {
    const strides = `[${view.stride.join(', ')}]`;
    throw new KernelError(
      kernel,
      `${name} of shape ${formatShape(view.shape)}, strides ${strides} and offset ${view.offset} reads elements ${lowest} to ${highest}, ` +
        `but its data has ${view.data.length}; make the view from an array with at least ${highest + 1} elements, or fix its shape and strides`,
    );
  }
}

/**
 * Returns the lowest and highest data index that a view reads; highest < lowest for a view with
 * no elements.
 */
function elementRange(view: StridedView<ArrayLike<number>>): { lowest: number; highest: number } {
  let lowest = view.offset;
  let highest = view.offset;
  for (let axis = 0; axis < view.shape.length; axis++) {
    if (view.shape[axis] === 0) return { lowest: 0, highest: -1 };
    const reach = (view.shape[axis] - 1) * view.stride[axis];
    if (reach < 0) lowest += reach;
    else highest += reach;
  }
  return { lowest, highest };
}

/**
 * Throws when `out` shares memory with one of `inputs`. A kernel that reads its inputs after it
 * has begun to write its result, such as a matrix product, would read values it already changed.
 */
export function checkNoOverlap(kernel: string, out: StridedView, inputs: Record<string, StridedView>): void {
  const outBytes = byteRange(out);
  for (const name in inputs) {
    const input = inputs[name];
    if (input.data.buffer !== out.data.buffer) continue;
    const inputBytes = byteRange(input);
    if (inputBytes.start < outBytes.end && outBytes.start < inputBytes.end) {
      throw new KernelError(kernel, `out shares memory with ${name}, which the result would overwrite while it is still read; pass a separate out array, or none`);
    }
  }
}

/** Returns the bytes, [start, end) within the data's buffer, between a view's lowest and highest element. */
function byteRange(view: StridedView): { start: number; end: number } {
  const { lowest, highest } = elementRange(view);
  if (highest < lowest) return { start: 0, end: 0 };
  const size = view.data.BYTES_PER_ELEMENT;
  return { start: view.data.byteOffset + lowest * size, end: view.data.byteOffset + (highest + 1) * size };
}

/** Tells whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Returns `axis` as a non-negative axis of an array with `ndim` dimensions. Negative axes
 * count from the end, as in NumPy: -1 is the last axis.
 */
export function normalizeAxis(kernel: string, axis: number, ndim: number, shape?: readonly number[]): number {
  const resolved = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= ndim) {
    const where = shape ? `shape ${formatShape(shape)}` : `${ndim} dimensions`;
    const fix = ndim === 0 ? 'a scalar has no axes, so reshape it to [1] first' : `use an axis in [${-ndim}, ${ndim - 1}]`;
    throw new KernelError(kernel, `axis ${axis} is out of range for an array of ${where}; ${fix}`);
  }
  return resolved;
}

/** Returns the sorted, distinct, non-negative axes; `undefined` means every axis. */
export function normalizeAxes(
  kernel: string,
  axes: number | readonly number[] | undefined,
  ndim: number,
  shape?: readonly number[],
): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const resolved = list.map((axis) => normalizeAxis(kernel, axis, ndim, shape));
  const sorted = [...new Set(resolved)].sort((x, y) => x - y);
  if (sorted.length !== resolved.length) {
    throw new KernelError(kernel, `axes [${list.join(', ')}] name the same axis twice`);
  }
  return sorted;
}
