/**
 * A whole LSTM layer in one direction as one op: every step of the recurrence in one forward
 * result and one backward pass, as cuDNN's LSTM is to PyTorch's cell-by-cell loop.
 *
 * Written as a chain of per-step ops, a sequence of T steps records about 6T nodes. Its
 * backward pass then sums T separate gradients of the recurrent weight, and scatters every
 * step's slice into a zero tensor of the whole sequence. Here the backward pass walks the steps once,
 * keeps each step's gate gradient in one [T, N, 4 * hidden] array, and then computes the
 * recurrent weight's gradient with a single product:
 *   dW_hh = dGatesᵀ · H_entering     ([4H, T*N] x [T*N, H])
 * where H_entering contains the hidden state that entered each step.
 *
 * The step itself is the fused cell of ./lstm-cell.ts, with gates in PyTorch's order i, f, g, o.
 *
 * VJP: when no graph is being recorded (a plain backward()), one pass of typed-array loops.
 * When the backward pass is recorded (createGraph, for second derivatives), the same
 * backpropagation through time is written with differentiable ops (linear, lstmCellBackward,
 * matmul, where), so gradients of gradients work to any order.
 */
import * as k from '@metagrad/kernels';
import { isGradEnabled } from '../grad-mode';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { add, where } from './arithmetic';
import { linear, matmul } from './linalg';
import { cellBackwardRow, cellForwardRow, lstmCellBackward, matrixOf } from './lstm-cell';
import { requireTensor } from './operands';
import { sum } from './reduction';
import { concat, narrow, reshape, slice, stack, transpose } from './shape';

/** Options of `lstmSequence`. */
export interface LstmSequenceOptions {
  /**
   * Number of valid steps of each sequence, each in [1, T]. At a step t >= lengths[n], row n keeps
   * its state unchanged, as PyTorch's packed sequences do. Default: every step of every row is valid.
   */
  lengths?: ArrayLike<number> | Tensor | null;
  /** Run from the last step to the first, as the backward direction of a bidirectional LSTM. Default false. */
  reverse?: boolean;
}

/** Arrays and settings the forward pass keeps for the backward pass. */
interface Saved {
  /** The steps in the order the recurrence visited them. */
  order: number[];
  lengths: ArrayLike<number> | null;
  /** i, f, g, o and tanh(c') of every step and row, [T, N, 5 * hidden]. */
  gates: k.FloatArray;
  /** The hidden state that entered every step, [T, N, hidden]. */
  entering: k.FloatArray;
  /** The result: h' and c' of every step, [T, N, 2 * hidden]. */
  states: k.FloatArray;
}

/**
 * Runs an LSTM over a sequence and returns the state after every step, [T, N, 2 * hidden], with h'
 * in the first `hidden` columns and c' in the rest. The operands are:
 *   inputGates [T, N, 4 * hidden]    the input projection x W_ihᵀ + b_ih of every step
 *   weightHh [4 * hidden, hidden]    the recurrent weight, and biasHh [4 * hidden] or null
 *   hidden, cell [N, hidden]         the state before the first step
 * Step t computes
 *   z = inputGates[t] + h W_hhᵀ + b_hh;  i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g)
 *   c' = f * c + i * g;  h' = o * tanh(c')
 * The last state visited (step T - 1, or step 0 with `reverse`) is the layer's final state.
 *
 * lstmSequence(zeros([3, 2, 8]), zeros([8, 2]), null, zeros([2, 2]), zeros([2, 2])).shape is [3, 2, 4].
 */
export function lstmSequence(
  inputGates: Tensor,
  weightHh: Tensor,
  biasHh: Tensor | null,
  hidden: Tensor,
  cell: Tensor,
  options: LstmSequenceOptions = {},
): Tensor {
  // A copy of the lengths, so that changing the caller's array cannot change the backward pass.
  const lengths = options.lengths == null ? null : Array.from(options.lengths instanceof Tensor ? options.lengths.toTypedArray() : options.lengths);
  checkSequenceOperands(inputGates, weightHh, biasHh, hidden, cell, lengths);
  const [steps, rows] = inputGates.shape;
  const order = Array.from({ length: steps }, (_, i) => (options.reverse ? steps - 1 - i : i));

  const { states, saved } = forwardSteps(inputGates, weightHh, biasHh, hidden, cell, order, lengths);
  const result = new Tensor(states, [steps, rows, 2 * hidden.shape[1]]);

  const inputs = biasHh ? [inputGates, weightHh, biasHh, hidden, cell] : [inputGates, weightHh, hidden, cell];
  return record('lstmSequence', result, inputs, (grad) => {
    const gradients = isGradEnabled()
      ? recordedBackward(grad, result, inputGates, weightHh, biasHh, hidden, cell, saved)
      : backwardSteps(grad, weightHh, cell, saved);
    const ifNeeded = (tensor: Tensor, gradient: Tensor) => (tensor.requiresGrad ? gradient : null);
    const { gates, weight, bias, hidden: dHidden, cell: dCell } = gradients;
    const rest = [ifNeeded(hidden, dHidden), ifNeeded(cell, dCell)];
    return biasHh
      ? [ifNeeded(inputGates, gates), ifNeeded(weightHh, weight), ifNeeded(biasHh, bias), ...rest]
      : [ifNeeded(inputGates, gates), ifNeeded(weightHh, weight), ...rest];
  });
}

/** The gradients of lstmSequence's operands. */
interface SequenceGradients {
  gates: Tensor;
  weight: Tensor;
  bias: Tensor;
  hidden: Tensor;
  cell: Tensor;
}

/**
 * Runs the recurrence with typed-array loops and one GEMM per step; returns the states and what
 * backward needs. Each step is the fused cell's row function, cellForwardRow.
 */
function forwardSteps(
  inputGates: Tensor,
  weightHh: Tensor,
  biasHh: Tensor | null,
  hidden: Tensor,
  cell: Tensor,
  order: number[],
  lengths: ArrayLike<number> | null,
): { states: k.FloatArray; saved: Saved } {
  const [steps, rows, gateWidth] = inputGates.shape;
  const size = gateWidth / 4;
  const dtype = inputGates.dtype;
  const states = k.allocateData(dtype, steps * rows * 2 * size);
  const gates = k.allocateData(dtype, steps * rows * 5 * size);
  const entering = k.allocateData(dtype, steps * rows * size);
  const recurrent = k.allocateData(dtype, rows * gateWidth);
  const recurrentMatrix = { data: recurrent, offset: 0, rowStride: gateWidth, colStride: 1 };
  const weightT = { data: weightHh.data, offset: weightHh.offset, rowStride: weightHh.stride[1], colStride: weightHh.stride[0] };
  const bias = biasHh ? biasHh.toTypedArray() : null;
  const [stepStride, rowStride, colStride] = inputGates.stride;

  // h and c address the state before the current step: the initial tensors, then rows of `states`.
  let h = matrixOf(hidden);
  let c = matrixOf(cell);
  for (const t of order) {
    // entering[t] = h, and recurrent = h W_hhᵀ, one [N, H] x [H, 4H] product.
    const enteringAt = t * rows * size;
    copyRows(h, rows, size, entering, enteringAt);
    k.gemm(rows, gateWidth, size, { data: entering, offset: enteringAt, rowStride: size, colStride: 1 }, weightT, recurrentMatrix, false);

    const stepGates = { data: inputGates.data, offset: inputGates.offset + t * stepStride, rowStride, colStride };
    for (let n = 0; n < rows; n++) {
      const stateAt = (t * rows + n) * 2 * size;
      if (lengths === null || t < lengths[n]) {
        cellForwardRow(n, size, stepGates, recurrentMatrix, bias, c, gates, (t * rows + n) * 5 * size, states, stateAt);
        continue;
      }
      // Past the end of row n: carry h and c through unchanged.
      for (let j = 0; j < size; j++) {
        states[stateAt + j] = h.data[h.offset + n * h.rowStride + j * h.colStride];
        states[stateAt + size + j] = c.data[c.offset + n * c.rowStride + j * c.colStride];
      }
    }

    h = { data: states, offset: t * rows * 2 * size, rowStride: 2 * size, colStride: 1 };
    c = { data: states, offset: t * rows * 2 * size + size, rowStride: 2 * size, colStride: 1 };
  }
  return { states, saved: { order, lengths, gates, entering, states } };
}

/**
 * Backpropagation through time with typed-array loops. For grad = [dh' | dc'] of every step it
 * walks the steps backwards. Each step adds the gradient carried from the step after it to its
 * own, and differentiates the fused cell with cellBackwardRow, which gives the gate gradients dz
 * and the carried dc. The carried dh is dz W_hh. A row past its sequence's end passes both
 * gradients through unchanged. After the walk, dW_hh = dzᵀ H_entering and db_hh = the column sums of dz.
 */
function backwardSteps(grad: Tensor, weightHh: Tensor, cell: Tensor, saved: Saved): SequenceGradients {
  const { order, lengths, gates, entering, states } = saved;
  const [steps, rows, stateWidth] = grad.shape;
  const size = stateWidth / 2;
  const gateWidth = 4 * size;
  const dtype = grad.dtype;
  const g = grad.data;
  const [gStep, gRow, gColumn] = grad.stride;
  const dGates = k.allocateData(dtype, steps * rows * gateWidth);
  const carriedH = k.allocateData(dtype, rows * size);
  const carriedC = k.allocateData(dtype, rows * size);
  const passedH = k.allocateData(dtype, rows * size);
  // total = [dh' | dc'] of the current step plus what the step after it carried back, [N, 2H]. It is
  // float64 whatever the dtype, so these sums are not rounded to float32 before the cell uses them.
  const total = new Float64Array(rows * stateWidth);
  const totalMatrix = { data: total, offset: 0, rowStride: stateWidth, colStride: 1 };

  for (let position = order.length - 1; position >= 0; position--) {
    const t = order[position];
    const before = position === 0 ? null : order[position - 1];
    const previousCell = before === null ? matrixOf(cell) : { data: states, offset: before * rows * stateWidth + size, rowStride: stateWidth, colStride: 1 };
    let anyPassed = false;

    for (let n = 0; n < rows; n++) {
      const carriedAt = n * size;
      const gradAt = grad.offset + t * gStep + n * gRow;
      for (let j = 0; j < size; j++) {
        total[n * stateWidth + j] = g[gradAt + j * gColumn] + carriedH[carriedAt + j];
        total[n * stateWidth + size + j] = g[gradAt + (size + j) * gColumn] + carriedC[carriedAt + j];
      }

      if (lengths === null || t < lengths[n]) {
        passedH.fill(0, carriedAt, carriedAt + size);
        cellBackwardRow(n, size, totalMatrix, previousCell, gates, (t * rows + n) * 5 * size, dGates, (t * rows + n) * gateWidth, carriedC, carriedAt);
        continue;
      }
      anyPassed = true;
      passedH.set(total.subarray(n * stateWidth, n * stateWidth + size), carriedAt);
      carriedC.set(total.subarray(n * stateWidth + size, (n + 1) * stateWidth), carriedAt);
    }

    // carried dh = dz_t W_hh ([N, 4H] x [4H, H]), plus dh of the rows that passed it through.
    k.gemm(rows, size, gateWidth, { data: dGates, offset: t * rows * gateWidth, rowStride: gateWidth, colStride: 1 }, matrixOf(weightHh), { data: carriedH, offset: 0, rowStride: size, colStride: 1 }, false);
    if (anyPassed) for (let i = 0; i < rows * size; i++) carriedH[i] += passedH[i];
  }

  // dW_hh = dzᵀ H_entering over all steps and rows at once, and db_hh = the sum of dz.
  const weightGrad = k.allocateData(dtype, gateWidth * size);
  const all = steps * rows;
  k.gemm(gateWidth, size, all, { data: dGates, offset: 0, rowStride: 1, colStride: gateWidth }, { data: entering, offset: 0, rowStride: size, colStride: 1 }, { data: weightGrad, offset: 0, rowStride: size, colStride: 1 }, false);
  const biasGrad = k.allocateData(dtype, gateWidth);
  for (let r = 0; r < all; r++) {
    for (let j = 0; j < gateWidth; j++) biasGrad[j] += dGates[r * gateWidth + j];
  }

  return {
    gates: new Tensor(dGates, [steps, rows, gateWidth]),
    weight: new Tensor(weightGrad, [gateWidth, size]),
    bias: new Tensor(biasGrad, [gateWidth]),
    hidden: new Tensor(carriedH, [rows, size]),
    cell: new Tensor(carriedC, [rows, size]),
  };
}

/**
 * The same backpropagation through time as backwardSteps, written with differentiable ops so
 * that the gradients it returns are recorded and can be differentiated again. Each step
 * recomputes its recurrent projection with `linear` and differentiates the fused cell with
 * lstmCellBackward, whose own VJP contains the second derivatives of the gates. The states are
 * read from `result`, the op's recorded output, so their dependence on the operands is kept.
 */
function recordedBackward(
  grad: Tensor,
  result: Tensor,
  inputGates: Tensor,
  weightHh: Tensor,
  biasHh: Tensor | null,
  hidden: Tensor,
  cell: Tensor,
  saved: Saved,
): SequenceGradients {
  const { order, lengths, gates } = saved;
  const [steps, rows, gateWidth] = inputGates.shape;
  const size = gateWidth / 4;
  const stateAt = (t: number, part: 0 | 1) => narrow(slice(result, t), 1, part * size, size);
  const validRows = (t: number) => (lengths === null ? null : validMask(lengths, t, rows, inputGates.dtype));

  const gateGradients = new Array<Tensor>(steps);
  const enteringStates = new Array<Tensor>(steps);
  let carriedH: Tensor | null = null;
  let carriedC: Tensor | null = null;
  for (let position = order.length - 1; position >= 0; position--) {
    const t = order[position];
    const before = position === 0 ? null : order[position - 1];
    const previousH = before === null ? hidden : stateAt(before, 0);
    const previousC = before === null ? cell : stateAt(before, 1);
    const stepGrad = slice(grad, t);
    const gradHidden: Tensor = carriedH ? add(narrow(stepGrad, 1, 0, size), carriedH) : narrow(stepGrad, 1, 0, size);
    const gradCell: Tensor = carriedC ? add(narrow(stepGrad, 1, size, size), carriedC) : narrow(stepGrad, 1, size, size);

    const hiddenGates = linear(previousH, weightHh, biasHh);
    const stepGates = gates.subarray(t * rows * 5 * size, (t + 1) * rows * 5 * size);
    const cellGradients = lstmCellBackward(concat([gradHidden, gradCell], 1), slice(inputGates, t), hiddenGates, previousC, stepGates);
    let dz = narrow(cellGradients, 1, 0, gateWidth);
    let dc = narrow(cellGradients, 1, gateWidth, size);

    // Rows past their sequence's end pass dh and dc through the step unchanged.
    const valid = validRows(t);
    if (valid !== null) {
      dz = where(valid, dz, 0);
      dc = where(valid, dc, gradCell);
    }
    const dh: Tensor = valid === null ? matmul(dz, weightHh) : where(valid, matmul(dz, weightHh), gradHidden);
    gateGradients[t] = dz;
    enteringStates[t] = previousH;
    carriedH = dh;
    carriedC = dc;
  }

  const dGates = stack(gateGradients, 0);
  const flatGates = reshape(dGates, [steps * rows, gateWidth]);
  const flatEntering = reshape(stack(enteringStates, 0), [steps * rows, size]);
  return {
    gates: dGates,
    weight: matmul(transpose(flatGates), flatEntering),
    bias: sum(flatGates, 0),
    hidden: carriedH!,
    cell: carriedC!,
  };
}

/** Returns a [N, 1] tensor with 1 for the rows whose sequence includes step t and 0 for the rest. */
function validMask(lengths: ArrayLike<number>, t: number, rows: number, dtype: k.Dtype): Tensor {
  const mask = k.allocateData(dtype, rows);
  for (let n = 0; n < rows; n++) mask[n] = t < lengths[n] ? 1 : 0;
  return new Tensor(mask, [rows, 1]);
}

/** Copies the [rows, size] matrix `from` into `to` at `at`, row after row. */
function copyRows(from: k.Matrix, rows: number, size: number, to: k.FloatArray, at: number): void {
  for (let n = 0; n < rows; n++) {
    for (let j = 0; j < size; j++) to[at + n * size + j] = from.data[from.offset + n * from.rowStride + j * from.colStride];
  }
}

function checkSequenceOperands(
  inputGates: Tensor,
  weightHh: Tensor,
  biasHh: Tensor | null,
  hidden: Tensor,
  cell: Tensor,
  lengths: ArrayLike<number> | null,
): void {
  requireTensor('lstmSequence', inputGates, 'input gates');
  requireTensor('lstmSequence', weightHh, 'recurrent weight');
  if (biasHh !== null) requireTensor('lstmSequence', biasHh, 'recurrent bias');
  requireTensor('lstmSequence', hidden, 'initial hidden state');
  requireTensor('lstmSequence', cell, 'initial cell state');

  const [steps, rows, gateWidth] = inputGates.shape;
  const size = hidden.shape[1];
  const is = (x: Tensor, shape: number[]) => x.ndim === shape.length && shape.every((dim, i) => x.shape[i] === dim);
  const fits =
    inputGates.ndim === 3 && hidden.ndim === 2 && gateWidth === 4 * size && steps > 0 &&
    is(weightHh, [4 * size, size]) && (biasHh === null || is(biasHh, [4 * size])) && is(hidden, [rows, size]) && is(cell, [rows, size]);
  if (!fits) {
    const shapes = [inputGates, weightHh, ...(biasHh ? [biasHh] : []), hidden, cell].map((x) => k.formatShape(x.shape)).join(', ');
    throw new Error(
      `lstmSequence: operands ${shapes} do not fit; expected input gates [T, N, 4 * hidden] with T >= 1, recurrent weight [4 * hidden, hidden], ` +
        'recurrent bias [4 * hidden] or null, and hidden and cell states [N, hidden]',
    );
  }
  const dtypes = new Set([inputGates, weightHh, hidden, cell, ...(biasHh ? [biasHh] : [])].map((x) => x.dtype));
  if (dtypes.size > 1) throw new Error(`lstmSequence: operands mix dtypes ${[...dtypes].join(' and ')}; convert them with .to()`);

  if (lengths === null) return;
  if (lengths.length !== rows) throw new Error(`lstmSequence: got ${lengths.length} lengths for ${rows} sequences; give one length per sequence`);
  for (let n = 0; n < rows; n++) {
    if (typeof lengths[n] !== 'number' || !Number.isInteger(lengths[n]) || lengths[n] < 1 || lengths[n] > steps) {
      throw new Error(`lstmSequence: length ${JSON.stringify(lengths[n])} of sequence ${n} must be an integer in [1, ${steps}], the number of steps`);
    }
  }
}
