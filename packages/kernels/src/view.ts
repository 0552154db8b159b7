import ndarray, { type NdArray } from 'ndarray';
import { KernelError } from './kernel-error';

/** The two element types every kernel supports. float32 is for training, float64 for gradient checks. */
export type FloatArray = Float32Array | Float64Array;

/** Name of an element type, as `Tensor.dtype` and the kernels' error messages spell it. */
export type Dtype = 'float32' | 'float64';

/** Any array that can hold indices: typed arrays of integers or floats, or a plain array of numbers. */
export type IndexArray = ArrayLike<number>;

/**
 * The part of an ndarray view that the kernels read: element `[i0, i1, ...]` is at
 * `data[offset + i0 * stride[0] + i1 * stride[1] + ...]`.
 *
 * Every scijs `ndarray` satisfies this type, so transposed, sliced and broadcast views
 * (stride 0) are passed without copying.
 */
export interface StridedView<T extends ArrayLike<number> = FloatArray> {
  data: T;
  shape: number[];
  stride: number[];
  offset: number;
}

/** An ndarray over a Float32Array or a Float64Array. */
export type FloatNdArray<T extends FloatArray = FloatArray> = NdArray<T>;

/** Returns the dtype name of a float view's data, or throws a KernelError for any other element type. */
export function dtypeOf(view: StridedView<ArrayLike<number>>, kernel = 'dtypeOf'): Dtype {
  if (view.data instanceof Float32Array) return 'float32';
  if (view.data instanceof Float64Array) return 'float64';
  const name = (view.data as object)?.constructor?.name ?? typeof view.data;
  throw new KernelError(kernel, `expected a view of a Float32Array or Float64Array, got ${name}`);
}

/**
 * Small arrays are carved out of shared 64 KiB slabs instead of each getting an ArrayBuffer of
 * their own. V8 allocates a typed array over 64 bytes with a separate backing store, which cost
 * about 0.7 µs for 400 floats on the machine this was written on, against about 0.1 µs for a
 * view into an existing buffer; autodiff on small models allocates dozens of such arrays per
 * step. Slab memory is never reused while any view into it is alive, so a fresh view is zeros.
 *
 * NOTE: one long-lived small array keeps its whole 64 KiB slab alive. Code that keeps many
 * small arrays from different steps (a tensor per step in a list, say) should copy them out
 * with `Float32Array.from` or keep plain numbers.
 */
const SLAB_BYTES = 1 << 16;
const SLAB_MAX_ARRAY_BYTES = 2048;
/** Typed arrays up to this size live inside the JS object itself in V8, which is already fast. */
const IN_OBJECT_BYTES = 64;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/** Returns a new zero-filled typed array of the given dtype. */
export function allocateData(dtype: Dtype, size: number): FloatArray {
  const bytesPerElement = dtype === 'float32' ? 4 : 8;
  const bytes = size * bytesPerElement;
  if (bytes <= IN_OBJECT_BYTES || bytes > SLAB_MAX_ARRAY_BYTES) {
    return dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  }

  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = dtype === 'float32' ? new Float32Array(slab, slabUsed, size) : new Float64Array(slab, slabUsed, size);
  // Keep every view 8-byte aligned, as a Float64Array requires.
  slabUsed += (bytes + 7) & ~7;
  return view;
}

/** Returns a new zero-filled, contiguous row-major ndarray. */
export function zerosView<T extends FloatArray>(like: T | Dtype, shape: readonly number[]): NdArray<T> {
  const dtype: Dtype = typeof like === 'string' ? like : like instanceof Float32Array ? 'float32' : 'float64';
  const data = allocateData(dtype, sizeOf(shape)) as T;
  return ndarray(data, shape.slice(), contiguousStrides(shape), 0);
}

/** Number of elements in an array of the given shape (1 for a scalar shape `[]`). */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Row-major strides of a contiguous array: the last axis has stride 1. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = step;
    step *= shape[axis];
  }
  return strides;
}

/**
 * Tells whether the view covers `size` consecutive elements in row-major order,
 * so that a kernel may treat it as a flat array starting at `offset`.
 * Axes of length 1 may have any stride.
 */
export function isContiguous(view: StridedView<ArrayLike<number>>): boolean {
  let expected = 1;
  for (let axis = view.shape.length - 1; axis >= 0; axis--) {
    const dim = view.shape[axis];
    if (dim === 1) continue;
    if (view.stride[axis] !== expected) return false;
    expected *= dim;
  }
  return true;
}

/** Formats a shape the way error messages print it: `[2, 3, 4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Wraps a flat, contiguous buffer as an ndarray of the given shape, without copying. */
export function viewOf<T extends FloatArray>(data: T, shape: readonly number[], offset = 0): NdArray<T> {
  return ndarray(data, shape.slice(), contiguousStrides(shape), offset);
}
