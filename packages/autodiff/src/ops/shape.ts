/**
 * Shape ops. reshape (of contiguous data), transpose, permute, expand, slice, squeeze and
 * unsqueeze return views that share the input's data; the rest copy. Each VJP undoes the
 * rearrangement on the gradient: reshape back, permute back, sum over broadcast axes, or put a
 * slice's gradient back in place.
 */
import * as k from '@metagrad/kernels';
import ndarray from 'ndarray';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { filledLike, requireTensor } from './operands';

const { formatShape } = k;

function viewOf(x: Tensor, shape: readonly number[], stride: readonly number[], offset: number): Tensor {
  return new Tensor(x.data, shape, stride, offset);
}

/**
 * Returns the same elements in a new shape. One axis may be -1 and is then inferred. A view of
 * contiguous data; other layouts are copied first.
 *
 * reshape(arange(6), [2, -1]) has shape [2, 3].
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape('reshape', x, shape);
  if (resolved.length === x.ndim && resolved.every((dim, i) => dim === x.shape[i])) return x;
  const source = k.isContiguous(x) ? x : Tensor.fromView(k.copy(x));
  const result = viewOf(source, resolved, k.contiguousStrides(resolved), source.offset);
  return record('reshape', result, [x], (grad) => [reshape(grad, x.shape)]);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const inferred = shape.filter((dim) => dim === -1).length;
  const known = shape.reduce((product, dim) => (dim === -1 ? product : product * dim), 1);
  const invalid = shape.some((dim) => !Number.isInteger(dim) || dim < -1);
  if (invalid || inferred > 1 || (inferred === 1 && (known === 0 || x.size % known !== 0)) || (inferred === 0 && known !== x.size)) {
    throw new Error(
      `${op}: cannot view ${x.size} elements of shape ${formatShape(x.shape)} as ${formatShape(shape)}; ` +
        'the new shape must have the same number of elements, with at most one -1 to infer',
    );
  }
  return shape.map((dim) => (dim === -1 ? x.size / known : dim));
}

/** Merges axes startAxis..endAxis (inclusive) into one. flatten(x) is a 1-D view of all elements. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const start = k.normalizeAxis('flatten', startAxis, x.ndim, x.shape);
  const end = k.normalizeAxis('flatten', endAxis, x.ndim, x.shape);
  if (start > end) throw new Error(`flatten: startAxis ${startAxis} comes after endAxis ${endAxis} for shape ${formatShape(x.shape)}`);
  const merged = x.shape.slice(start, end + 1).reduce((product, dim) => product * dim, 1);
  return reshape(x, [...x.shape.slice(0, start), merged, ...x.shape.slice(end + 1)]);
}

/** Removes axes of size 1: the given axis (left alone if its size is not 1, as in PyTorch), or all. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((dim) => dim !== 1));
  const resolved = k.normalizeAxis('squeeze', axis, x.ndim, x.shape);
  if (x.shape[resolved] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== resolved));
}

/** Inserts an axis of size 1 at `axis` (in [-ndim - 1, ndim]). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const resolved = k.normalizeAxis('unsqueeze', axis, x.ndim + 1, x.shape);
  const shape = x.shape.slice();
  shape.splice(resolved, 0, 1);
  const stride = x.stride.slice();
  stride.splice(resolved, 0, 0);
  const result = viewOf(x, shape, stride, x.offset);
  return record('unsqueeze', result, [x], (grad) => [reshape(grad, x.shape)]);
}

/** Swaps two axes (a view). transpose(x) swaps the last two. */
export function transpose(x: Tensor, axisA = -2, axisB = -1): Tensor {
  const a = k.normalizeAxis('transpose', axisA, x.ndim, x.shape);
  const b = k.normalizeAxis('transpose', axisB, x.ndim, x.shape);
  const order = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, order);
}

/** Reorders the axes (a view): axis i of the result is axis `axes[i]` of x. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const resolved = axes.map((axis) => k.normalizeAxis('permute', axis, x.ndim, x.shape));
  if (resolved.length !== x.ndim || new Set(resolved).size !== x.ndim) {
    throw new Error(`permute: axes [${axes.join(', ')}] must name each of the ${x.ndim} axes of shape ${formatShape(x.shape)} once`);
  }
  const result = viewOf(x, resolved.map((axis) => x.shape[axis]), resolved.map((axis) => x.stride[axis]), x.offset);
  const inverse = new Array<number>(x.ndim);
  resolved.forEach((axis, i) => (inverse[axis] = i));
  return record('permute', result, [x], (grad) => [permute(grad, inverse)]);
}

/**
 * Broadcasts x to `shape` (a view with stride 0 on broadcast axes); -1 keeps an axis's size.
 * VJP: the gradient summed back to x's shape.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  const resolved = shape.map((dim, i) => (dim === -1 && i >= lead ? x.shape[i - lead] : dim));
  if (resolved.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw new Error(
      `expand: cannot expand shape ${formatShape(x.shape)} to ${formatShape(shape)}; ` +
        'sizes must be non-negative integers, and -1 (keep the size) only fits an existing axis, not a new leading one',
    );
  }
  if (resolved.length === x.ndim && resolved.every((dim, i) => dim === x.shape[i])) return x;
  const result = viewOf(x, resolved, k.broadcastStrides('expand', x, resolved), x.offset);
  return record('expand', result, [x], (grad) => [sumToShape(grad, x.shape)]);
}

/** Sums x down to `shape`, undoing broadcasting. VJP: the gradient broadcast back to x's shape. */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length === x.ndim && shape.every((dim, i) => dim === x.shape[i])) return x;
  const result = Tensor.fromView(k.sumToShape(x, shape));
  return record('sumToShape', result, [x], (grad) => [expand(grad, x.shape)]);
}

/**
 * How `slice` indexes one axis: a number picks one index and removes the axis; null keeps the
 * whole axis; [start, stop, step] is Python's start:stop:step, where start and stop may be
 * negative or null and step must be positive.
 */
export type SliceSpec = number | null | readonly [number | null, (number | null)?, (number | null)?];

interface AxisSlice {
  start: number;
  length: number;
  step: number;
  keep: boolean;
}

function resolveSlices(x: Tensor, specs: readonly SliceSpec[]): AxisSlice[] {
  if (specs.length > x.ndim) {
    throw new Error(`slice: ${specs.length} index specs for a tensor of shape ${formatShape(x.shape)}`);
  }
  return x.shape.map((dim, axis) => {
    const spec = axis < specs.length ? specs[axis] : null;
    if (spec === null) return { start: 0, length: dim, step: 1, keep: true };
    if (typeof spec === 'number') {
      const index = spec < 0 ? spec + dim : spec;
      if (!Number.isInteger(spec) || index < 0 || index >= dim) {
        throw new Error(`slice: index ${spec} is out of range for axis ${axis} of size ${dim} (shape ${formatShape(x.shape)})`);
      }
      return { start: index, length: 1, step: 1, keep: false };
    }
    const step = spec[2] ?? 1;
    if (!Number.isInteger(step) || step <= 0) {
      throw new Error(`slice: step ${step} on axis ${axis} must be a positive integer; negative steps are not supported`);
    }
    const clampIndex = (value: number | null | undefined, fallback: number) => {
      if (value === null || value === undefined) return fallback;
      const resolved = value < 0 ? value + dim : value;
      return Math.min(Math.max(resolved, 0), dim);
    };
    const start = clampIndex(spec[0], 0);
    const stop = clampIndex(spec[1], dim);
    return { start, length: Math.max(0, Math.ceil((stop - start) / step)), step, keep: true };
  });
}

/** Shape, strides and offset of the sliced view of a strided array. */
function sliceGeometry(base: k.StridedView, slices: AxisSlice[]): k.StridedView {
  let offset = base.offset;
  const shape: number[] = [];
  const stride: number[] = [];
  slices.forEach((s, axis) => {
    offset += s.start * base.stride[axis];
    if (!s.keep) return;
    shape.push(s.length);
    stride.push(base.stride[axis] * s.step);
  });
  return { data: base.data, shape, stride, offset };
}

/**
 * Indexes like NumPy's basic slicing, one spec per leading axis (a view):
 * `slice(x, null, [0, 2])` is x[:, 0:2] and `slice(x, 1)` is x[1].
 */
export function slice(x: Tensor, ...specs: SliceSpec[]): Tensor {
  const slices = resolveSlices(x, specs);
  const result = Tensor.fromView(sliceGeometry(x, slices));
  return record('slice', result, [x], (grad) => [unslice(grad, x.shape, slices)]);
}

/** The VJP of slice: a tensor of the input's shape holding `grad` in the sliced positions, 0 elsewhere. */
function unslice(grad: Tensor, shape: readonly number[], slices: AxisSlice[]): Tensor {
  const result = filledLike(0, grad, shape);
  const window = sliceGeometry(result, slices);
  k.copy(grad, ndarray(window.data, window.shape, window.stride, window.offset));
  const specs = slices.map((s): SliceSpec => (s.keep ? [s.start, s.start + s.length * s.step, s.step] : s.start));
  return record('unslice', result, [grad], (gradOfResult) => [slice(gradOfResult, ...specs)]);
}

/** Takes `length` elements of `axis` from `start` (a view), like torch.narrow. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const resolved = k.normalizeAxis('narrow', axis, x.ndim, x.shape);
  const dim = x.shape[resolved];
  const first = start < 0 ? start + dim : start;
  if (!Number.isInteger(length) || length < 0 || first < 0 || first + length > dim) {
    throw new Error(`narrow: start ${start} and length ${length} do not fit axis ${resolved} of size ${dim} (shape ${formatShape(x.shape)})`);
  }
  const specs: SliceSpec[] = x.shape.map(() => null);
  specs[resolved] = [first, first + length];
  return slice(x, ...specs);
}

/**
 * Splits x along `axis` into views: chunks of `sizes` elements (the last may be smaller), or
 * pieces of the listed sizes, which must add up to the axis size.
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const resolved = k.normalizeAxis('split', axis, x.ndim, x.shape);
  const dim = x.shape[resolved];
  let pieces: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new Error(`split: chunk size ${sizes} must be a positive integer`);
    pieces = Array.from({ length: Math.ceil(dim / sizes) }, (_, i) => Math.min(sizes, dim - i * sizes));
  } else {
    pieces = sizes.slice();
    if (pieces.reduce((a, b) => a + b, 0) !== dim || pieces.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new Error(`split: sizes [${pieces.join(', ')}] must be non-negative integers adding up to ${dim}, the size of axis ${resolved} (shape ${formatShape(x.shape)})`);
    }
  }
  let start = 0;
  return pieces.map((length) => {
    const piece = narrow(x, resolved, start, length);
    start += length;
    return piece;
  });
}

/** Joins tensors of equal shape except along `axis`. VJP: the matching slice of the gradient. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat: needs at least one tensor');
  tensors.forEach((t, i) => requireTensor('concat', t, `tensor at position ${i}`));
  const first = tensors[0];
  const resolved = k.normalizeAxis('concat', axis, first.ndim, first.shape);
  for (const t of tensors) {
    const fits = t.ndim === first.ndim && t.dtype === first.dtype && t.shape.every((dim, i) => i === resolved || dim === first.shape[i]);
    if (!fits) {
      throw new Error(
        `concat: shapes ${tensors.map((u) => `${u.dtype} ${formatShape(u.shape)}`).join(', ')} must match except along axis ${resolved}, with one dtype`,
      );
    }
  }

  const shape = first.shape.slice();
  shape[resolved] = tensors.reduce((total, t) => total + t.shape[resolved], 0);
  const result = filledLike(0, first, shape);
  let start = 0;
  const starts = tensors.map((t) => {
    const specs: SliceSpec[] = shape.map(() => null);
    specs[resolved] = [start, start + t.shape[resolved]];
    k.copy(t, slice(result, ...specs).toNdarray());
    start += t.shape[resolved];
    return start - t.shape[resolved];
  });

  return record('concat', result, [...tensors], (grad) => tensors.map((t, i) => (t.requiresGrad ? narrow(grad, resolved, starts[i], t.shape[resolved]) : null)));
}

/** Stacks tensors of equal shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor');
  const resolved = k.normalizeAxis('stack', axis, tensors[0].ndim + 1, tensors[0].shape);
  return concat(tensors.map((t) => unsqueeze(t, resolved)), resolved);
}

/**
 * Pads every axis with `value` (default 0): `pads[i]` is [before, after] for axis i, as in
 * NumPy's pad. VJP: the interior slice of the gradient.
 */
export function pad(x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor {
  if (pads.length !== x.ndim || pads.some((p) => p.length !== 2 || p.some((n) => !Number.isInteger(n) || n < 0))) {
    throw new Error(`pad: pads ${JSON.stringify(pads)} must give a [before, after] pair of non-negative integers for each of the ${x.ndim} axes of shape ${formatShape(x.shape)}`);
  }
  const shape = x.shape.map((dim, i) => dim + pads[i][0] + pads[i][1]);
  const result = filledLike(value, x, shape);
  const interior: SliceSpec[] = pads.map(([before], i) => [before, before + x.shape[i]]);
  k.copy(x, slice(result, ...interior).toNdarray());
  return record('pad', result, [x], (grad) => [slice(grad, ...interior)]);
}

/** Returns x if its data is contiguous, or a contiguous copy. VJP: identity. */
export function contiguous(x: Tensor): Tensor {
  if (k.isContiguous(x)) return x;
  return clone(x);
}

/** Returns a contiguous copy of x with its own buffer. VJP: identity. */
export function clone(x: Tensor): Tensor {
  const result = Tensor.fromView(k.copy(x));
  return record('clone', result, [x], (grad) => [grad]);
}

/** Converts x to another dtype (a copy); the same dtype returns x. VJP: the gradient converted back. */
export function cast(x: Tensor, dtype: k.Dtype): Tensor {
  if (dtype === x.dtype) return x;
  const result = Tensor.fromView(k.cast(x, dtype));
  return record('cast', result, [x], (grad) => [cast(grad, x.dtype)]);
}
