/**
 * Shared test helpers: fast-check generators of shapes and strided views, reference loops and
 * comparison with a tolerance that depends on the dtype.
 */
import fc from 'fast-check';
import ndarray, { type NdArray } from 'ndarray';
import { type Backend, type Dtype, type FloatArray, contiguousStrides, sizeOf, wasmFeatures } from '@metagrad/kernels';

export const dtypes: Dtype[] = ['float32', 'float64'];

/** Backends of the matrix products: the TypeScript loops, and WebAssembly where the engine has SIMD. */
export const backends: Backend[] = wasmFeatures().simd ? ['js', 'wasm'] : ['js'];

/** Relative tolerance of a comparison against a float64 reference loop. */
export function tolerance(dtype: Dtype): number {
  return dtype === 'float32' ? 2e-5 : 1e-12;
}

/** Returns a contiguous ndarray of the given dtype filled from `values` (or zeros). */
export function makeView(dtype: Dtype, shape: number[], values?: ArrayLike<number>): NdArray<FloatArray> {
  const size = sizeOf(shape);
  const data = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  if (values) data.set(Array.from(values).slice(0, size));
  return ndarray(data, shape, contiguousStrides(shape), 0);
}

/** Reads element `index` (a multi-index) of any strided view. */
export function at(view: { data: ArrayLike<number>; stride: number[]; offset: number }, index: readonly number[]): number {
  let position = view.offset;
  for (let axis = 0; axis < index.length; axis++) position += index[axis] * view.stride[axis];
  return view.data[position];
}

/** Lists every multi-index of a shape in row-major order. */
export function indicesOf(shape: readonly number[]): number[][] {
  const result: number[][] = [];
  const size = sizeOf(shape);
  for (let flat = 0; flat < size; flat++) {
    const index = new Array<number>(shape.length);
    let rest = flat;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis] = rest % shape[axis];
      rest = Math.floor(rest / shape[axis]);
    }
    result.push(index);
  }
  return result;
}

/** Reads a view into nested-free row-major numbers, whatever its strides. */
export function toFlat(view: { data: ArrayLike<number>; shape: number[]; stride: number[]; offset: number }): number[] {
  return indicesOf(view.shape).map((index) => at(view, index));
}

/** Asserts that two lists of numbers agree elementwise within a relative tolerance. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol = rtol): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(a).toBeNaN();
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(a).toBe(e);
      continue;
    }
    const allowed = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= allowed)) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (allowed difference ${allowed})`);
    }
  }
}

/** How a generated view lays out its elements in memory. */
export type Layout = 'contiguous' | 'transposed' | 'sliced' | 'reversed' | 'broadcast';

/**
 * Returns a view of `shape` whose values are `values` in row-major order, stored in one of five
 * memory layouts. 'contiguous' is row-major, 'transposed' stores the axes in reverse order, and
 * 'sliced' is a strided slice of a larger buffer with an offset. 'reversed' walks every axis
 * backwards (negative strides), and 'broadcast' repeats the first row along axis 0 (stride 0).
 */
export function layoutView(dtype: Dtype, shape: number[], values: ArrayLike<number>, layout: Layout): NdArray<FloatArray> {
  const size = sizeOf(shape);
  const ctor = dtype === 'float32' ? Float32Array : Float64Array;

  if (layout === 'transposed') {
    const reversed = shape.slice().reverse();
    const data = new ctor(size);
    const reversedStrides = contiguousStrides(reversed);
    const strides = reversedStrides.slice().reverse();
    indicesOf(shape).forEach((index, flat) => {
      let position = 0;
      index.forEach((i, axis) => (position += i * strides[axis]));
      data[position] = values[flat];
    });
    return ndarray(data, shape.slice(), strides, 0);
  }

  if (layout === 'sliced') {
    // Every axis gets stride 2x the contiguous stride (plus one spare), and the view starts at 3.
    const base = contiguousStrides(shape.map((d) => d * 2));
    const data = new ctor(3 + sizeOf(shape.map((d) => d * 2)) + 1).fill(Number.NaN);
    indicesOf(shape).forEach((index, flat) => {
      let position = 3;
      index.forEach((i, axis) => (position += i * 2 * base[axis]));
      data[position] = values[flat];
    });
    return ndarray(data, shape.slice(), base.map((s) => s * 2), 3);
  }

  if (layout === 'reversed') {
    // Element i of each axis is stored where a contiguous array keeps element (dim - 1 - i).
    const forward = contiguousStrides(shape);
    const data = new ctor(size);
    const offset = shape.reduce((total, dim, axis) => total + (dim - 1) * forward[axis], 0);
    const strides = forward.map((s) => -s);
    indicesOf(shape).forEach((index, flat) => {
      let position = offset;
      index.forEach((i, axis) => (position += i * strides[axis]));
      data[position] = values[flat];
    });
    return ndarray(data, shape.slice(), strides, offset);
  }

  if (layout === 'broadcast') {
    // A single row broadcast along axis 0: only valid when all rows of `values` are equal,
    // so callers pass values that repeat. Here we broadcast the first row.
    if (shape.length === 0 || shape[0] === 1) return layoutView(dtype, shape, values, 'contiguous');
    const rowShape = shape.slice(1);
    const row = makeView(dtype, rowShape, Array.from(values).slice(0, sizeOf(rowShape)));
    return ndarray(row.data, shape.slice(), [0, ...row.stride], 0);
  }

  return makeView(dtype, shape, values);
}

/** A fast-check generator of shapes with `ndim` axes of 1..maxDim elements. */
export function shapeArb(minNdim: number, maxNdim: number, maxDim = 5): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minNdim, maxLength: maxNdim });
}

/** A fast-check generator of `size` finite values in [-range, range]. */
export function valuesArb(size: number, range = 10): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: -range, max: range, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size });
}

export const layoutArb: fc.Arbitrary<Layout> = fc.constantFrom('contiguous', 'transposed', 'sliced', 'reversed');
export const dtypeArb: fc.Arbitrary<Dtype> = fc.constantFrom<Dtype>('float32', 'float64');

/** Deterministic values in [-1, 1) from a seed, so failures reproduce. */
export function pseudoRandom(size: number, seed: number): number[] {
  let state = (seed >>> 0) || 1;
  return Array.from({ length: size }, () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 31 - 1;
  });
}

/** Every layout an input view of a kernel may have: those of `layoutView`, or stride 0 on chosen axes. */
export type InputLayout = Exclude<Layout, 'broadcast'> | 'zeroStride';

export const inputLayoutArb: fc.Arbitrary<InputLayout> = fc.constantFrom<InputLayout>('contiguous', 'transposed', 'sliced', 'reversed', 'zeroStride');

/**
 * Returns a view of `shape` stored as `layout`. For 'zeroStride', axis k gets stride 0 when bit k
 * of `mask` is set. Such an axis stores a single element, so the view contains fewer distinct
 * values than `values`, and callers read its values back with `toFlat`.
 */
export function inputView(dtype: Dtype, shape: number[], values: ArrayLike<number>, layout: InputLayout, mask = -1): NdArray<FloatArray> {
  if (layout !== 'zeroStride') return layoutView(dtype, shape, values, layout);
  const stored = shape.map((dim, axis) => ((mask >> axis) & 1 ? 1 : dim));
  const compact = makeView(dtype, stored, values);
  const strides = compact.stride.map((s, axis) => (stored[axis] === 1 ? 0 : s));
  return ndarray(compact.data, shape.slice(), strides, 0);
}

/** Where a kernel writes its result: a new array, a given contiguous `out`, or a given strided `out`. */
export type OutKind = 'none' | 'contiguous' | 'strided';

export const outKindArb: fc.Arbitrary<OutKind> = fc.constantFrom<OutKind>('none', 'contiguous', 'strided');

/** The value that `outView` puts in every buffer position, so that stray writes show. */
export const SENTINEL = -7777;

/**
 * Returns an `out` view of `shape` filled with SENTINEL: undefined for 'none', a contiguous
 * array, or a slice with offset 3 and doubled strides of a larger buffer.
 */
export function outView(dtype: Dtype, shape: number[], kind: OutKind): NdArray<FloatArray> | undefined {
  if (kind === 'none') return undefined;
  const filler = new Array<number>(sizeOf(shape)).fill(SENTINEL);
  const view = layoutView(dtype, shape, filler, kind === 'contiguous' ? 'contiguous' : 'sliced');
  view.data.fill(SENTINEL);
  return view;
}

/** Counts the buffer positions outside the elements of `view` that no longer hold SENTINEL. */
export function changedOutside(view: { data: ArrayLike<number>; shape: number[]; stride: number[]; offset: number }): number {
  const inside = new Set<number>();
  for (const index of indicesOf(view.shape)) {
    let position = view.offset;
    index.forEach((i, axis) => (position += i * view.stride[axis]));
    inside.add(position);
  }
  let changed = 0;
  for (let position = 0; position < view.data.length; position++) {
    if (!inside.has(position) && view.data[position] !== SENTINEL) changed++;
  }
  return changed;
}

/** Rounds float64 reference values to what a kernel of `dtype` can store. */
export function roundTo(dtype: Dtype, values: readonly number[]): number[] {
  return dtype === 'float32' ? values.map((v) => Math.fround(v)) : values.slice();
}

/** Position of a multi-index in the row-major order of `shape`. */
export function flatIndex(shape: readonly number[], index: readonly number[]): number {
  let flat = 0;
  for (let axis = 0; axis < shape.length; axis++) flat = flat * shape[axis] + index[axis];
  return flat;
}

/** Inner product of two lists of numbers of the same length. */
export function dot(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] * b[i];
  return total;
}

/** A fast-check generator of a shape together with values for every element. */
export function shapeAndValuesArb(minNdim: number, maxNdim: number, maxDim = 5, range = 10): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(minNdim, maxNdim, maxDim).chain((shape) => fc.tuple(fc.constant(shape), valuesArb(sizeOf(shape), range)));
}

/** Generates a shape that broadcasts to `shape`, with some leading axes dropped and some axes set to 1. */
export function broadcastableShapeArb(shape: number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.nat(shape.length), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }))
    .map(([drop, ones]) => shape.slice(drop).map((dim, i) => (ones[drop + i] ? 1 : dim)));
}

/** Computes the broadcast shape by NumPy's rule: shapes align at the last axis, and each axis is equal or 1 in every shape. */
export function referenceBroadcastShape(shapes: number[][]): number[] {
  const ndim = Math.max(0, ...shapes.map((shape) => shape.length));
  const result: number[] = [];
  for (let axis = 0; axis < ndim; axis++) {
    const sizes = shapes.map((shape) => shape[shape.length - ndim + axis] ?? 1);
    const others = sizes.filter((dim) => dim !== 1);
    result.push(others.length === 0 ? 1 : others[0]);
  }
  return result;
}
