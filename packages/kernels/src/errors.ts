import { KernelError } from './kernel-error';
import { type Dtype, type StridedView, dtypeOf, formatShape } from './view';

export { KernelError };

/** Returns the dtype of two views, or throws naming both when they differ. */
export function pairDtype(kernel: string, a: StridedView, b: StridedView, names: readonly [string, string] = ['a', 'b']): Dtype {
  const dtype = dtypeOf(a, kernel);
  if (dtypeOf(b, kernel) === dtype) return dtype;
  return commonDtype(kernel, { [names[0]]: a, [names[1]]: b });
}

/** Returns the shared dtype of the views, or throws naming each view's dtype when they differ. */
export function commonDtype(kernel: string, views: Record<string, StridedView<ArrayLike<number>>>): Dtype {
  let dtype: Dtype | undefined;
  for (const view of Object.values(views)) {
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

/** Throws unless `out` has the expected shape and dtype. */
export function checkOut(kernel: string, out: StridedView, shape: readonly number[], dtype: Dtype): void {
  if (!sameShape(out.shape, shape)) {
    throw new KernelError(kernel, `out has shape ${formatShape(out.shape)} but the result has shape ${formatShape(shape)}`);
  }
  const outDtype = dtypeOf(out, kernel);
  if (outDtype !== dtype) {
    throw new KernelError(kernel, `out is ${outDtype} but the inputs are ${dtype}`);
  }
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
