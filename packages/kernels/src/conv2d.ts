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
 *
 * With the 'wasm' backend (backend.ts), the column matrices, the filters and the products of a
 * float32 call live in WebAssembly memory, so that the GEMMs read and write them in place.
 */
import ndarray, { type NdArray } from 'ndarray';
import { type Conv2dOptions, type ConvGeometry, convGeometry } from './conv-geometry';
import { wasmBackendFor } from './backend';
import { checkOut, commonDtype, KernelError } from './errors';
import { gemm } from './gemm';
import { col2im, im2col } from './im2col';
import { copy, fill } from './unary';
import { type Dtype, type FloatArray, type StridedView, allocateData, formatShape, isContiguous, sizeOf, viewOf, zerosView } from './view';
import type { WasmBackend } from './wasm/wasm-backend';

export type { Conv2dOptions } from './conv-geometry';

/**
 * Allocates the scratch buffers of one convolution, all at once: typed arrays, or views of
 * WebAssembly memory when `wasm` is given (inside its withArena).
 */
function allocateScratch(dtype: Dtype, sizes: readonly number[], wasm: WasmBackend | undefined): FloatArray[] {
  return wasm ? wasm.scratch(sizes) : sizes.map((size) => allocateData(dtype, size));
}

/**
 * Runs `body` on the WebAssembly backend, inside its arena, when that backend takes float32
 * products of `macs` multiply-adds and `scratchFloats` fit in its memory. Otherwise `body` runs
 * the TypeScript loops and gets `undefined` for the backend.
 */
function withBackend(result: StridedView, macs: number, scratchFloats: number, body: (wasm: WasmBackend | undefined) => void): void {
  const wasm = wasmBackendFor(result.data, macs);
  if (wasm && wasm.fits(scratchFloats)) wasm.withArena(() => body(wasm));
  else body(undefined);
}

/**
 * Copies between a y-shaped view [N, F, OH, OW] and a contiguous channel-major buffer
 * [F, N, OH, OW]: into the buffer when `toBuffer`, else out of it. Each image's OH x OW plane is
 * copied whole when the view stores it contiguously.
 */
function transferChannelMajor(view: StridedView, buffer: FloatArray, geometry: ConvGeometry, toBuffer: boolean): void {
  const { batch, outChannels, outHeight, outWidth } = geometry;
  const [sN, sF, sH, sW] = view.stride;
  const plane = outHeight * outWidth;

  if (sW === 1 && (sH === outWidth || outHeight === 1)) {
    for (let f = 0; f < outChannels; f++) {
      for (let n = 0; n < batch; n++) {
        const at = view.offset + n * sN + f * sF;
        const position = (f * batch + n) * plane;
        if (toBuffer) buffer.set(view.data.subarray(at, at + plane), position);
        else view.data.set(buffer.subarray(position, position + plane), at);
      }
    }
    return;
  }

  const shape = [outChannels, batch, outHeight, outWidth];
  const permuted = ndarray(view.data, shape, [sF, sN, sH, sW], view.offset);
  if (toBuffer) copy(permuted, viewOf(buffer, shape));
  else copy(viewOf(buffer, shape), permuted);
}

/**
 * Filters as a contiguous [F, K] buffer: a copy in `buffer` when one is given, else `w` itself.
 * A buffer is needed when `w` is strided, and for the 'wasm' backend, which reads the filters
 * from WebAssembly memory.
 */
function contiguousFilters(w: StridedView, buffer: FloatArray | undefined): { data: FloatArray; offset: number } {
  if (buffer === undefined) return { data: w.data, offset: w.offset };
  copyInto(w, buffer);
  return { data: buffer, offset: 0 };
}

/** Size of the filter copy that contiguousFilters needs: 0 when it reads `w` in place. */
function filterCopySize(w: StridedView, wasm: WasmBackend | undefined): number {
  return wasm || !isContiguous(w) ? sizeOf(w.shape) : 0;
}

/** Copies `view` into the contiguous `buffer` in row-major order. */
function copyInto(view: StridedView, buffer: FloatArray): void {
  if (isContiguous(view)) buffer.set(view.data.subarray(view.offset, view.offset + sizeOf(view.shape)));
  else copy(view, viewOf(buffer, view.shape));
}

/** Copies the contiguous `buffer` into `view`, in row-major order. */
function copyFrom(buffer: FloatArray, view: NdArray<FloatArray>): void {
  if (isContiguous(view)) view.data.set(buffer.subarray(0, sizeOf(view.shape)), view.offset);
  else copy(viewOf(buffer, view.shape), view);
}

/**
 * Fills `col` from the input for group `group`: with the WebAssembly kernel when `wasm` is given
 * and `x` is a view of its memory, else with the TypeScript loops.
 */
function fillColumns(wasm: WasmBackend | undefined, geometry: ConvGeometry, x: StridedView, group: number, col: FloatArray): void {
  if (wasm) wasm.rearrange('im2col', geometry, x.data as Float32Array, x.offset, x.stride, group, col as Float32Array);
  else im2col(geometry, x, group, col);
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
  const scratchFloats = depth * columns + outChannels * columns + sizeOf(w.shape) + sizeOf(x.shape);

  withBackend(result, groupFilters * columns * depth, scratchFloats, (wasm) => {
    // The WebAssembly kernels read a copy of x in their memory.
    const sizes = [depth * columns, outChannels * columns, filterCopySize(w, wasm), wasm ? sizeOf(x.shape) : 0];
    const [col, product, filterCopy, xCopy] = allocateScratch(dtype, sizes, wasm);
    const filters = contiguousFilters(w, filterCopy.length > 0 ? filterCopy : undefined);
    if (wasm) copyInto(x, xCopy);
    const input = wasm ? viewOf(xCopy, x.shape) : x;

    for (let g = 0; g < groups; g++) {
      fillColumns(wasm, geometry, input, g, col);
      gemm(
        groupFilters, columns, depth,
        { data: filters.data, offset: filters.offset + g * groupFilters * depth, rowStride: depth, colStride: 1 },
        { data: col, offset: 0, rowStride: columns, colStride: 1 },
        { data: product, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
        false,
      );
    }

    transferChannelMajor(result, product, geometry, false);
  });
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
  const scratchFloats = outChannels * columns + depth * columns + sizeOf(w.shape) + sizeOf(inputShape);

  withBackend(result, depth * columns * groupFilters, scratchFloats, (wasm) => {
    // The WebAssembly col2im adds into a zeroed dx in its memory, copied into the result at the end.
    const sizes = [outChannels * columns, depth * columns, filterCopySize(w, wasm), wasm ? sizeOf(inputShape) : 0];
    const [gradColumns, gradCol, filterCopy, dxCopy] = allocateScratch(dtype, sizes, wasm);
    transferChannelMajor(gradOutput, gradColumns, geometry, true);
    const filters = contiguousFilters(w, filterCopy.length > 0 ? filterCopy : undefined);
    if (wasm) dxCopy.fill(0);
    const dx = wasm ? viewOf(dxCopy, inputShape) : result;

    for (let g = 0; g < groups; g++) {
      // W_gᵀ is read in place: element (r, f) of W_gᵀ is W_g[f][r].
      gemm(
        depth, columns, groupFilters,
        { data: filters.data, offset: filters.offset + g * groupFilters * depth, rowStride: 1, colStride: depth },
        { data: gradColumns, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
        { data: gradCol, offset: 0, rowStride: columns, colStride: 1 },
        false,
      );
      if (wasm) wasm.rearrange('col2im', geometry, dxCopy as Float32Array, 0, dx.stride, g, gradCol as Float32Array);
      else col2im(geometry, gradCol, g, result);
    }

    if (wasm) copyFrom(dxCopy, result);
  });
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
  const result = out ?? zerosView<T>(dtype, filterShape);

  const depth = (inChannels / groups) * kernelHeight * kernelWidth;
  const columns = batch * outHeight * outWidth;
  const groupFilters = outChannels / groups;
  const scratchFloats = outChannels * columns + depth * columns + sizeOf(filterShape) + sizeOf(x.shape);

  withBackend(result, groupFilters * depth * columns, scratchFloats, (wasm) => {
    // The GEMM writes dW into a contiguous buffer: the result itself when the TypeScript loops
    // run and it is contiguous, else a scratch buffer copied into the result at the end.
    const inPlace = !wasm && isContiguous(result);
    const sizes = [outChannels * columns, depth * columns, inPlace ? 0 : outChannels * depth, wasm ? sizeOf(x.shape) : 0];
    const [gradColumns, col, product, xCopy] = allocateScratch(dtype, sizes, wasm);
    transferChannelMajor(gradOutput, gradColumns, geometry, true);
    if (wasm) copyInto(x, xCopy);
    const input = wasm ? viewOf(xCopy, x.shape) : x;
    const dw = inPlace ? { data: result.data, offset: result.offset } : { data: product, offset: 0 };

    for (let g = 0; g < groups; g++) {
      fillColumns(wasm, geometry, input, g, col);
      // colᵀ is read in place: element (q, r) of colᵀ is col[r][q].
      gemm(
        groupFilters, depth, columns,
        { data: gradColumns, offset: g * groupFilters * columns, rowStride: columns, colStride: 1 },
        { data: col, offset: 0, rowStride: 1, colStride: columns },
        { data: dw.data, offset: dw.offset + g * groupFilters * depth, rowStride: depth, colStride: 1 },
        false,
      );
    }

    if (!inPlace) copyFrom(product, result);
  });
  return result;
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
