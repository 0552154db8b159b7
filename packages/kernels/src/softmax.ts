/**
 * softmax and logSoftmax along one axis, stable for any finite logits.
 *
 * Both subtract the row maximum m before exponentiating: softmax(x) = e^(x - m) / sum(e^(x - m))
 * and logSoftmax(x) = x - m - log(sum(e^(x - m))). The largest term is then e^0 = 1, so the sum
 * never overflows and is at least 1. Hence logSoftmax([1000, 0]) is exactly [0, -1000].
 *
 * A row of all -Infinity (every position masked out) has no maximum to subtract. We define its
 * softmax as all zeros and its logSoftmax as all -Infinity: the row puts no probability
 * anywhere, and other rows are unaffected. A row holding +Infinity or NaN gives NaN in that row
 * only.
 */
import type { NdArray } from 'ndarray';
import { checkOut, normalizeAxis } from './errors';
import { reductionLayout } from './reduce';
import { type FloatArray, type StridedView, dtypeOf, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

function mapRows<T extends FloatArray>(
  kernel: string,
  x: StridedView<T>,
  axis: number,
  out: NdArray<T> | undefined,
  row: (src: FloatArray, srcBase: number, srcOffsets: Int32Array, dst: FloatArray, dstBase: number, dstOffsets: Int32Array) => void,
): NdArray<T> {
  const dtype = dtypeOf(x, kernel);
  const resolved = normalizeAxis(kernel, axis, x.shape.length, x.shape);
  const result = out ?? zerosView<T>(dtype, x.shape);
  if (out) checkOut(kernel, out, x.shape, dtype);

  const input = reductionLayout(kernel, x, resolved, false);
  const output = reductionLayout(kernel, result, resolved, false);
  for (let o = 0; o < input.baseOffsets.length; o++) {
    row(x.data, input.baseOffsets[o], input.blockOffsets, result.data, output.baseOffsets[o], output.blockOffsets);
  }
  return result;
}

function rowMaximum(src: FloatArray, base: number, offsets: Int32Array): number {
  let peak = -Infinity;
  for (let j = 0; j < offsets.length; j++) {
    const v = src[base + offsets[j]];
    if (v > peak || v !== v) peak = v;
  }
  return peak;
}

/**
 * Exponentials normalised to sum to 1 along `axis` (default: the last axis).
 *
 * softmax([0, math.log(3)]) is [0.25, 0.75].
 */
export function softmax<T extends FloatArray>(x: StridedView<T>, axis = -1, out?: NdArray<T>): NdArray<T> {
  return mapRows('softmax', x, axis, out, (src, sb, so, dst, db, dOffsets) => {
    const peak = rowMaximum(src, sb, so);
    if (peak === -Infinity) {
      for (let j = 0; j < so.length; j++) dst[db + dOffsets[j]] = 0;
      return;
    }
    let total = 0;
    for (let j = 0; j < so.length; j++) {
      const e = math.exp(src[sb + so[j]] - peak);
      dst[db + dOffsets[j]] = e;
      total += e;
    }
    const scale = 1 / total;
    for (let j = 0; j < so.length; j++) dst[db + dOffsets[j]] *= scale;
  });
}

/**
 * log(softmax(x)) along `axis` (default: the last axis), without forming softmax first.
 *
 * logSoftmax([1000, 0]) is exactly [0, -1000].
 */
export function logSoftmax<T extends FloatArray>(x: StridedView<T>, axis = -1, out?: NdArray<T>): NdArray<T> {
  return mapRows('logSoftmax', x, axis, out, (src, sb, so, dst, db, dOffsets) => {
    const peak = rowMaximum(src, sb, so);
    if (peak === -Infinity) {
      for (let j = 0; j < so.length; j++) dst[db + dOffsets[j]] = -Infinity;
      return;
    }
    let total = 0;
    for (let j = 0; j < so.length; j++) total += math.exp(src[sb + so[j]] - peak);
    const logTotal = math.log(total);
    for (let j = 0; j < so.length; j++) dst[db + dOffsets[j]] = src[sb + so[j]] - peak - logTotal;
  });
}
