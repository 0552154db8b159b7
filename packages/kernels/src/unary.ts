/**
 * Elementwise functions of one input: out[i] = f(x[i]).
 *
 * Each function is a row loop `(n, x, xi, xs, out, oi, os)` that applies f to `n` elements read
 * from `x` at index `xi` with step `xs` and written to `out` at `oi` with step `os`. The driver
 * `mapUnary` checks the input, allocates or checks `out`, and calls the row loop once for
 * contiguous data or once per innermost run of a strided view.
 *
 * `out` may be `x` itself (in place). Any other overlap between `x` and `out` is not supported.
 */
import type { NdArray } from 'ndarray';
import { wasmBackendForElements } from './backend';
import { checkOut } from './errors';
import { forEachRow } from './elementwise';
import { erf as erfScalar } from './special';
import { type FloatArray, type StridedView, dtypeOf, isContiguous, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

type UnaryRow = (n: number, x: FloatArray, xi: number, xs: number, out: FloatArray, oi: number, os: number) => void;

function mapUnary<T extends FloatArray>(kernel: string, row: UnaryRow, x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  const dtype = dtypeOf(x, kernel);
  const result = out ?? zerosView<T>(dtype, x.shape);
  if (out) checkOut(kernel, out, x.shape, dtype);

  if (isContiguous(x) && isContiguous(result)) {
    row(result.size, x.data, x.offset, 1, result.data, result.offset, 1);
    return result;
  }
  forEachRow(x.shape, { offsets: [x.offset, result.offset], strides: [x.stride, result.stride] }, (starts, n, steps) =>
    row(n, x.data, starts[0], steps[0], result.data, starts[1], steps[1]),
  );
  return result;
}

/** Copies `x` into `out`, or into a new contiguous array. copy of a transposed view is a transposed copy. */
export function copy<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('copy', (n, src, xi, xs, dst, oi, os) => {
    // A run of adjacent elements between arrays of one type is a block copy: copying 360k float32
    // values into a new array took 1.6 ms this way against 4.5 ms with the element loop.
    if (xs === 1 && os === 1 && src.constructor === dst.constructor) {
      dst.set(src.subarray(xi, xi + n), oi);
      return;
    }
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = src[xi];
  }, x, out);
}

/** -x. */
export function neg<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('neg', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = -src[xi];
  }, x, out);
}

/** e^x. */
export function exp<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('exp', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.exp(src[xi]);
  }, x, out);
}

/** e^x - 1, accurate for small x. */
export function expm1<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('expm1', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.expm1(src[xi]);
  }, x, out);
}

/** Natural logarithm: -Infinity at 0, NaN below 0. */
export function log<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('log', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.log(src[xi]);
  }, x, out);
}

/** log(1 + x), accurate for small x. */
export function log1p<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('log1p', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.log1p(src[xi]);
  }, x, out);
}

/** Square root: NaN below 0. */
export function sqrt<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('sqrt', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.sqrt(src[xi]);
  }, x, out);
}

/** 1 / sqrt(x): Infinity at 0. */
export function rsqrt<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('rsqrt', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = 1 / math.sqrt(src[xi]);
  }, x, out);
}

/** 1 / x. */
export function reciprocal<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('reciprocal', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = 1 / src[xi];
  }, x, out);
}

/** x * x. */
export function square<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('square', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = src[xi] * src[xi];
  }, x, out);
}

/** |x|. */
export function abs<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('abs', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.abs(src[xi]);
  }, x, out);
}

/** -1, 0 or 1 by the sign of x; 0 at -0 and NaN at NaN. */
export function sign<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('sign', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.sign(src[xi]);
  }, x, out);
}

/** sin(x), x in radians. */
export function sin<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('sin', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.sin(src[xi]);
  }, x, out);
}

/** cos(x), x in radians. */
export function cos<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('cos', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.cos(src[xi]);
  }, x, out);
}

/** Hyperbolic tangent. */
export function tanh<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('tanh', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.tanh(src[xi]);
  }, x, out);
}

/**
 * The logistic function 1 / (1 + e^-x). For x < 0 it is computed as e^x / (1 + e^x), so that
 * e^-x never overflows: sigmoid(-1000) is 0 and sigmoid(1000) is 1.
 */
export function sigmoid<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('sigmoid', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      if (v >= 0) {
        dst[oi] = 1 / (1 + math.exp(-v));
      } else {
        const e = math.exp(v);
        dst[oi] = e / (1 + e);
      }
    }
  }, x, out);
}

/** max(x, 0). NaN stays NaN. */
export function relu<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('relu', (n, src, xi, xs, dst, oi, os) => {
    const wasm = xs === 1 && os === 1 ? wasmBackendForElements(dst, n) : undefined;
    if (wasm !== undefined) {
      wasm.relu(src as Float32Array, xi, dst as Float32Array, oi, n);
      return;
    }
    if (xs === 1 && os === 1 && n >= BIT_MASK_MIN_LENGTH && src instanceof Float32Array && dst instanceof Float32Array) {
      reluFloat32(n, src, xi, dst, oi);
      return;
    }
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      // Multiplying by the comparison avoids a branch that random signs mispredict half the
      // time (3.7 times faster on the machine this was written on); adding 0 turns -0 into 0.
      // The product is NaN only for NaN or -Infinity, a rare and so well-predicted branch.
      const v = src[xi];
      const product = v * +(v > 0) + 0;
      dst[oi] = product === product ? product : v === v ? 0 : v;
    }
  }, x, out);
}

/**
 * Below this many elements a row of relu skips the integer views. Creating them costs about as
 * much as 30 elements of the float loop, which is an estimate, not a measurement.
 */
const BIT_MASK_MIN_LENGTH = 32;

/**
 * Computes relu over contiguous float32 rows on the bits alone: a value with the sign bit set
 * becomes +0 unless it is NaN, so the results are the float loop's, -0 and -Infinity giving
 * +0. With no float arithmetic it took 2.7 ns per element, unrolled, against 5.7 for the float
 * loop on the 2-core AMD EPYC this was measured on.
 */
function reluFloat32(n: number, src: Float32Array, xi: number, dst: Float32Array, oi: number): void {
  const srcBits = new Int32Array(src.buffer, src.byteOffset + 4 * xi, n);
  const dstBits = new Int32Array(dst.buffer, dst.byteOffset + 4 * oi, n);
  // Four elements per iteration: in a micro-benchmark here, unrolling took a float32 add from 3.9 to 2.2 ns per element.
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    dstBits[k] = reluBits(srcBits[k]);
    dstBits[k + 1] = reluBits(srcBits[k + 1]);
    dstBits[k + 2] = reluBits(srcBits[k + 2]);
    dstBits[k + 3] = reluBits(srcBits[k + 3]);
  }
  for (; k < n; k++) dstBits[k] = reluBits(srcBits[k]);
}

/**
 * Returns the bits of relu(x) from the bits of a float32 x. A float32 is positive exactly when
 * its bits are a positive Int32, except NaN, which any sign bit leaves NaN. bits >> 31 is all
 * ones for a set sign bit and zero otherwise.
 */
function reluBits(bits: number): number {
  return (bits & ABSOLUTE_VALUE_BITS) > INFINITY_BITS ? bits : bits & ~(bits >> 31);
}

/** The bits of a float32 apart from its sign, and the bits of Infinity: NaN is above it. */
const ABSOLUTE_VALUE_BITS = 0x7fffffff;
const INFINITY_BITS = 0x7f800000;

/** x for x > 0, and slope * x otherwise. */
export function leakyRelu<T extends FloatArray>(x: StridedView<T>, slope = 0.01, out?: NdArray<T>): NdArray<T> {
  return mapUnary('leakyRelu', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      dst[oi] = v > 0 ? v : slope * v;
    }
  }, x, out);
}

/** x for x > 0, and alpha * (e^x - 1) otherwise. */
export function elu<T extends FloatArray>(x: StridedView<T>, alpha = 1, out?: NdArray<T>): NdArray<T> {
  return mapUnary('elu', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      dst[oi] = v > 0 ? v : alpha * math.expm1(v);
    }
  }, x, out);
}

/**
 * log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so that it neither overflows for large x
 * nor loses precision for very negative x.
 */
export function softplus<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('softplus', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      dst[oi] = math.max(v, 0) + math.log1p(math.exp(-math.abs(v)));
    }
  }, x, out);
}

/** The error function, accurate to about 1e-15 (see special.ts). */
export function erf<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('erf', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = erfScalar(src[xi]);
  }, x, out);
}

/**
 * GELU with the exact Gaussian CDF, as PyTorch's default: x * (1 + erf(x / sqrt(2))) / 2.
 */
export function gelu<T extends FloatArray>(x: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapUnary('gelu', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      dst[oi] = 0.5 * v * (1 + erfScalar(v * math.SQRT1_2));
    }
  }, x, out);
}

/** min(max(x, low), high). Either bound may be omitted with -Infinity or Infinity. NaN stays NaN. */
export function clamp<T extends FloatArray>(x: StridedView<T>, low: number, high: number, out?: NdArray<T>): NdArray<T> {
  return mapUnary('clamp', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) {
      const v = src[xi];
      dst[oi] = v < low ? low : v > high ? high : v;
    }
  }, x, out);
}

/** scale * x + shift, for scalar scale and shift. */
export function affine<T extends FloatArray>(x: StridedView<T>, scale: number, shift: number, out?: NdArray<T>): NdArray<T> {
  return mapUnary('affine', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = scale * src[xi] + shift;
  }, x, out);
}

/** x^p for a scalar exponent p, with math.pow's rules for zero, negative and non-integer cases. */
export function powScalar<T extends FloatArray>(x: StridedView<T>, p: number, out?: NdArray<T>): NdArray<T> {
  return mapUnary('powScalar', (n, src, xi, xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, oi += os) dst[oi] = math.pow(src[xi], p);
  }, x, out);
}

/** Writes `value` into every element of `out` and returns it. */
export function fill<T extends FloatArray>(out: NdArray<T>, value: number): NdArray<T> {
  return mapUnary('fill', (n, _src, _xi, _xs, dst, oi, os) => {
    for (let k = 0; k < n; k++, oi += os) dst[oi] = value;
  }, out, out);
}
