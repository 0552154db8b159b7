/**
 * 2-D max and average pooling in NCHW layout, and their gradients.
 *
 * Output size per spatial axis, as in PyTorch, with span = dilation * (kernel - 1) + 1:
 *   out = floor((in + 2 * padding - span) / stride) + 1      (ceil instead of floor with ceilMode)
 * With ceilMode, a last window that would start in the right or bottom padding is dropped, so
 * every window covers at least one input element.
 */
import ndarray, { type NdArray } from 'ndarray';
import { checkOut, KernelError } from './errors';
import { type Pair } from './conv-geometry';
import { fill } from './unary';
import { type FloatArray, type StridedView, contiguousStrides, dtypeOf, formatShape, sizeOf, zerosView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;
const { isInteger } = Number;

/** Options of max pooling; average pooling takes the same except dilation. */
export interface Pool2dOptions {
  /** Window size, in pixels. */
  kernelSize: Pair;
  /** Step between windows. Default: the kernel size. */
  stride?: Pair;
  /** Implicit padding on each side, at most half the kernel size. Default 0. */
  padding?: Pair;
  /** Spacing between window taps (max pooling only). Default 1. */
  dilation?: Pair;
  /** Use ceil instead of floor for the output size. Default false. */
  ceilMode?: boolean;
}

/** Options of average pooling. */
export interface AvgPool2dOptions extends Omit<Pool2dOptions, 'dilation'> {
  /** Count padded zeros in the divisor. Default true, as in PyTorch. */
  countIncludePad?: boolean;
}

interface PoolGeometry {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  outHeight: number;
  outWidth: number;
}

function pair(kernel: string, name: string, value: Pair | undefined, fallback: readonly [number, number], minimum: number): [number, number] {
  const resolved: readonly number[] = value === undefined ? fallback : typeof value === 'number' ? [value, value] : value;
  if (resolved.length !== 2 || resolved.some((v) => !isInteger(v) || v < minimum)) {
    throw new KernelError(kernel, `${name} must be an integer >= ${minimum} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return [resolved[0], resolved[1]];
}

function outputSize(input: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode: boolean): number {
  const span = dilation * (kernel - 1) + 1;
  const room = input + 2 * padding - span;
  let size = (ceilMode ? math.ceil(room / stride) : math.floor(room / stride)) + 1;
  if (ceilMode && (size - 1) * stride >= input + padding) size--;
  return size;
}

function poolGeometry(kernel: string, shape: readonly number[], options: Pool2dOptions): PoolGeometry {
  if (shape.length !== 4) {
    throw new KernelError(kernel, `input must be 4-D [N, C, H, W], got ${formatShape(shape)}`);
  }
  const [batch, channels, height, width] = shape;
  const [kernelH, kernelW] = pair(kernel, 'kernelSize', options.kernelSize, [0, 0], 1);
  const [strideH, strideW] = pair(kernel, 'stride', options.stride, [kernelH, kernelW], 1);
  const [padH, padW] = pair(kernel, 'padding', options.padding, [0, 0], 0);
  const [dilationH, dilationW] = pair(kernel, 'dilation', options.dilation, [1, 1], 1);
  if (2 * padH > kernelH || 2 * padW > kernelW) {
    throw new KernelError(kernel, `padding ${JSON.stringify(options.padding)} must be at most half the kernel size ${JSON.stringify(options.kernelSize)} (input ${formatShape(shape)})`);
  }

  const ceilMode = options.ceilMode ?? false;
  const outHeight = outputSize(height, kernelH, strideH, padH, dilationH, ceilMode);
  const outWidth = outputSize(width, kernelW, strideW, padW, dilationW, ceilMode);
  if (outHeight < 1 || outWidth < 1) {
    throw new KernelError(kernel, `input ${formatShape(shape)} is smaller than the pooling window ${JSON.stringify(options.kernelSize)} with padding ${JSON.stringify(options.padding ?? 0)}, so the output would be empty`);
  }
  return { batch, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outHeight, outWidth };
}

/** Throws unless `view`, the argument called `name`, has the shape of the pooling output. */
function checkGradShape(kernel: string, name: string, view: StridedView<ArrayLike<number>>, geometry: PoolGeometry): void {
  const expected = [geometry.batch, geometry.channels, geometry.outHeight, geometry.outWidth];
  if (view.shape.length !== 4 || expected.some((dim, i) => dim !== view.shape[i])) {
    throw new KernelError(kernel, `${name} has shape ${formatShape(view.shape)} but pooling input [${geometry.batch}, ${geometry.channels}, ${geometry.height}, ${geometry.width}] gives ${formatShape(expected)}`);
  }
}

/** Maximum of each window, and where it was. */
export interface MaxPoolResult<T extends FloatArray> {
  values: NdArray<T>;
  /** For each output, the flat index `ih * W + iw` of its maximum within the input plane (n, c), as PyTorch returns it. */
  indices: NdArray<Int32Array>;
}

/**
 * Max pooling, writing the values into `out` when given (the indices are always new). Padding never wins: padded positions are skipped, not read as zeros. Among tied
 * values the first in row-major window order wins, and the gradient goes to it alone. NaN wins
 * over numbers.
 */
export function maxPool2d<T extends FloatArray>(x: StridedView<T>, options: Pool2dOptions, out?: NdArray<T>): MaxPoolResult<T> {
  const kernel = 'maxPool2d';
  const dtype = dtypeOf(x, kernel);
  const g = poolGeometry(kernel, x.shape, options);
  const shape = [g.batch, g.channels, g.outHeight, g.outWidth];
  const values = out ?? zerosView<T>(dtype, shape);
  if (out) checkOut(kernel, out, shape, dtype);
  const indices = ndarray(new Int32Array(sizeOf(shape)), shape, contiguousStrides(shape), 0);
  const [sN, sC, sH, sW] = x.stride;
  const [vN, vC, vH, vW] = values.stride;
  const src = x.data;

  if (windowsInside(g)) {
    maxPoolInside(g, x, values, indices);
    return { values, indices };
  }

  let o = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = x.offset + n * sN + c * sC;
      for (let oh = 0; oh < g.outHeight; oh++) {
        for (let ow = 0; ow < g.outWidth; ow++, o++) {
          let best = -Infinity;
          let bestIndex = -1;
          for (let kh = 0; kh < g.kernelH; kh++) {
            const ih = oh * g.strideH - g.padH + kh * g.dilationH;
            if (ih < 0 || ih >= g.height) continue;
            for (let kw = 0; kw < g.kernelW; kw++) {
              const iw = ow * g.strideW - g.padW + kw * g.dilationW;
              if (iw < 0 || iw >= g.width) continue;
              const v = src[plane + ih * sH + iw * sW];
              if (v > best || bestIndex < 0 || (v !== v && best === best)) {
                best = v;
                bestIndex = ih * g.width + iw;
              }
            }
          }
          values.data[values.offset + n * vN + c * vC + oh * vH + ow * vW] = best;
          indices.data[o] = bestIndex;
        }
      }
    }
  }
  return { values, indices };
}

/** Whether every window lies wholly inside the input, so that no tap needs a bounds check. */
function windowsInside(g: PoolGeometry): boolean {
  const lastRow = (g.outHeight - 1) * g.strideH + g.dilationH * (g.kernelH - 1);
  const lastColumn = (g.outWidth - 1) * g.strideW + g.dilationW * (g.kernelW - 1);
  return g.padH === 0 && g.padW === 0 && lastRow < g.height && lastColumn < g.width;
}

/**
 * Max pooling when every window lies inside the input (no padding, as in most CNNs): the same
 * rule as the general loop, first maximum wins and NaN wins, without bounds checks.
 */
function maxPoolInside<T extends FloatArray>(g: PoolGeometry, x: StridedView<T>, values: StridedView<T>, indices: StridedView<Int32Array>): void {
  const [sN, sC, sH, sW] = x.stride;
  const [vN, vC, vH, vW] = values.stride;
  const src = x.data;
  const tapH = g.dilationH * sH;
  const tapW = g.dilationW * sW;
  let o = 0;

  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = x.offset + n * sN + c * sC;
      const target = values.offset + n * vN + c * vC;
      for (let oh = 0; oh < g.outHeight; oh++) {
        for (let ow = 0; ow < g.outWidth; ow++, o++) {
          const corner = plane + oh * g.strideH * sH + ow * g.strideW * sW;
          let best = src[corner];
          let bestTap = 0;
          for (let kh = 0, tap = 0; kh < g.kernelH; kh++) {
            for (let kw = 0; kw < g.kernelW; kw++, tap++) {
              const v = src[corner + kh * tapH + kw * tapW];
              if (v > best || (v !== v && best === best)) {
                best = v;
                bestTap = tap;
              }
            }
          }
          const kh = (bestTap / g.kernelW) | 0;
          const kw = bestTap - kh * g.kernelW;
          values.data[target + oh * vH + ow * vW] = best;
          indices.data[o] = (oh * g.strideH + kh * g.dilationH) * g.width + ow * g.strideW + kw * g.dilationW;
        }
      }
    }
  }
}

/**
 * Gradient of max pooling: each output gradient is added to the input position its window
 * took the maximum from. `indices` comes from `maxPool2d`.
 */
export function maxPool2dBackward<T extends FloatArray>(
  gradOutput: StridedView<T>,
  indices: StridedView<Int32Array>,
  inputShape: readonly number[],
  options: Pool2dOptions,
  out?: NdArray<T>,
): NdArray<T> {
  const kernel = 'maxPool2dBackward';
  const dtype = dtypeOf(gradOutput, kernel);
  const g = poolGeometry(kernel, inputShape, options);
  checkGradShape(kernel, 'gradOutput', gradOutput, g);
  checkGradShape(kernel, 'indices', indices, g);
  const result = out ?? zerosView<T>(dtype, inputShape);
  if (out) {
    checkOut(kernel, out, inputShape, dtype);
    fill(out, 0);
  }
  const [dN, dC, dH, dW] = gradOutput.stride;
  const [iN, iC, iH, iW] = indices.stride;
  const [rN, rC, rH, rW] = result.stride;
  // With row-major planes in the result, an index is the offset within its plane.
  const planeIsRowMajor = rW === 1 && rH === g.width;

  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = result.offset + n * rN + c * rC;
      for (let oh = 0; oh < g.outHeight; oh++) {
        for (let ow = 0; ow < g.outWidth; ow++) {
          const index = indices.data[indices.offset + n * iN + c * iC + oh * iH + ow * iW];
          if (index < 0) continue;
          const gradient = gradOutput.data[gradOutput.offset + n * dN + c * dC + oh * dH + ow * dW];
          if (planeIsRowMajor) {
            result.data[plane + index] += gradient;
            continue;
          }
          const ih = math.floor(index / g.width);
          const iw = index - ih * g.width;
          result.data[plane + ih * rH + iw * rW] += gradient;
        }
      }
    }
  }
  return result;
}

/** Start, end and divisor of one average-pooling window along one axis pair, as PyTorch computes them. */
function averageWindows(g: PoolGeometry, countIncludePad: boolean, visit: (o: number, h0: number, h1: number, w0: number, w1: number, divisor: number) => void): void {
  let o = 0;
  for (let oh = 0; oh < g.outHeight; oh++) {
    for (let ow = 0; ow < g.outWidth; ow++, o++) {
      let h0 = oh * g.strideH - g.padH;
      let w0 = ow * g.strideW - g.padW;
      let h1 = math.min(h0 + g.kernelH, g.height + g.padH);
      let w1 = math.min(w0 + g.kernelW, g.width + g.padW);
      const paddedCount = (h1 - h0) * (w1 - w0);
      h0 = math.max(h0, 0);
      w0 = math.max(w0, 0);
      h1 = math.min(h1, g.height);
      w1 = math.min(w1, g.width);
      const divisor = countIncludePad ? paddedCount : (h1 - h0) * (w1 - w0);
      visit(o, h0, h1, w0, w1, divisor);
    }
  }
}

/**
 * Average pooling. With `countIncludePad` (the default) padded zeros count in the divisor;
 * windows that reach past the input into ceil-mode overhang do not.
 */
export function avgPool2d<T extends FloatArray>(x: StridedView<T>, options: AvgPool2dOptions, out?: NdArray<T>): NdArray<T> {
  const kernel = 'avgPool2d';
  const dtype = dtypeOf(x, kernel);
  const g = poolGeometry(kernel, x.shape, { ...options, dilation: 1 });
  const shape = [g.batch, g.channels, g.outHeight, g.outWidth];
  const result = out ?? zerosView<T>(dtype, shape);
  if (out) checkOut(kernel, out, shape, dtype);
  const [sN, sC, sH, sW] = x.stride;
  const [rN, rC, rH, rW] = result.stride;
  const planeSize = g.outWidth;

  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = x.offset + n * sN + c * sC;
      const target = result.offset + n * rN + c * rC;
      averageWindows(g, options.countIncludePad ?? true, (o, h0, h1, w0, w1, divisor) => {
        let total = 0;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) total += x.data[plane + ih * sH + iw * sW];
        }
        const oh = math.floor(o / planeSize);
        const ow = o - oh * planeSize;
        result.data[target + oh * rH + ow * rW] = total / divisor;
      });
    }
  }
  return result;
}

/** Gradient of average pooling: each output gradient is spread evenly over its window. */
export function avgPool2dBackward<T extends FloatArray>(
  gradOutput: StridedView<T>,
  inputShape: readonly number[],
  options: AvgPool2dOptions,
  out?: NdArray<T>,
): NdArray<T> {
  const kernel = 'avgPool2dBackward';
  const dtype = dtypeOf(gradOutput, kernel);
  const g = poolGeometry(kernel, inputShape, { ...options, dilation: 1 });
  checkGradShape(kernel, 'gradOutput', gradOutput, g);
  const result = out ?? zerosView<T>(dtype, inputShape);
  if (out) {
    checkOut(kernel, out, inputShape, dtype);
    fill(out, 0);
  }
  const [dN, dC, dH, dW] = gradOutput.stride;
  const [rN, rC, rH, rW] = result.stride;
  const planeSize = g.outWidth;

  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const source = gradOutput.offset + n * dN + c * dC;
      const plane = result.offset + n * rN + c * rC;
      averageWindows(g, options.countIncludePad ?? true, (o, h0, h1, w0, w1, divisor) => {
        const oh = math.floor(o / planeSize);
        const ow = o - oh * planeSize;
        const share = gradOutput.data[source + oh * dH + ow * dW] / divisor;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) result.data[plane + ih * rH + iw * rW] += share;
        }
      });
    }
  }
  return result;
}
