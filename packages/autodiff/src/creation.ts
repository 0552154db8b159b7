/**
 * Functions that create tensors: from values, filled, ranges, identity, and random draws.
 * Random functions take `{ seed }` or `{ generator }`; without either they draw from the default
 * generator, which `manualSeed` reseeds.
 */
import type { NdArray } from 'ndarray';
import { type Dtype, type FloatArray, type StridedView, allocateData, dtypeOf, formatShape, sizeOf } from '@metagrad/kernels';
import { type RandomOptions, resolveGenerator } from './random';
import { type NestedArray, Tensor } from './tensor';

/** Options shared by the creation functions. */
export interface TensorOptions {
  /** Element type; float32 unless the values are a Float64Array. */
  dtype?: Dtype;
  /** Whether gradients should flow to this tensor (a leaf). */
  requiresGrad?: boolean;
  /** Name shown by toDot, traceBackward and toString. */
  name?: string;
}

/** Options of `tensor()`: the above, and a shape for flat values. */
export interface TensorValuesOptions extends TensorOptions {
  /** Shape of flat values; defaults to the nesting of the values, or [length] for flat ones. */
  shape?: readonly number[];
}

function finish(data: FloatArray, shape: readonly number[], options: TensorOptions): Tensor {
  const result = new Tensor(data, shape, undefined, 0, options.requiresGrad ?? false);
  if (options.name !== undefined) result.name = options.name;
  return result;
}

function checkDtype(caller: string, dtype: Dtype): Dtype {
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new Error(`${caller}: unsupported dtype '${String(dtype)}'; use 'float32' or 'float64'`);
  }
  return dtype;
}

function checkShape(caller: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw new Error(`${caller}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
  }
}

/**
 * Creates a tensor from a number, nested arrays or a typed array. The values are copied.
 *
 * tensor([[1, 2], [3, 4]]) has shape [2, 2] and dtype float32;
 * tensor(new Float64Array(6), { shape: [2, 3] }) is float64.
 */
export function tensor(values: number | NestedArray | ArrayLike<number>, options: TensorValuesOptions = {}): Tensor {
  const defaultDtype: Dtype = values instanceof Float64Array ? 'float64' : 'float32';
  const dtype = checkDtype('tensor', options.dtype ?? defaultDtype);

  let flat: ArrayLike<number>;
  let shape: number[];
  if (typeof values === 'number') {
    flat = [values];
    shape = [];
  } else if (Array.isArray(values)) {
    shape = nestedShape(values);
    flat = (values as NestedArray[]).flat(Infinity as 1) as number[];
  } else if (values && typeof (values as ArrayLike<number>).length === 'number') {
    flat = values as ArrayLike<number>;
    shape = [flat.length];
  } else {
    throw new Error(`tensor: expected a number, nested arrays of numbers or a typed array, got ${values === null ? 'null' : typeof values}`);
  }

  if (options.shape) {
    checkShape('tensor', options.shape);
    if (sizeOf(options.shape) !== flat.length) {
      throw new Error(`tensor: ${flat.length} values do not fill shape ${formatShape(options.shape)} (${sizeOf(options.shape)} elements)`);
    }
    shape = options.shape.slice();
  }
  const data = allocateData(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== 'number') throw new Error(`tensor: element ${i} is ${typeof v}, not a number`);
    data[i] = v;
  }
  return finish(data, shape, options);
}

/** Shape of nested arrays; throws for ragged nesting, naming the first place that disagrees. */
function nestedShape(values: NestedArray[]): number[] {
  const shape: number[] = [];
  let level: NestedArray = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const check = (value: NestedArray, depth: number, path: number[]): void => {
    const expectArray = depth < shape.length;
    if (Array.isArray(value) !== expectArray || (Array.isArray(value) && value.length !== shape[depth])) {
      throw new Error(`tensor: ragged nested array: the element at [${path.join(', ')}] does not match shape ${formatShape(shape)}`);
    }
    if (Array.isArray(value)) value.forEach((child, i) => check(child, depth + 1, [...path, i]));
  };
  check(values, 0, []);
  return shape;
}

/** Wraps an ndarray view of float data as a tensor, sharing its data (no copy). */
export function fromNdarray(view: StridedView | NdArray<FloatArray>, options: Omit<TensorOptions, 'dtype'> = {}): Tensor {
  dtypeOf(view, 'fromNdarray');
  const result = new Tensor(view.data, view.shape, view.stride, view.offset, options.requiresGrad ?? false);
  if (options.name !== undefined) result.name = options.name;
  return result;
}

/** A tensor of the given shape filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  return filled('full', shape, value, options);
}

function filled(caller: string, shape: readonly number[], value: number, options: TensorOptions): Tensor {
  checkShape(caller, shape);
  const data = allocateData(checkDtype(caller, options.dtype ?? 'float32'), sizeOf(shape));
  if (value !== 0) data.fill(value);
  return finish(data, shape, options);
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, options);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, options);
}

/** Zeros with the shape and dtype of `like`. */
export function zerosLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return full(like.shape, 0, { dtype: like.dtype, ...options });
}

/** Ones with the shape and dtype of `like`. */
export function onesLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return full(like.shape, 1, { dtype: like.dtype, ...options });
}

/**
 * Values from `start` up to but excluding `stop`, `step` apart. With one number, the range
 * [0, n). arange(5) is [0, 1, 2, 3, 4]; arange(1, 2, 0.25) is [1, 1.25, 1.5, 1.75].
 */
export function arange(start: number, stop?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0 || !Number.isFinite(step) || !Number.isFinite(from) || !Number.isFinite(to)) {
    throw new Error(`arange: need finite start, stop and a nonzero step, got ${from}, ${to}, ${step}`);
  }
  const count = Math.max(0, Math.ceil((to - from) / step));
  const data = allocateData(checkDtype('arange', options.dtype ?? 'float32'), count);
  for (let i = 0; i < count; i++) data[i] = from + i * step;
  return finish(data, [count], options);
}

/** `count` evenly spaced values from `start` to `stop`, both included. */
export function linspace(start: number, stop: number, count: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(count) || count < 0) throw new Error(`linspace: count must be a non-negative integer, got ${count}`);
  const data = allocateData(checkDtype('linspace', options.dtype ?? 'float32'), count);
  const step = count > 1 ? (stop - start) / (count - 1) : 0;
  for (let i = 0; i < count; i++) data[i] = i === count - 1 && count > 1 ? stop : start + i * step;
  return finish(data, [count], options);
}

/** The n×m identity matrix (m defaults to n). */
export function eye(n: number, m = n, options: TensorOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const data = allocateData(checkDtype('eye', options.dtype ?? 'float32'), n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return finish(data, [n, m], options);
}

/** Options of the random creation functions. */
export type RandomTensorOptions = TensorOptions & RandomOptions;

function randomTensor(caller: string, shape: readonly number[], options: RandomTensorOptions, draw: (g: ReturnType<typeof resolveGenerator>) => number): Tensor {
  checkShape(caller, shape);
  const generator = resolveGenerator(options);
  const data = allocateData(checkDtype(caller, options.dtype ?? 'float32'), sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(generator);
  return finish(data, shape, options);
}

/** Uniform values in [0, 1). rand([2, 3], { seed: 1 }) gives the same numbers on every machine. */
export function rand(shape: readonly number[], options: RandomTensorOptions = {}): Tensor {
  return randomTensor('rand', shape, options, (g) => g.uniform());
}

/** Standard normal values. */
export function randn(shape: readonly number[], options: RandomTensorOptions = {}): Tensor {
  return randomTensor('randn', shape, options, (g) => g.normal());
}

/** Uniform integers in [low, high), stored as floats. */
export function randint(low: number, high: number, shape: readonly number[], options: RandomTensorOptions = {}): Tensor {
  return randomTensor('randint', shape, options, (g) => g.integer(low, high));
}
