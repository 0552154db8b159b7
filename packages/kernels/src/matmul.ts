/**
 * Matrix product with NumPy's `matmul` rules: the last two axes are the matrices, and any
 * leading axes are batch axes that broadcast. A 1-D first operand is a row vector and a 1-D
 * second operand a column vector; the vector axis is removed from the result.
 */
import type { NdArray } from 'ndarray';
import { broadcastShapes, broadcastStrides } from './broadcast';
import { checkNoOverlap, checkOut, commonDtype, KernelError } from './errors';
import { forEachRow } from './elementwise';
import { gemm, gemmBatch, type Matrix } from './gemm';
import { type Dtype, type FloatArray, type StridedView, formatShape, zerosView } from './view';

/** A view seen as a batch of matrices: batch shape and strides, then rows and columns. */
interface MatrixStack {
  batchShape: number[];
  batchStrides: number[];
  rows: number;
  cols: number;
  rowStride: number;
  colStride: number;
}

function asMatrixStack(view: StridedView, vectorAs: 'row' | 'column'): MatrixStack {
  const ndim = view.shape.length;
  if (ndim === 1) {
    const [size] = view.shape;
    const [step] = view.stride;
    return vectorAs === 'row'
      ? { batchShape: [], batchStrides: [], rows: 1, cols: size, rowStride: 0, colStride: step }
      : { batchShape: [], batchStrides: [], rows: size, cols: 1, rowStride: step, colStride: 0 };
  }
  return {
    batchShape: view.shape.slice(0, ndim - 2),
    batchStrides: view.stride.slice(0, ndim - 2),
    rows: view.shape[ndim - 2],
    cols: view.shape[ndim - 1],
    rowStride: view.stride[ndim - 2],
    colStride: view.stride[ndim - 1],
  };
}

/**
 * Multiplies matrices: `[..., M, K] x [..., K, N] -> [..., M, N]`, broadcasting the batch axes
 * (`[B, M, K] x [K, N]`, `[1, M, K] x [B, K, N]`, ...). Either operand may be a transposed or
 * otherwise strided view; it is read in place.
 *
 * matmul([[1, 2], [3, 4]], [[5], [6]]) is [[17], [39]].
 */
export function matmul<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, out?: NdArray<T>): NdArray<T> {
  const kernel = 'matmul';
  const dtype = commonDtype(kernel, { a, b });
  if (a.shape.length === 0 || b.shape.length === 0) {
    throw new KernelError(kernel, `operands must have at least one dimension, got a ${formatShape(a.shape)} and b ${formatShape(b.shape)}; use mul for scalars`);
  }

  if (a.shape.length === 2 && b.shape.length === 2) return matmul2d(a, b, dtype, out);

  const left = asMatrixStack(a, 'row');
  const right = asMatrixStack(b, 'column');
  if (left.cols !== right.rows) throw innerDimensionError(a, b, left.cols, right.rows);

  const batchShape = broadcastBatchShapes(a, b, left.batchShape, right.batchShape);
  const resultShape = [...batchShape];
  if (a.shape.length > 1) resultShape.push(left.rows);
  if (b.shape.length > 1) resultShape.push(right.cols);
  const result = out ?? zerosView<T>(dtype, resultShape);
  if (out) checkOut(kernel, out, resultShape, dtype);
  if (out) checkNoOverlap(kernel, out, { a, b });

  const outStack = outputStack(result, batchShape.length, a.shape.length > 1, b.shape.length > 1);
  multiplyStacks(left, right, outStack, batchShape, a, b, result);
  return result;
}

/**
 * Returns the broadcast shape of the operands' batch axes (all but the last two), or throws
 * naming the whole shapes: the batch axes alone, in broadcastShapes' message, hide which
 * operands were meant.
 */
function broadcastBatchShapes(a: StridedView, b: StridedView, left: number[], right: number[]): number[] {
  try {
    return broadcastShapes('matmul', left, right);
  } catch (error) {
    if (!(error instanceof KernelError)) throw error;
    throw new KernelError(
      'matmul',
      `batch axes differ: a is ${formatShape(a.shape)} and b is ${formatShape(b.shape)}, whose batch shapes ${formatShape(left)} and ${formatShape(right)} ` +
        'cannot be broadcast (each batch axis must match or be 1); reshape one operand or add an axis of size 1',
    );
  }
}

/** The plain 2-D case, without the batch machinery: one GEMM. */
function matmul2d<T extends FloatArray>(a: StridedView<T>, b: StridedView<T>, dtype: Dtype, out?: NdArray<T>): NdArray<T> {
  const [m, k] = a.shape;
  const [innerB, n] = b.shape;
  if (k !== innerB) throw innerDimensionError(a, b, k, innerB);
  const result = out ?? zerosView<T>(dtype, [m, n]);
  if (out) checkOut('matmul', out, [m, n], dtype);
  if (out) checkNoOverlap('matmul', out, { a, b });

  gemm(
    m, n, k,
    { data: a.data, offset: a.offset, rowStride: a.stride[0], colStride: a.stride[1] },
    { data: b.data, offset: b.offset, rowStride: b.stride[0], colStride: b.stride[1] },
    { data: result.data, offset: result.offset, rowStride: result.stride[0], colStride: result.stride[1] },
    false,
  );
  return result;
}

function innerDimensionError(a: StridedView, b: StridedView, k: number, innerB: number): KernelError {
  return new KernelError(
    'matmul',
    `inner dimensions differ: a is ${formatShape(a.shape)} and b is ${formatShape(b.shape)} (${k} != ${innerB}); ` +
      'a must be [..., M, K] and b [..., K, N], so check whether one operand needs a transpose',
  );
}

/** Reads the result as a batch of M×N matrices, restoring an axis that a vector operand removed. */
function outputStack(result: StridedView, batchNdim: number, hasRows: boolean, hasCols: boolean): MatrixStack {
  let axis = batchNdim;
  const rowStride = hasRows ? result.stride[axis++] : 0;
  const colStride = hasCols ? result.stride[axis] : 0;
  return {
    batchShape: result.shape.slice(0, batchNdim),
    batchStrides: result.stride.slice(0, batchNdim),
    rows: hasRows ? result.shape[batchNdim] : 1,
    cols: hasCols ? result.shape[axis] : 1,
    rowStride,
    colStride,
  };
}

function multiplyStacks(
  left: MatrixStack,
  right: MatrixStack,
  product: MatrixStack,
  batchShape: number[],
  a: StridedView,
  b: StridedView,
  c: StridedView,
): void {
  const m = left.rows;
  const k = left.cols;
  const n = right.cols;
  const aBatch = broadcastStrides('matmul', { ...a, shape: left.batchShape, stride: left.batchStrides }, batchShape);
  const bBatch = broadcastStrides('matmul', { ...b, shape: right.batchShape, stride: right.batchStrides }, batchShape);

  // When B is shared by the whole batch and the batch axes of A and C step evenly over their
  // rows, the batch is one tall matrix: [batch * M, K] x [K, N] is a single, larger GEMM.
  const rowsOfA = foldedRowStride(batchShape, aBatch, m, left.rowStride);
  const rowsOfC = foldedRowStride(batchShape, product.batchStrides, m, product.rowStride);
  if (bBatch.every((s) => s === 0) && rowsOfA !== undefined && rowsOfC !== undefined) {
    const batch = batchShape.reduce((size, dim) => size * dim, 1);
    gemm(
      batch * m, n, k,
      { data: a.data, offset: a.offset, rowStride: rowsOfA, colStride: left.colStride },
      { data: b.data, offset: b.offset, rowStride: right.rowStride, colStride: right.colStride },
      { data: c.data, offset: c.offset, rowStride: rowsOfC, colStride: product.colStride },
      false,
    );
    return;
  }

  // Otherwise each run of the innermost batch axis is one batched GEMM.
  forEachRow(
    batchShape,
    { offsets: [a.offset, b.offset, c.offset], strides: [aBatch, bBatch, product.batchStrides] },
    (starts, count, steps) => {
      const aMatrix: Matrix = { data: a.data, offset: starts[0], rowStride: left.rowStride, colStride: left.colStride };
      const bMatrix: Matrix = { data: b.data, offset: starts[1], rowStride: right.rowStride, colStride: right.colStride };
      const cMatrix: Matrix = { data: c.data, offset: starts[2], rowStride: product.rowStride, colStride: product.colStride };
      gemmBatch(count, m, n, k, aMatrix, steps[0], bMatrix, steps[1], cMatrix, steps[2]);
    },
  );
}

/**
 * Returns the row stride of the batch read as one tall matrix of `batch * rows` rows, or
 * undefined when the batch axes do not continue the row axis evenly. Axes of length 1 take
 * no steps, so their strides do not matter.
 */
function foldedRowStride(batchShape: number[], batchStrides: number[], rows: number, rowStride: number): number | undefined {
  const dims = [...batchShape, rows];
  const strides = [...batchStrides, rowStride];
  const walked = dims.map((dim, axis) => ({ dim, stride: strides[axis] })).filter(({ dim }) => dim !== 1);
  if (walked.length === 0) return rowStride;

  for (let axis = 0; axis < walked.length - 1; axis++) {
    if (walked[axis].stride !== walked[axis + 1].stride * walked[axis + 1].dim) return undefined;
  }
  return walked[walked.length - 1].stride;
}
