/**
 * 2-D convolution in NCHW layout and its two gradients, all through im2col and GEMM.
 *
 * Shapes: input x [N, C, H, W], filters w [F, C / groups, KH, KW], output y [N, F, OH, OW].
 * Strictly this is cross-correlation, as in every deep-learning library: the filter is not
 * flipped. For each group g, with P = OH * OW output positions per image:
 *   forward         y_g [F/groups, N * P]   = W_g · col_g              (col_g = im2col(x))
 *   input gradient  dcol_g [K, N * P]       = W_gᵀ · dy_g, then dx += col2im(dcol_g)
 *   filter gradient dW_g [F/groups, K]      = dy_g · col_gᵀ
 * where K = (C / groups) * KH * KW and dy_g is the output gradient of the group's channels laid
 * out as [F/groups, N * P]. One GEMM covers the whole batch, which keeps the matrices large
 * enough for the blocked GEMM to run at full speed even on 3x3 outputs.
 */
import ndarray, { type NdArray } from 'ndarray';
import { type Conv2dOptions, type ConvGeometry, convGeometry } from './conv-geometry';
import { checkOut, commonDtype, KernelError } from './errors';
import { gemm } from './gemm';
import { col2im, im2col } from './im2col';
import { copy, fill } from './unary';
import { type FloatArray, type StridedView, allocateData, formatShape, isContiguous, viewOf, zerosView } from './view';

export type { Conv2dOptions } from './conv-geometry';

/** Copies y-shaped data [N, F, OH, OW] into channel-major order [F, N, OH, OW]. */
function toChannelMajor(view: StridedView, geometry: ConvGeometry): FloatArray {
  const { batch, outChannels, outHeight, outWidth } = geometry;
  const shape = [outChannels, batch, outHeight, outWidth];
  const [sN, sF, sH, sW] = view.stride;
  const permuted = ndarray(view.data, shape, [sF, sN, sH, sW], view.offset);
  return copy(permuted).data;
}

/** Copies channel-major data [F, N, OH, OW] into `out` [N, F, OH, OW]. */
function fromChannelMajor(data: FloatArray, geometry: ConvGeometry, out: NdArray<FloatArray>): void {
  const { batch, outChannels, outHeight, outWidth } = geometry;
  const channelMajor = viewOf(data, [outChannels, batch, outHeight, outWidth]);
  const [sN, sF, sH, sW] = out.stride;
  copy(channelMajor, ndarray(out.data, channelMajor.shape, [sF, sN, sH, sW], out.offset));
}

/** Filters as a contiguous [F, K] buffer, copying only when `w` is strided. */
function contiguousFilters(w: StridedView): { data: FloatArray; offset: number } {
  if (isContiguous(w)) return { data: w.data, offset: w.offset };
  return { data: copy(w).data, offset: 0 };
}

/**
 * Convolves `x` [N, C, H, W] with filters `w` [F, C / groups, KH, KW] and returns
 * [N, F, OH, OW]. See `Conv2dOptions` for stride, padding, dilation and groups.
 *
 * A 1x1x3x3 input of ones convolved with one 1x1x2x2 filter of ones is 1x1x2x2 of fours.
 */
export function conv2d<T extends FloatArray>(x: StridedView<T>, w: StridedView<T>, options: Conv2dOptions = {}, out?: NdArray<T>): NdArray<T> {
  const kernel = 'conv2d';
  const dtype = commonDtype(kernel, { x, w });
  const geometry = convGeometry(kernel, x.shape, w.shape, options);
  const { batch, inChannels, outChannels, kernelHeight, kernelWidth, groups, outHeight, outWidth } = geometry;
  const resultShape = [batch, outChannels, outHeight, outWidth];
  const result = out ?? zerosView<T>(dtype, resultShape);
  if (out) checkOut(kernel, out, resultShape, dtype);

  const depth = (inChannels / groups) * kernelHeight * kernelWidth;
  const columns = batch * outHeight * outWidth;
  const groupFilters = outChannels / groups;
  const col = allocateData(dtype, depth * columns);
  const product = allocateData(dtype, outChannels * columns);
  const filters = contiguousFilters(w);

  for (let g = 0; g < groups; g++) {
    im2col(geometry, x, g, col);
    gemm(
      groupFilters, columns, depth,
      { data: filters.data, offset: filters.offset + g * groupFilters * depth, rowStride: depth, colStride: 1 },
      { data: col, offset: 0, rowStride: columns, colStride: 1 },
      { data: product, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
      false,
    );
  }

  fromChannelMajor(product, geometry, result);
  return result;
}

/**
 * Gradient of conv2d with respect to its input: given dL/dy [N, F, OH, OW] and the filters,
 * returns dL/dx with shape `inputShape` [N, C, H, W]. The input shape is needed because with
 * stride > 1 several input sizes give the same output size.
 */
export function conv2dBackwardInput<T extends FloatArray>(
  gradOutput: StridedView<T>,
  w: StridedView<T>,
  inputShape: readonly number[],
  options: Conv2dOptions = {},
  out?: NdArray<T>,
): NdArray<T> {
  const kernel = 'conv2dBackwardInput';
  const dtype = commonDtype(kernel, { gradOutput, w });
  const geometry = convGeometry(kernel, inputShape, w.shape, options);
  checkGradOutput(kernel, gradOutput, geometry);
  const { batch, inChannels, outChannels, kernelHeight, kernelWidth, groups, outHeight, outWidth } = geometry;
  const result = out ?? zerosView<T>(dtype, inputShape);
  if (out) {
    checkOut(kernel, out, inputShape, dtype);
    fill(out, 0);
  }

  const depth = (inChannels / groups) * kernelHeight * kernelWidth;
  const columns = batch * outHeight * outWidth;
  const groupFilters = outChannels / groups;
  const gradColumns = toChannelMajor(gradOutput, geometry);
  const gradCol = allocateData(dtype, depth * columns);
  const filters = contiguousFilters(w);

  for (let g = 0; g < groups; g++) {
    // W_gᵀ is read in place: element (r, f) of W_gᵀ is W_g[f][r].
    gemm(
      depth, columns, groupFilters,
      { data: filters.data, offset: filters.offset + g * groupFilters * depth, rowStride: 1, colStride: depth },
      { data: gradColumns, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
      { data: gradCol, offset: 0, rowStride: columns, colStride: 1 },
      false,
    );
    col2im(geometry, gradCol, g, result);
  }
  return result;
}

/**
 * Gradient of conv2d with respect to its filters: given the input x and dL/dy, returns dL/dw
 * with shape `filterShape` [F, C / groups, KH, KW].
 */
export function conv2dBackwardFilter<T extends FloatArray>(
  x: StridedView<T>,
  gradOutput: StridedView<T>,
  filterShape: readonly number[],
  options: Conv2dOptions = {},
  out?: NdArray<T>,
): NdArray<T> {
  const kernel = 'conv2dBackwardFilter';
  const dtype = commonDtype(kernel, { x, gradOutput });
  const geometry = convGeometry(kernel, x.shape, filterShape, options);
  checkGradOutput(kernel, gradOutput, geometry);
  const { batch, inChannels, outChannels, kernelHeight, kernelWidth, groups, outHeight, outWidth } = geometry;
  if (out) checkOut(kernel, out, filterShape, dtype);
  const result = out && isContiguous(out) ? out : zerosView<T>(dtype, filterShape);

  const depth = (inChannels / groups) * kernelHeight * kernelWidth;
  const columns = batch * outHeight * outWidth;
  const groupFilters = outChannels / groups;
  const gradColumns = toChannelMajor(gradOutput, geometry);
  const col = allocateData(dtype, depth * columns);

  for (let g = 0; g < groups; g++) {
    im2col(geometry, x, g, col);
    // colᵀ is read in place: element (q, r) of colᵀ is col[r][q].
    gemm(
      groupFilters, depth, columns,
      { data: gradColumns, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
      { data: col, offset: 0, rowStride: 1, colStride: columns },
      { data: result.data, offset: result.offset + g * groupFilters * depth, rowStride: depth, colStride: 1 },
      false,
    );
  }

  if (out && out !== result) copy(result, out);
  return out ?? result;
}

function checkGradOutput(kernel: string, gradOutput: StridedView, geometry: ConvGeometry): void {
  const expected = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth];
  const matches = gradOutput.shape.length === 4 && expected.every((dim, i) => dim === gradOutput.shape[i]);
  if (!matches) {
    throw new KernelError(
      kernel,
      `gradOutput has shape ${formatShape(gradOutput.shape)} but the convolution of input [${geometry.batch}, ${geometry.inChannels}, ${geometry.height}, ${geometry.width}] ` +
        `with filters [${geometry.outChannels}, ${geometry.inChannels / geometry.groups}, ${geometry.kernelHeight}, ${geometry.kernelWidth}] gives ${formatShape(expected)}`,
    );
  }
}
