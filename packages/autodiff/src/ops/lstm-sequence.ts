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
 * The loops of both passes are the kernels' lstmSequenceForward and lstmSequenceBackward, which
 * run in WebAssembly memory with the 'wasm' backend.
 *
 * VJP: when no graph is being recorded (a plain backward()), one pass of those loops.
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
import { lstmCellBackward, matrixOf } from './lstm-cell';
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

/** The state kept for the backward pass: the layout and the kernel's arrays. */
interface Saved extends k.LstmSequenceArrays {
  layout: k.LstmSequenceLayout;
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
  if (options.reverse !== undefined && typeof options.reverse !== 'boolean') {
    throw new Error(`lstmSequence: reverse must be true or false, got ${JSON.stringify(options.reverse)}`);
  }
  const [steps, rows] = inputGates.shape;
  const order = Array.from({ length: steps }, (_, i) => (options.reverse ? steps - 1 - i : i));

  const layout = { steps, rows, hidden: hidden.shape[1], order, lengths };
  const arrays = k.lstmSequenceForward(layout, inputGates, matrixOf(weightHh), biasHh ? biasHh.toTypedArray() : null, matrixOf(hidden), matrixOf(cell));
  const saved: Saved = { layout, ...arrays };
  const result = new Tensor(arrays.states, [steps, rows, 2 * hidden.shape[1]]);

  const inputs = biasHh ? [inputGates, weightHh, biasHh, hidden, cell] : [inputGates, weightHh, hidden, cell];
  return record('lstmSequence', result, inputs, (grad) => {
    const gradients = isGradEnabled()
      ? recordedBackward(grad, result, inputGates, weightHh, biasHh, hidden, cell, saved)
      : plainBackward(grad, weightHh, cell, saved);
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

/** Runs backpropagation through time with the kernels' typed-array loops (k.lstmSequenceBackward). */
function plainBackward(grad: Tensor, weightHh: Tensor, cell: Tensor, saved: Saved): SequenceGradients {
  const { steps, rows, hidden } = saved.layout;
  const gradients = k.lstmSequenceBackward(saved.layout, grad, matrixOf(weightHh), matrixOf(cell), saved);
  return {
    gates: new Tensor(gradients.gates, [steps, rows, 4 * hidden]),
    weight: new Tensor(gradients.weight, [4 * hidden, hidden]),
    bias: new Tensor(gradients.bias, [4 * hidden]),
    hidden: new Tensor(gradients.hidden, [rows, hidden]),
    cell: new Tensor(gradients.cell, [rows, hidden]),
  };
}

/**
 * The same backpropagation through time as plainBackward, written with differentiable ops so
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
  const { order, lengths } = saved.layout;
  const { gates } = saved;
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
    inputGates.ndim === 3 && hidden.ndim === 2 && gateWidth === 4 * size && steps > 0 && rows > 0 && size > 0 &&
    is(weightHh, [4 * size, size]) && (biasHh === null || is(biasHh, [4 * size])) && is(hidden, [rows, size]) && is(cell, [rows, size]);
  if (!fits) {
    const shapes = [inputGates, weightHh, ...(biasHh ? [biasHh] : []), hidden, cell].map((x) => k.formatShape(x.shape)).join(', ');
    throw new Error(
      `lstmSequence: operands ${shapes} do not fit; expected input gates [T, N, 4 * hidden] with T, N and hidden >= 1, recurrent weight [4 * hidden, hidden], ` +
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
