/**
 * The loop driver shared by the elementwise kernels.
 *
 * An elementwise kernel visits the same index in several operands (inputs and output), each
 * with its own strides. The driver merges axes that every operand traverses as one run of
 * equally spaced elements, then calls a row function once per innermost run. For
 * contiguous operands of the same shape that is a single call over all elements; for a bias
 * of shape [C, 1, 1] added to [N, C, H, W] it is one call per (n, c) pair of H * W elements.
 */

/** Operands of an elementwise loop: one entry per operand, all indexed by the same shape. */
export interface LoopOperands {
  offsets: number[];
  strides: number[][];
}

/** The merged loop: its shape and, per operand, its strides over that shape. */
interface LoopLayout {
  shape: number[];
  strides: number[][];
}

/**
 * Merges adjacent axes that every operand walks with equal spacing, and drops axes of
 * length 1. Axis `a` merges into axis `a + 1` when `stride[a] == stride[a + 1] * shape[a + 1]`
 * holds for each operand.
 */
function mergeAxes(shape: readonly number[], strides: readonly number[][]): LoopLayout {
  const merged: LoopLayout = { shape: [], strides: strides.map(() => []) };

  for (let axis = 0; axis < shape.length; axis++) {
    const dim = shape[axis];
    if (dim === 1) continue;

    const last = merged.shape.length - 1;
    const canMerge =
      last >= 0 && strides.every((s, op) => merged.strides[op][last] === s[axis] * dim);
    if (canMerge) {
      merged.shape[last] *= dim;
      strides.forEach((s, op) => (merged.strides[op][last] = s[axis]));
    } else {
      merged.shape.push(dim);
      strides.forEach((s, op) => merged.strides[op].push(s[axis]));
    }
  }
  return merged;
}

/**
 * Calls `visitRow(starts, rowLength, rowStrides)` once per innermost run of the loop over
 * `shape`. `starts[op]` is the index of the run's first element in operand `op`.
 * The `starts` array is reused between calls, so the callback must not keep it.
 */
export function forEachRow(
  shape: readonly number[],
  operands: LoopOperands,
  visitRow: (starts: number[], rowLength: number, rowStrides: number[]) => void,
): void {
  const layout = mergeAxes(shape, operands.strides);
  const operandCount = operands.offsets.length;
  const ndim = layout.shape.length;

  if (shape.some((dim) => dim === 0)) return;
  if (ndim === 0) {
    visitRow(operands.offsets.slice(), 1, new Array<number>(operandCount).fill(0));
    return;
  }

  const rowLength = layout.shape[ndim - 1];
  const rowStrides = layout.strides.map((s) => s[ndim - 1]);
  const outerShape = layout.shape.slice(0, ndim - 1);
  const outerCount = outerShape.reduce((product, dim) => product * dim, 1);

  // Odometer over the outer axes: `counter` is the multi-index, `starts` follows it.
  const counter = new Array<number>(outerShape.length).fill(0);
  const starts = operands.offsets.slice();
  const rowStarts = starts.slice();
  for (let row = 0; row < outerCount; row++) {
    for (let op = 0; op < operandCount; op++) rowStarts[op] = starts[op];
    visitRow(rowStarts, rowLength, rowStrides);

    for (let axis = outerShape.length - 1; axis >= 0; axis--) {
      counter[axis]++;
      for (let op = 0; op < operandCount; op++) starts[op] += layout.strides[op][axis];
      if (counter[axis] < outerShape[axis]) break;
      for (let op = 0; op < operandCount; op++) starts[op] -= layout.strides[op][axis] * outerShape[axis];
      counter[axis] = 0;
    }
  }
}
