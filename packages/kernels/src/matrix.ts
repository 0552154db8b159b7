/** A 2-D strided operand of the matrix-product kernels, and its transpose as a view. */
import type { FloatArray } from './view';

/** A 2-D strided operand: data with offset, row stride and column stride. */
export interface Matrix {
  data: FloatArray;
  offset: number;
  rowStride: number;
  colStride: number;
}

/** Returns the transpose of a strided matrix, as a view of the same elements. */
export function transposed(matrix: Matrix): Matrix {
  return { data: matrix.data, offset: matrix.offset, rowStride: matrix.colStride, colStride: matrix.rowStride };
}
