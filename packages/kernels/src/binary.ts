/**
 * Elementwise functions of two inputs with NumPy broadcasting: out[i] = f(a[i], b[i]) after both
 * inputs are broadcast to a common shape (see broadcast.ts).
 *
 * As in unary.ts, each function is a row loop over `n` elements with one index and step per
 * operand; a broadcast operand simply has step 0. Comparisons return 1 for true and 0 for false
 * in the inputs' dtype, so a mask can multiply a gradient directly.
 */
import type { NdArray } from 'ndarray';
import { broadcastShapes, broadcastStrides } from './broadcast';
import { checkOut, commonDtype, KernelError, pairDtype, sameShape } from './errors';
import { forEachRow } from './elementwise';
import { type FloatArray, type StridedView, dtypeOf, formatShape, isContiguous, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

type BinaryRow = (
  n: number,
  a: FloatArray, ai: number, as: number,
  b: FloatArray, bi: number, bs: number,
  out: FloatArray, oi: number, os: number,
) => void;

function mapBinary<T extends FloatArray>(
  kernel: string,
  row: BinaryRow,
  a: StridedView<T>,
  b: StridedView<T>,
  out?: NdArray<T>,
): NdArray<T> {
  const dtype = pairDtype(kernel, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(kernel, a.shape, b.shape);
  const result = out ?? zerosView<T>(dtype, shape);
  if (out) checkOut(kernel, out, shape, dtype);

  // Fast path: contiguous inputs that are either full-size or a single element need one flat loop.
  const size = result.size;
  if (isContiguous(result) && isContiguous(a) && isContiguous(b)) {
    const aStep = sizeEquals(a.shape, size) ? 1 : sizeEquals(a.shape, 1) ? 0 : -1;
    const bStep = sizeEquals(b.shape, size) ? 1 : sizeEquals(b.shape, 1) ? 0 : -1;
    if (aStep >= 0 && bStep >= 0) {
      row(size, a.data, a.offset, aStep, b.data, b.offset, bStep, result.data, result.offset, 1);
      return result;
    }
  }

  const aStrides = broadcastStrides(kernel, a, shape);
  const bStrides = broadcastStrides(kernel, b, shape);
  forEachRow(
    shape,
    { offsets: [a.offset, b.offset, result.offset], strides: [aStrides, bStrides, result.stride] },
    (starts, n, steps) =>
      row(n, a.data, starts[0], steps[0], b.data, starts[1], steps[1], result.data, starts[2], steps[2]),
  );
  return result;
}

function sizeEquals(shape: readonly number[], size: number): boolean {
  let product = 1;
  for (const dim of shape) product *= dim;
  return product === size;
}

/** a + b. */
export function add<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('add', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] + y[yi];
  }, a, b, out);
}

/** a - b. */
export function sub<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('sub', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] - y[yi];
  }, a, b, out);
}

/** a * b. */
export function mul<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('mul', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] * y[yi];
  }, a, b, out);
}

/** a / b, with IEEE rules: 1/0 is Infinity and 0/0 is NaN. */
export function div<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('div', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] / y[yi];
  }, a, b, out);
}

/** a ** b, with math.pow's rules (a negative base with a non-integer exponent gives NaN). */
export function pow<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('pow', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = math.pow(x[xi], y[yi]);
  }, a, b, out);
}

/** The larger of a and b; NaN if either is NaN, as in NumPy and PyTorch. */
export function maximum<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('maximum', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = math.max(x[xi], y[yi]);
  }, a, b, out);
}

/** The smaller of a and b; NaN if either is NaN. */
export function minimum<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('minimum', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = math.min(x[xi], y[yi]);
  }, a, b, out);
}

/** 1 where a == b, else 0. */
export function equal<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('equal', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] === y[yi] ? 1 : 0;
  }, a, b, out);
}

/** 1 where a != b, else 0 (1 wherever either is NaN). */
export function notEqual<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('notEqual', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] !== y[yi] ? 1 : 0;
  }, a, b, out);
}

/** 1 where a > b, else 0. */
export function greater<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('greater', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] > y[yi] ? 1 : 0;
  }, a, b, out);
}

/** 1 where a >= b, else 0. */
export function greaterEqual<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('greaterEqual', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] >= y[yi] ? 1 : 0;
  }, a, b, out);
}

/** 1 where a < b, else 0. */
export function less<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('less', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] < y[yi] ? 1 : 0;
  }, a, b, out);
}

/** 1 where a <= b, else 0. */
export function lessEqual<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('lessEqual', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] <= y[yi] ? 1 : 0;
  }, a, b, out);
}

/**
 * The gradient of relu: `grad` where `x` > 0 and 0 elsewhere (also at x = 0), in one pass.
 * PyTorch calls this threshold_backward.
 */
export function reluBackward<T extends FloatArray>(grad: StridedView<T>, x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('reluBackward', (n, g, gi, gs, v, vi, vs, o, oi, os) => {
    for (let k = 0; k < n; k++, gi += gs, vi += vs, oi += os) {
      // Branch-free as in relu: the product is NaN only when grad is NaN or infinite, and then
      // the branch gives exactly grad where x > 0 and 0 elsewhere.
      const passes = v[vi] > 0;
      const product = g[gi] * +passes + 0;
      o[oi] = product === product ? product : passes ? g[gi] : 0;
    }
  }, grad, x, out);
}

/**
 * Selects `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three.
 * The condition may be any numeric view (a comparison result, or a Uint8Array mask).
 *
 * where([1, 0], [1, 2], [10, 20]) is [1, 20].
 */
export function where<T extends FloatArray>(
  condition: StridedView<ArrayLike<number>>,
  a: StridedView<T>,
  b: StridedView<T>,
  out?: NdArray<T>,
): NdArray<T> {
  const kernel = 'where';
  const dtype = commonDtype(kernel, { a, b });
  const shape = broadcastShapes(kernel, condition.shape, a.shape, b.shape);
  const result = out ?? zerosView<T>(dtype, shape);
  if (out) checkOut(kernel, out, shape, dtype);

  const cond = condition.data;
  const x = a.data;
  const y = b.data;
  const o = result.data;
  forEachRow(
    shape,
    {
      offsets: [condition.offset, a.offset, b.offset, result.offset],
      strides: [
        broadcastStrides(kernel, condition, shape),
        broadcastStrides(kernel, a, shape),
        broadcastStrides(kernel, b, shape),
        result.stride,
      ],
    },
    (starts, n, steps) => {
      let [ci, xi, yi, oi] = starts;
      const [cs, xs, ys, os] = steps;
      for (let k = 0; k < n; k++, ci += cs, xi += xs, yi += ys, oi += os) {
        o[oi] = cond[ci] !== 0 ? x[xi] : y[yi];
      }
    },
  );
  return result;
}

/**
 * Converts a float view to the other float dtype, or copies it when the dtype is the same,
 * into `out` (of the target dtype) when given. float64 to float32 rounds to nearest.
 */
export function cast(x: StridedView, dtype: 'float32', out?: NdArray<Float32Array>): NdArray<Float32Array>;
export function cast(x: StridedView, dtype: 'float64', out?: NdArray<Float64Array>): NdArray<Float64Array>;
export function cast(x: StridedView, dtype: 'float32' | 'float64', out?: NdArray<FloatArray>): NdArray<FloatArray>;
export function cast(x: StridedView, dtype: 'float32' | 'float64', out?: NdArray<FloatArray>): NdArray<FloatArray> {
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new KernelError('cast', `unsupported dtype '${String(dtype)}' for shape ${formatShape(x.shape)}; use 'float32' or 'float64'`);
  }
  dtypeOf(x, 'cast');
  const result = out ?? zerosView<FloatArray>(dtype, x.shape);
  if (out) checkOut('cast', out, x.shape, dtype);
  const src = x.data;
  const dst = result.data;
  forEachRow(x.shape, { offsets: [x.offset, result.offset], strides: [x.stride, result.stride] }, (starts, n, steps) => {
    let [xi, oi] = starts;
    const [xs, os] = steps;
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = src[xi];
  });
  return result;
}
