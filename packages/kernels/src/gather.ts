/**
 * Indexing along an axis and its adjoint:
 *   - `gather` takes whole slices by index (NumPy's `take`, PyTorch's `index_select`); an
 *     embedding lookup is `gather(table, ids, 0)`.
 *   - `scatterAdd` adds slices back at those indices; repeated indices add up, which makes it
 *     the gradient of `gather`.
 *   - `gatherAlongAxis` and `scatterAddAlongAxis` pick one element per position (PyTorch's
 *     `gather` and `scatter_add`, NumPy's `take_along_axis`), as a loss picks each target class.
 * Indices may be any numeric view (Int32Array, Float64Array, ...) holding integers in range.
 */
import type { NdArray } from 'ndarray';
import { checkOut, commonDtype, KernelError, normalizeAxis } from './errors';
import { elementOffsets } from './reduce';
import { type FloatArray, type StridedView, contiguousStrides, dtypeOf, formatShape, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;
const { isInteger } = Number;

type IndexView = StridedView<ArrayLike<number>>;

/** Reads every index in row-major order and checks it is an integer in [0, size). */
function readIndices(kernel: string, indices: IndexView, size: number, axis: number, shape: readonly number[]): Int32Array {
  const offsets = elementOffsets(indices);
  const values = new Int32Array(offsets.length);
  for (let i = 0; i < values.length; i++) {
    const value = indices.data[offsets[i]];
    if (!isInteger(value) || value < 0 || value >= size) {
      const problem = isInteger(value) ? 'is out of range' : 'is not an integer';
      throw new KernelError(
        kernel,
        `index ${value} at position ${i} ${problem} for axis ${axis} of size ${size} (shape ${formatShape(shape)}); indices must be integers in [0, ${size - 1}]`,
      );
    }
    values[i] = value;
  }
  return values;
}

/** Offsets of a view read as [outer, axis, inner]: where each outer and inner index starts. */
function splitAtAxis(view: StridedView, axis: number): { outerOffsets: Int32Array; axisStride: number; innerOffsets: Int32Array } {
  const part = (from: number, to: number, offset: number) =>
    elementOffsets({ data: view.data, shape: view.shape.slice(from, to), stride: view.stride.slice(from, to), offset });
  return {
    outerOffsets: part(0, axis, view.offset),
    axisStride: view.stride[axis],
    innerOffsets: part(axis + 1, view.shape.length, 0),
  };
}

/**
 * Takes slices of `x` along `axis` at the given indices. The result has shape
 * `x.shape[:axis] + indices.shape + x.shape[axis + 1:]`.
 *
 * gather([[1, 2], [3, 4], [5, 6]], [2, 0, 2], 0) is [[5, 6], [1, 2], [5, 6]].
 */
export function gather<T extends FloatArray>(x: StridedView<T>, indices: IndexView, axis = 0, out?: NdArray<T>): NdArray<T> {
  const kernel = 'gather';
  const dtype = dtypeOf(x, kernel);
  const resolved = normalizeAxis(kernel, axis, x.shape.length, x.shape);
  const picks = readIndices(kernel, indices, x.shape[resolved], resolved, x.shape);
  const resultShape = [...x.shape.slice(0, resolved), ...indices.shape, ...x.shape.slice(resolved + 1)];
  const result = out ?? zerosView<T>(dtype, resultShape);
  if (out) checkOut(kernel, out, resultShape, dtype);

  const { outerOffsets, axisStride, innerOffsets } = splitAtAxis(x, resolved);
  const targets = elementOffsets(result);
  let position = 0;
  for (let o = 0; o < outerOffsets.length; o++) {
    for (let p = 0; p < picks.length; p++) {
      const sliceStart = outerOffsets[o] + picks[p] * axisStride;
      for (let i = 0; i < innerOffsets.length; i++, position++) {
        result.data[targets[position]] = x.data[sliceStart + innerOffsets[i]];
      }
    }
  }
  return result;
}

/**
 * Adds the slices of `src` into `target` along `axis` at the given indices, in place, and
 * returns `target`: `target[..., indices[j], ...] += src[..., j, ...]`. Repeated indices add up.
 * `src` must have the shape that `gather(target, indices, axis)` would return.
 */
export function scatterAdd<T extends FloatArray>(target: NdArray<T>, indices: IndexView, src: StridedView<T>, axis = 0): NdArray<T> {
  const kernel = 'scatterAdd';
  commonDtype(kernel, { target, src });
  const resolved = normalizeAxis(kernel, axis, target.shape.length, target.shape);
  const picks = readIndices(kernel, indices, target.shape[resolved], resolved, target.shape);
  const expected = [...target.shape.slice(0, resolved), ...indices.shape, ...target.shape.slice(resolved + 1)];
  if (expected.length !== src.shape.length || expected.some((dim, i) => dim !== src.shape[i])) {
    throw new KernelError(
      kernel,
      `src has shape ${formatShape(src.shape)} but target ${formatShape(target.shape)} with indices ${formatShape(indices.shape)} along axis ${resolved} needs ${formatShape(expected)}`,
    );
  }

  const { outerOffsets, axisStride, innerOffsets } = splitAtAxis(target, resolved);
  const sources = elementOffsets(src);
  let position = 0;
  for (let o = 0; o < outerOffsets.length; o++) {
    for (let p = 0; p < picks.length; p++) {
      const sliceStart = outerOffsets[o] + picks[p] * axisStride;
      for (let i = 0; i < innerOffsets.length; i++, position++) {
        target.data[sliceStart + innerOffsets[i]] += src.data[sources[position]];
      }
    }
  }
  return target;
}

/**
 * Picks `x[..., indices[..., j, ...], ...]` along `axis`, one element per index. `indices` has
 * as many axes as `x`, and on every other axis a size no larger than x's; the result has the
 * shape of `indices`.
 *
 * gatherAlongAxis([[1, 2], [3, 4]], [[1], [0]], 1) is [[2], [3]].
 */
export function gatherAlongAxis<T extends FloatArray>(x: StridedView<T>, indices: IndexView, axis: number, out?: NdArray<T>): NdArray<T> {
  const kernel = 'gatherAlongAxis';
  const dtype = dtypeOf(x, kernel);
  const resolved = checkAlongAxis(kernel, x.shape, indices.shape, axis);
  const picks = readIndices(kernel, indices, x.shape[resolved], resolved, x.shape);
  const result = out ?? zerosView<T>(dtype, indices.shape);
  if (out) checkOut(kernel, out, indices.shape, dtype);

  const sourceOffsets = alongAxisOffsets(x, indices.shape, resolved, picks);
  const resultOffsets = elementOffsets(result);
  for (let i = 0; i < picks.length; i++) result.data[resultOffsets[i]] = x.data[sourceOffsets[i]];
  return result;
}

/**
 * Adds `src` into `target` in place at the positions `gatherAlongAxis` would read, and returns
 * `target`. `src` has the shape of `indices`; repeated positions add up.
 */
export function scatterAddAlongAxis<T extends FloatArray>(target: NdArray<T>, indices: IndexView, src: StridedView<T>, axis: number): NdArray<T> {
  const kernel = 'scatterAddAlongAxis';
  commonDtype(kernel, { target, src });
  const resolved = checkAlongAxis(kernel, target.shape, indices.shape, axis);
  if (src.shape.length !== indices.shape.length || src.shape.some((dim, i) => dim !== indices.shape[i])) {
    throw new KernelError(kernel, `src has shape ${formatShape(src.shape)} but indices have shape ${formatShape(indices.shape)}; they must match`);
  }
  const picks = readIndices(kernel, indices, target.shape[resolved], resolved, target.shape);

  const targetOffsets = alongAxisOffsets(target, indices.shape, resolved, picks);
  const srcOffsets = elementOffsets(src);
  for (let i = 0; i < picks.length; i++) target.data[targetOffsets[i]] += src.data[srcOffsets[i]];
  return target;
}

function checkAlongAxis(kernel: string, shape: readonly number[], indexShape: readonly number[], axis: number): number {
  const resolved = normalizeAxis(kernel, axis, shape.length, shape);
  const fits = indexShape.length === shape.length && indexShape.every((dim, i) => i === resolved || dim <= shape[i]);
  if (!fits) {
    throw new KernelError(
      kernel,
      `indices of shape ${formatShape(indexShape)} do not fit an array of shape ${formatShape(shape)} along axis ${resolved}: ` +
        'they need the same number of axes and no larger size on the other axes',
    );
  }
  return resolved;
}

/** Offsets in `view` of the elements picked along `axis`, in row-major order of `indexShape`. */
function alongAxisOffsets(view: StridedView, indexShape: readonly number[], axis: number, picks: Int32Array): Int32Array {
  const walk = elementOffsets({ data: view.data, shape: indexShape.slice(), stride: view.stride, offset: view.offset });
  const offsets = new Int32Array(picks.length);
  const axisStride = view.stride[axis];
  const axisSteps = contiguousStrides(indexShape)[axis];
  for (let i = 0; i < picks.length; i++) {
    // walk[i] reads x at the index's own position along `axis`; replace it by the pick.
    const ownPosition = math.floor(i / axisSteps) % indexShape[axis];
    offsets[i] = walk[i] + (picks[i] - ownPosition) * axisStride;
  }
  return offsets;
}
