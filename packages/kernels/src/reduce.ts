/**
 * Reductions along any set of axes: sum, mean, max and min (with the index of the winner),
 * logsumexp and variance, and `sumToShape`, which undoes broadcasting.
 *
 * Every reduction splits the input's axes into kept axes and reduced axes. `baseOffsets[o]` is
 * where output element `o` starts in the input, and `blockOffsets[j]` is the distance from
 * there to the j-th element of its reduced block, in row-major order of the reduced axes. So
 * every reduction is the same double loop: `for o: for j: x[baseOffsets[o] + blockOffsets[j]]`.
 * Sums accumulate in float64 whatever the input dtype.
 */
import ndarray, { type NdArray } from 'ndarray';
import { wasmBackendForElements } from './backend';
import { checkOut, KernelError, normalizeAxes } from './errors';
import { forEachRow } from './elementwise';
import { type FloatArray, type StridedView, allocateData, contiguousStrides, dtypeOf, formatShape, isContiguous, sizeOf, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;
const { isFinite: isFiniteNumber } = Number;

/** Axes to reduce: one axis, a list, or undefined for all axes. Negative axes count from the end. */
export type Axes = number | readonly number[] | undefined;

/** The split of a view's axes into kept and reduced ones, with the offsets of both loops. */
export interface ReductionLayout {
  /** Sorted, non-negative reduced axes. */
  axes: number[];
  /** Shape of the result: kept axes only, or every axis with reduced ones as 1 when keepDims. */
  resultShape: number[];
  /** Shape of the kept axes alone. */
  keptShape: number[];
  /** Number of elements reduced into each output element. */
  blockSize: number;
  baseOffsets: Int32Array;
  blockOffsets: Int32Array;
}

/** Returns the offsets, in row-major order of `shape`, of a view with the given strides. */
function offsetsOf(shape: readonly number[], strides: readonly number[], start: number): Int32Array {
  const offsets = new Int32Array(sizeOf(shape));
  if (offsets.length === 0) return offsets;

  const counter = new Array<number>(shape.length).fill(0);
  let position = start;
  for (let index = 0; index < offsets.length; index++) {
    offsets[index] = position;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      counter[axis]++;
      position += strides[axis];
      if (counter[axis] < shape[axis]) break;
      position -= strides[axis] * shape[axis];
      counter[axis] = 0;
    }
  }
  return offsets;
}

/** Splits the axes of `view` for a reduction over `axes` and lists the offsets of both loops. */
export function reductionLayout(kernel: string, view: StridedView<ArrayLike<number>>, axes: Axes, keepDims: boolean): ReductionLayout {
  const ndim = view.shape.length;
  const reduced = normalizeAxes(kernel, axes, ndim, view.shape);
  const isReduced = new Array<boolean>(ndim).fill(false);
  for (const axis of reduced) isReduced[axis] = true;

  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const blockShape: number[] = [];
  const blockStrides: number[] = [];
  const resultShape: number[] = [];
  for (let axis = 0; axis < ndim; axis++) {
    if (isReduced[axis]) {
      blockShape.push(view.shape[axis]);
      blockStrides.push(view.stride[axis]);
      if (keepDims) resultShape.push(1);
    } else {
      keptShape.push(view.shape[axis]);
      keptStrides.push(view.stride[axis]);
      resultShape.push(view.shape[axis]);
    }
  }

  return {
    axes: reduced,
    resultShape,
    keptShape,
    blockSize: sizeOf(blockShape),
    baseOffsets: offsetsOf(keptShape, keptStrides, view.offset),
    blockOffsets: offsetsOf(blockShape, blockStrides, 0),
  };
}

/** Offsets of every element of a view in row-major order, to read or write it whatever its strides. */
export function elementOffsets(view: StridedView<ArrayLike<number>>): Int32Array {
  return offsetsOf(view.shape, view.stride, view.offset);
}

function prepareOutput<T extends FloatArray>(kernel: string, x: StridedView<T>, layout: ReductionLayout, out?: NdArray<T>): NdArray<T> {
  const dtype = dtypeOf(x, kernel);
  if (out) {
    checkOut(kernel, out, layout.resultShape, dtype);
    return out;
  }
  return zerosView<T>(dtype, layout.resultShape);
}

function requireNonEmpty(kernel: string, x: StridedView, layout: ReductionLayout): void {
  if (layout.blockSize === 0 && layout.baseOffsets.length > 0) {
    throw new KernelError(kernel, `cannot reduce an empty block: shape ${formatShape(x.shape)} over axes [${layout.axes.join(', ')}]`);
  }
}

/**
 * Sums over `axes` (all axes when undefined). The sum over no elements is 0.
 *
 * sum([[1, 2], [3, 4]], 0) is [4, 6]; with keepDims it is [[4, 6]].
 */
export function sum<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false, out?: NdArray<T>): NdArray<T> {
  const split = out ? undefined : adjacentSplit('sum', x, axes, keepDims);
  if (split) return sumAdjacent(x, split);

  // Other layouts read x once in memory order and add each run into its output total: a
  // reduced axis has stride 0 in the totals, so a run along it sums into one element.
  const resolved = normalizeAxes('sum', axes, x.shape.length, x.shape);
  const isReduced = x.shape.map((_, axis) => resolved.includes(axis));
  const keptShape = x.shape.filter((_, axis) => !isReduced[axis]);
  const resultShape = keepDims ? x.shape.map((dim, axis) => (isReduced[axis] ? 1 : dim)) : keptShape;
  const result = out ?? zerosView<T>(dtypeOf(x, 'sum'), resultShape);
  if (out) checkOut('sum', out, resultShape, dtypeOf(x, 'sum'));

  const totals = allocateData('float64', sizeOf(keptShape));
  const keptStrides = contiguousStrides(keptShape);
  let kept = 0;
  const totalStrides = x.shape.map((_, axis) => (isReduced[axis] ? 0 : keptStrides[kept++]));
  const data = x.data;
  forEachRow(x.shape, { offsets: [x.offset, 0], strides: [x.stride, totalStrides] }, (starts, n, steps) => {
    let xi = starts[0];
    const xs = steps[0];
    if (steps[1] === 0) {
      let total = 0;
      for (let k = 0; k < n; k++, xi += xs) total += data[xi];
      totals[starts[1]] += total;
      return;
    }
    for (let k = 0, ti = starts[1]; k < n; k++, xi += xs, ti += steps[1]) totals[ti] += data[xi];
  });

  const targets = elementOffsets(result);
  for (let o = 0; o < targets.length; o++) result.data[targets[o]] = totals[o];
  return result;
}

/**
 * A contiguous view whose reduced axes are adjacent, read as [outer, reduced, inner]: element
 * (o, r, i) is at offset + (o * reduced + r) * inner + i. This covers sums over the batch axis
 * (bias gradients), over the last axis and over everything, without the general offset lists.
 */
interface AdjacentSplit {
  outer: number;
  reduced: number;
  inner: number;
  resultShape: number[];
}

function adjacentSplit(kernel: string, x: StridedView, axes: Axes, keepDims: boolean): AdjacentSplit | undefined {
  if (!isContiguous(x)) return undefined;
  const resolved = normalizeAxes(kernel, axes, x.shape.length, x.shape);
  if (resolved.length === 0 || resolved.some((axis, i) => axis !== resolved[0] + i)) return undefined;

  const first = resolved[0];
  const last = resolved[resolved.length - 1];
  const resultShape = keepDims
    ? x.shape.map((dim, axis) => (axis >= first && axis <= last ? 1 : dim))
    : x.shape.filter((_, axis) => axis < first || axis > last);
  return {
    outer: sizeOf(x.shape.slice(0, first)),
    reduced: sizeOf(x.shape.slice(first, last + 1)),
    inner: sizeOf(x.shape.slice(last + 1)),
    resultShape,
  };
}

/**
 * Sums the [outer, reduced, inner] split into a new array of [outer, inner] totals, adding in
 * float64 in row-major order of the reduced axes.
 */
function sumAdjacent<T extends FloatArray>(x: StridedView<T>, split: AdjacentSplit): NdArray<T> {
  const { outer, reduced, inner, resultShape } = split;
  const result = zerosView<T>(dtypeOf(x, 'sum'), resultShape);
  const data = x.data;
  const sums = result.data;

  // Sums over the last axes read each block as one run, so a local total is enough. Both loops
  // take four elements per iteration, in the same order, which was faster in Node 20 than one.
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = x.offset + o * reduced;
      let total = 0;
      let r = 0;
      for (; r + 4 <= reduced; r += 4) {
        total += data[base + r];
        total += data[base + r + 1];
        total += data[base + r + 2];
        total += data[base + r + 3];
      }
      for (; r < reduced; r++) total += data[base + r];
      sums[o] = total;
    }
    return result;
  }

  // Middle axes of float32 on the WebAssembly backend: the same float64 sums, in SIMD.
  const wasm = inner >= 4 ? wasmBackendForElements(sums, outer * reduced * inner) : undefined;
  if (wasm !== undefined) {
    wasm.sumRows(data as Float32Array, x.offset, outer, reduced, inner, sums as Float32Array, result.offset);
    return result;
  }

  const totals = allocateData('float64', inner);
  for (let o = 0; o < outer; o++) {
    totals.fill(0);
    for (let r = 0; r < reduced; r++) {
      const row = x.offset + (o * reduced + r) * inner;
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        totals[i] += data[row + i];
        totals[i + 1] += data[row + i + 1];
        totals[i + 2] += data[row + i + 2];
        totals[i + 3] += data[row + i + 3];
      }
      for (; i < inner; i++) totals[i] += data[row + i];
    }
    result.data.set(totals, o * inner);
  }
  return result;
}

/**
 * Averages the [outer, reduced, inner] split into a new array of [outer, inner] means,
 * accumulating in float64. Each block is shifted by its first element when finite, as `mean`
 * does, so the mean of equal values is exact.
 */
function meanAdjacent<T extends FloatArray>(x: StridedView<T>, split: AdjacentSplit): NdArray<T> {
  const { outer, reduced, inner, resultShape } = split;
  const result = zerosView<T>(dtypeOf(x, 'mean'), resultShape);
  const data = x.data;
  const totals = allocateData('float64', inner);
  const shifts = allocateData('float64', inner);

  for (let o = 0; o < outer; o++) {
    const base = x.offset + o * reduced * inner;
    for (let i = 0; i < inner; i++) {
      const first = data[base + i];
      shifts[i] = reduced > 0 && isFiniteNumber(first) ? first : 0;
      totals[i] = 0;
    }
    for (let r = 0; r < reduced; r++) {
      const row = base + r * inner;
      for (let i = 0; i < inner; i++) totals[i] += data[row + i] - shifts[i];
    }
    for (let i = 0; i < inner; i++) {
      result.data[o * inner + i] = reduced === 0 ? NaN : shifts[i] + totals[i] / reduced;
    }
  }
  return result;
}

/**
 * Arithmetic mean over `axes`. Each block is shifted by its first element (when finite) before
 * summing, so the mean of equal values is exactly that value. The mean of an empty block is NaN.
 */
export function mean<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false, out?: NdArray<T>): NdArray<T> {
  const split = out ? undefined : adjacentSplit('mean', x, axes, keepDims);
  if (split) return meanAdjacent(x, split);

  const layout = reductionLayout('mean', x, axes, keepDims);
  const result = prepareOutput('mean', x, layout, out);
  const { baseOffsets, blockOffsets, blockSize } = layout;
  const targets = elementOffsets(result);
  const data = x.data;

  for (let o = 0; o < baseOffsets.length; o++) {
    const base = baseOffsets[o];
    if (blockSize === 0) {
      result.data[targets[o]] = NaN;
      continue;
    }
    // An infinite first element would turn every shifted value into Infinity - Infinity = NaN,
    // so only a finite one serves as the shift.
    const first = data[base + blockOffsets[0]];
    const shift = isFiniteNumber(first) ? first : 0;
    let total = 0;
    for (let j = 0; j < blockSize; j++) total += data[base + blockOffsets[j]] - shift;
    result.data[targets[o]] = shift + total / blockSize;
  }
  return result;
}

/**
 * Variance over `axes`: sum of squared deviations from the mean, divided by
 * (count - correction). The default correction of 1 gives the unbiased estimate, as
 * `torch.var` does; pass 0 for the population variance (NumPy's default). A count not above
 * the correction gives NaN. The variance of equal values is exactly 0.
 */
export function variance<T extends FloatArray>(
  x: StridedView<T>,
  axes?: Axes,
  keepDims = false,
  correction = 1,
  out?: NdArray<T>,
): NdArray<T> {
  const layout = reductionLayout('variance', x, axes, keepDims);
  const result = prepareOutput('variance', x, layout, out);
  const { baseOffsets, blockOffsets, blockSize } = layout;
  const targets = elementOffsets(result);
  const data = x.data;

  for (let o = 0; o < baseOffsets.length; o++) {
    const base = baseOffsets[o];
    if (blockSize - correction <= 0) {
      result.data[targets[o]] = NaN;
      continue;
    }
    // Two passes over values shifted by the first one: equal values shift to exact zeros.
    const shift = data[base + blockOffsets[0]];
    let total = 0;
    for (let j = 0; j < blockSize; j++) total += data[base + blockOffsets[j]] - shift;
    const shiftedMean = total / blockSize;
    let squares = 0;
    for (let j = 0; j < blockSize; j++) {
      const deviation = data[base + blockOffsets[j]] - shift - shiftedMean;
      squares += deviation * deviation;
    }
    result.data[targets[o]] = squares / (blockSize - correction);
  }
  return result;
}

/** Values and indices of the maxima or minima along some axes. */
export interface ValuesAndIndices<T extends FloatArray> {
  values: NdArray<T>;
  /**
   * Position of each winner within its reduced block, counted in row-major order of the
   * reduced axes; for a single axis, simply the index along that axis.
   */
  indices: NdArray<Int32Array>;
}

function extremeWithIndices<T extends FloatArray>(
  kernel: string,
  x: StridedView<T>,
  axes: Axes,
  keepDims: boolean,
  takeLarger: boolean,
): ValuesAndIndices<T> {
  const layout = reductionLayout(kernel, x, axes, keepDims);
  requireNonEmpty(kernel, x, layout);
  const values = prepareOutput(kernel, x, layout);
  const indices = ndarray(new Int32Array(values.size), layout.resultShape.slice(), contiguousStrides(layout.resultShape), 0);
  const { baseOffsets, blockOffsets } = layout;
  const data = x.data;

  for (let o = 0; o < baseOffsets.length; o++) {
    const base = baseOffsets[o];
    let best = data[base + blockOffsets[0]];
    let bestIndex = 0;
    // Ties keep the first index. The first NaN wins and stops the search, as in PyTorch.
    for (let j = 1; j < blockOffsets.length && best === best; j++) {
      const v = data[base + blockOffsets[j]];
      if ((takeLarger ? v > best : v < best) || v !== v) {
        best = v;
        bestIndex = j;
      }
    }
    values.data[o] = best;
    indices.data[o] = bestIndex;
  }
  return { values, indices };
}

/** Maximum over `axes` and the index of the first maximum in each block. NaN wins over numbers. */
export function maxWithIndices<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false): ValuesAndIndices<T> {
  return extremeWithIndices('max', x, axes, keepDims, true);
}

/** Minimum over `axes` and the index of the first minimum in each block. NaN wins over numbers. */
export function minWithIndices<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false): ValuesAndIndices<T> {
  return extremeWithIndices('min', x, axes, keepDims, false);
}

/** Maximum over `axes` (all axes when undefined). */
export function max<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false): NdArray<T> {
  return extremeWithIndices('max', x, axes, keepDims, true).values;
}

/** Minimum over `axes` (all axes when undefined). */
export function min<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false): NdArray<T> {
  return extremeWithIndices('min', x, axes, keepDims, false).values;
}

/** Index of the first maximum along `axes`; see `ValuesAndIndices.indices` for several axes. */
export function argMax(x: StridedView, axes?: Axes, keepDims = false): NdArray<Int32Array> {
  return extremeWithIndices('argMax', x, axes, keepDims, true).indices;
}

/** Index of the first minimum along `axes`. */
export function argMin(x: StridedView, axes?: Axes, keepDims = false): NdArray<Int32Array> {
  return extremeWithIndices('argMin', x, axes, keepDims, false).indices;
}

/**
 * log(sum(exp(x))) over `axes`, computed as m + log(sum(exp(x - m))) with m the block's maximum,
 * so that no exponential overflows. A block of all -Infinity gives -Infinity, a block holding
 * +Infinity gives +Infinity, and NaN gives NaN.
 */
export function logsumexp<T extends FloatArray>(x: StridedView<T>, axes?: Axes, keepDims = false, out?: NdArray<T>): NdArray<T> {
  const layout = reductionLayout('logsumexp', x, axes, keepDims);
  const result = prepareOutput('logsumexp', x, layout, out);
  const { baseOffsets, blockOffsets } = layout;
  const targets = elementOffsets(result);
  const data = x.data;

  for (let o = 0; o < baseOffsets.length; o++) {
    const base = baseOffsets[o];
    let peak = -Infinity;
    for (let j = 0; j < blockOffsets.length; j++) {
      const v = data[base + blockOffsets[j]];
      if (v > peak || v !== v) peak = v;
      if (v !== v) break;
    }
    if (peak === -Infinity || peak === Infinity || peak !== peak) {
      result.data[targets[o]] = peak;
      continue;
    }
    let total = 0;
    for (let j = 0; j < blockOffsets.length; j++) total += math.exp(data[base + blockOffsets[j]] - peak);
    result.data[targets[o]] = peak + math.log(total);
  }
  return result;
}

/**
 * Sums `x` down to `shape`, undoing NumPy broadcasting: leading axes that `shape` lacks are
 * summed away, and axes where `shape` has 1 are summed with their size kept as 1. This is the
 * gradient of broadcasting an array of `shape` to `x.shape`.
 *
 * sumToShape([[1, 2], [3, 4]], [2]) is [4, 6]; sumToShape of the same to [2, 1] is [[3], [7]].
 */
export function sumToShape<T extends FloatArray>(x: StridedView<T>, shape: readonly number[], out?: NdArray<T>): NdArray<T> {
  const lead = x.shape.length - shape.length;
  const compatible = lead >= 0 && shape.every((dim, axis) => dim === x.shape[lead + axis] || dim === 1);
  if (!compatible) {
    throw new KernelError('sumToShape', `cannot sum shape ${formatShape(x.shape)} down to ${formatShape(shape)}: ${formatShape(shape)} does not broadcast to ${formatShape(x.shape)}`);
  }

  const axes: number[] = [];
  for (let axis = 0; axis < x.shape.length; axis++) {
    if (axis < lead || (shape[axis - lead] === 1 && x.shape[axis] !== 1)) axes.push(axis);
  }

  // Summing with keepDims leaves the leading axes as 1; dropping them is a reshape of the same data.
  const summed = sum(x, axes, true);
  const result = ndarray(summed.data, shape.slice(), contiguousStrides(shape), 0);
  if (!out) return result;
  checkOut('sumToShape', out, shape, dtypeOf(x, 'sumToShape'));
  const targets = elementOffsets(out);
  for (let o = 0; o < targets.length; o++) out.data[targets[o]] = result.data[o];
  return out;
}
