/**
 * Elementwise functions of two inputs with NumPy broadcasting: out[i] = f(a[i], b[i]) after both
 * inputs are broadcast to a common shape (see broadcast.ts).
 *
 * As in unary.ts, each function is a row loop over `n` elements with one index and step per
 * operand; a broadcast operand simply has step 0. Comparisons return 1 for true and 0 for false
 * in the inputs' dtype, so a mask can multiply a gradient directly.
 *
 * add, sub, mul and subScaled take rows of unit steps four elements per iteration, and finish
 * with the general loop. mul also does so when its second operand is a scalar (step 0). V8
 * does not unroll loops, and its checks in every iteration cost as much as the arithmetic. A
 * float32 add took 2.2 ns per element unrolled against 3.9 rolled, on the 2-core AMD EPYC
 * this was measured on.
 *
 * On the WebAssembly backend, float32 add, sub, mul, div, subScaled and reluBackward over such
 * blocks run as SIMD kernels (wasm/elementwise-kernels.ts) from 2,048 elements, with the same
 * values (a NaN result may differ in its sign bit).
 */
import type { NdArray } from 'ndarray';
import { broadcastShapes, broadcastStrides } from './broadcast';
import { type BroadcastBlocks, broadcastBlocks } from './broadcast-blocks';
import { wasmBackendForElements } from './backend';
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
  vector?: VectorKernel,
): NdArray<T> {
  const dtype = pairDtype(kernel, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(kernel, a.shape, b.shape);
  const result = out ?? zerosView<T>(dtype, shape);
  if (out) checkOut(kernel, out, shape, dtype);

  const blocks = isContiguous(result) ? operandBlocks(a, b, result.shape) : undefined;
  if (blocks !== undefined) {
    const ranOnWasm = vector !== undefined && runVector(vector, a, b, result, blocks);
    if (!ranOnWasm) mapBlocks(row, a, b, result, blocks);
    return result;
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

/** The blocks of both operands of a contiguous result, when mapBlocks can walk them. */
interface OperandBlocks {
  a: BroadcastBlocks;
  b: BroadcastBlocks;
  /** The blocks of the operand that repeats, or of both when neither does. */
  shared: BroadcastBlocks;
}

/**
 * Returns the blocks of `a` and `b` in a contiguous result of `shape`. One operand must be
 * full-size and the other full-size or broadcast in blocks, else the result is undefined.
 */
function operandBlocks(a: StridedView<FloatArray>, b: StridedView<FloatArray>, shape: readonly number[]): OperandBlocks | undefined {
  const aBlocks = broadcastBlocks(a, shape);
  const bBlocks = broadcastBlocks(b, shape);
  if (aBlocks === undefined || bBlocks === undefined) return undefined;
  if (aBlocks.repeat !== 1 && bBlocks.repeat !== 1) return undefined;
  return { a: aBlocks, b: bBlocks, shared: aBlocks.repeat === 1 ? bBlocks : aBlocks };
}

/**
 * Runs `row` over a contiguous result in the blocks of broadcastBlocks. Each block is one row
 * call, so a bias [N] added to [B, M, N] takes B * M calls of N elements, and a scalar takes
 * one call with step 0.
 */
function mapBlocks<T extends FloatArray>(row: BinaryRow, a: StridedView<T>, b: StridedView<T>, result: NdArray<T>, blocks: OperandBlocks): void {
  // The operand with repeat 1 reads the result's flat index; the other one its own blocks.
  const aFull = blocks.a.repeat === 1;
  const bFull = blocks.b.repeat === 1;
  const { outer, repeat, inner } = blocks.shared;
  const out = result.data;

  if (inner === 1) {
    // Each element of the broadcast operand covers `repeat` adjacent results: one call with step 0.
    const aStep = aFull ? 1 : 0;
    const bStep = bFull ? 1 : 0;
    for (let o = 0; o < outer; o++) {
      const flat = o * repeat;
      const aStart = a.offset + (aFull ? flat : o);
      const bStart = b.offset + (bFull ? flat : o);
      row(repeat, a.data, aStart, aStep, b.data, bStart, bStep, out, result.offset + flat, 1);
    }
    return;
  }

  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < repeat; r++) {
      const flat = (o * repeat + r) * inner;
      const aStart = a.offset + (aFull ? flat : o * inner);
      const bStart = b.offset + (bFull ? flat : o * inner);
      row(inner, a.data, aStart, 1, b.data, bStart, 1, out, result.offset + flat, 1);
    }
  }
}

/** A kernel of the WebAssembly backend (wasm/elementwise-kernels.ts) and its float32 parameter. */
interface VectorKernel {
  name: string;
  scalar?: number;
}

/**
 * Runs `vector` over the blocks of a float32 result on the WebAssembly backend, when that
 * backend is selected and the result has at least wasmElementwise.minElements elements (see
 * ../backend.ts). Returns whether it ran.
 */
function runVector(vector: VectorKernel, a: StridedView<FloatArray>, b: StridedView<FloatArray>, result: NdArray<FloatArray>, blocks: OperandBlocks): boolean {
  const wasm = wasmBackendForElements(result.data, result.size);
  if (wasm === undefined) return false;
  const operand = (view: StridedView<FloatArray>, own: BroadcastBlocks) => ({ data: view.data as Float32Array, offset: view.offset, full: own.repeat === 1 });
  return wasm.binaryBlocks(vector.name, operand(a, blocks.a), operand(b, blocks.b), result.data as Float32Array, result.offset, blocks.shared, vector.scalar);
}

/** a + b. */
export function add<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('add', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    let k = 0;
    if (xs === 1 && ys === 1 && os === 1) {
      for (; k + 4 <= n; k += 4, xi += 4, yi += 4, oi += 4) {
        o[oi] = x[xi] + y[yi];
        o[oi + 1] = x[xi + 1] + y[yi + 1];
        o[oi + 2] = x[xi + 2] + y[yi + 2];
        o[oi + 3] = x[xi + 3] + y[yi + 3];
      }
    }
    for (; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] + y[yi];
  }, a, b, out, { name: 'add' });
}

/** a - b. */
export function sub<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('sub', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    let k = 0;
    if (xs === 1 && ys === 1 && os === 1) {
      for (; k + 4 <= n; k += 4, xi += 4, yi += 4, oi += 4) {
        o[oi] = x[xi] - y[yi];
        o[oi + 1] = x[xi + 1] - y[yi + 1];
        o[oi + 2] = x[xi + 2] - y[yi + 2];
        o[oi + 3] = x[xi + 3] - y[yi + 3];
      }
    }
    for (; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] - y[yi];
  }, a, b, out, { name: 'sub' });
}

/**
 * a - alpha * b for a number alpha, in one pass. alpha and alpha * b are rounded to the inputs'
 * dtype before the subtraction, so the result equals sub(a, mul(b, alpha)) with alpha as a
 * scalar of that dtype, bit for bit.
 *
 * subScaled([1, 2], [10, 20], 0.5) is [-4, -8].
 */
export function subScaled<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, alpha: number, out?: NdArray<T>): NdArray<T> {
  return mapBinary('subScaled', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    if (o instanceof Float32Array) {
      subScaledFloat32(n, x, xi, xs, y, yi, ys, o, oi, os, math.fround(alpha));
      return;
    }
    let k = 0;
    if (xs === 1 && ys === 1 && os === 1) {
      for (; k + 4 <= n; k += 4, xi += 4, yi += 4, oi += 4) {
        o[oi] = x[xi] - alpha * y[yi];
        o[oi + 1] = x[xi + 1] - alpha * y[yi + 1];
        o[oi + 2] = x[xi + 2] - alpha * y[yi + 2];
        o[oi + 3] = x[xi + 3] - alpha * y[yi + 3];
      }
    }
    for (; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] - alpha * y[yi];
  }, a, b, out, { name: 'subScaled', scalar: alpha });
}

/** Runs the float32 row of subScaled, rounding `scale * y` to float32 as mul stores it. */
function subScaledFloat32(
  n: number,
  x: FloatArray, xi: number, xs: number,
  y: FloatArray, yi: number, ys: number,
  o: Float32Array, oi: number, os: number,
  scale: number,
): void {
  const round = math.fround;
  let k = 0;
  if (xs === 1 && ys === 1 && os === 1) {
    for (; k + 4 <= n; k += 4, xi += 4, yi += 4, oi += 4) {
      o[oi] = x[xi] - round(scale * y[yi]);
      o[oi + 1] = x[xi + 1] - round(scale * y[yi + 1]);
      o[oi + 2] = x[xi + 2] - round(scale * y[yi + 2]);
      o[oi + 3] = x[xi + 3] - round(scale * y[yi + 3]);
    }
  }
  for (; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] - round(scale * y[yi]);
}

/** a * b. */
export function mul<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('mul', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    let k = 0;
    if (xs === 1 && ys === 1 && os === 1) {
      for (; k + 4 <= n; k += 4, xi += 4, yi += 4, oi += 4) {
        o[oi] = x[xi] * y[yi];
        o[oi + 1] = x[xi + 1] * y[yi + 1];
        o[oi + 2] = x[xi + 2] * y[yi + 2];
        o[oi + 3] = x[xi + 3] * y[yi + 3];
      }
    }
    // Scaling by a scalar, as gradients often are, reads it once.
    if (xs === 1 && ys === 0 && os === 1) {
      const scale = y[yi];
      for (; k + 4 <= n; k += 4, xi += 4, oi += 4) {
        o[oi] = x[xi] * scale;
        o[oi + 1] = x[xi + 1] * scale;
        o[oi + 2] = x[xi + 2] * scale;
        o[oi + 3] = x[xi + 3] * scale;
      }
    }
    for (; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] * y[yi];
  }, a, b, out, { name: 'mul' });
}

/** a / b, with IEEE rules: 1/0 is Infinity and 0/0 is NaN. */
export function div<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  return mapBinary('div', (n, x, xi, xs, y, yi, ys, o, oi, os) => {
    for (let k = 0; k < n; k++, xi += xs, yi += ys, oi += os) o[oi] = x[xi] / y[yi];
  }, a, b, out, { name: 'div' });
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
    if (gs === 1 && vs === 1 && os === 1 && n >= BIT_MASK_MIN_LENGTH && g instanceof Float32Array && o instanceof Float32Array) {
      reluBackwardFloat32(n, g, gi, v, vi, o, oi);
      return;
    }
    for (let k = 0; k < n; k++, gi += gs, vi += vs, oi += os) {
      // Branch-free as in relu: the product is NaN only when grad is NaN or infinite, and then
      // the branch gives exactly grad where x > 0 and 0 elsewhere.
      const passes = v[vi] > 0;
      const product = g[gi] * +passes + 0;
      o[oi] = product === product ? product : passes ? g[gi] : 0;
    }
  }, grad, x, out, { name: 'reluBackward' });
}

/**
 * Below this many elements a row of reluBackward skips the integer views. Creating them costs
 * about as much as 30 elements of the float loop, which is an estimate, not a measurement.
 */
const BIT_MASK_MIN_LENGTH = 32;

/**
 * Computes reluBackward over contiguous float32 rows by bits: each result is grad's bit pattern
 * ANDed with all ones where x > 0 and with zeros elsewhere. This has no branch and no multiply,
 * and took 2.9 ns per element, unrolled, against 9.5 for the float loop on the 2-core AMD EPYC
 * this was measured on. It gives the float loop's values, NaN where x > 0 included. The mask
 * alone would keep the sign of a -0 gradient, so -0 becomes +0, as the float loop's added 0
 * does.
 */
function reluBackwardFloat32(n: number, grad: Float32Array, gi: number, x: FloatArray, xi: number, out: Float32Array, oi: number): void {
  const gradBits = new Int32Array(grad.buffer, grad.byteOffset + 4 * gi, n);
  const outBits = new Int32Array(out.buffer, out.byteOffset + 4 * oi, n);
  // Four elements per iteration: in a micro-benchmark here, unrolling took a float32 add from 3.9 to 2.2 ns per element.
  let k = 0;
  for (; k + 4 <= n; k += 4, xi += 4) {
    outBits[k] = maskedBits(gradBits[k], x[xi]);
    outBits[k + 1] = maskedBits(gradBits[k + 1], x[xi + 1]);
    outBits[k + 2] = maskedBits(gradBits[k + 2], x[xi + 2]);
    outBits[k + 3] = maskedBits(gradBits[k + 3], x[xi + 3]);
  }
  for (; k < n; k++, xi++) outBits[k] = maskedBits(gradBits[k], x[xi]);
}

/** Returns the bits of a float32 gradient where x > 0 and of +0 elsewhere, with -0 as +0. */
function maskedBits(gradBits: number, x: number): number {
  const bits = gradBits & -(x > 0);
  return bits === NEGATIVE_ZERO_BITS ? 0 : bits;
}

/** The bit pattern of float32 -0 read as an Int32. */
const NEGATIVE_ZERO_BITS = -2147483648;

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
