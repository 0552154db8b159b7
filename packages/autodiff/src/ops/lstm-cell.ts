/**
 * The fused LSTM cell: the gate nonlinearities and the state update of one LSTM step in one op,
 * as PyTorch's _thnn_fused_lstm_cell. Written with separate ops, a step costs about a dozen
 * results and a gradient per gate block. Here it costs one result forward and one backward.
 *
 * Gates are stacked in PyTorch's order i, f, g, o along the last axis, each `hidden` wide:
 *   z = inputGates + hiddenGates
 *   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
 *   c' = f * c + i * g,  h' = o * tanh(c')
 * and the result is [h' | c'], [N, 2 * hidden].
 *
 * VJP: `lstmCellBackward`, again one op, whose own VJP (the second derivatives) is written with
 * sigmoid, tanh, mul, add, narrow and concat, so gradients of gradients work to any order.
 * lstmSequence (./lstm-sequence.ts) runs the same step over a whole sequence.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { add, mul, sub } from './arithmetic';
import { sigmoid, tanh } from './math';
import { requireTensor } from './operands';
import { concat, narrow } from './shape';

/**
 * Computes one LSTM step from the two gate pre-activations [N, 4 * hidden] (the input and the
 * recurrent projections, each with its bias) and the cell state c [N, hidden]. Returns
 * [h' | c'] of shape [N, 2 * hidden]: narrow it to read h' and c'.
 *
 * fusedLstmCell(zeros([1, 4]), zeros([1, 4]), ones([1, 1])) is [[0.5 * tanh(0.5), 0.5]].
 */
export function fusedLstmCell(inputGates: Tensor, hiddenGates: Tensor, cell: Tensor): Tensor {
  const { rows, hidden, dtype } = checkCellOperands(inputGates, hiddenGates, cell);

  // `saved` keeps i, f, g, o and tanh(c') of every row for the backward pass, [N, 5 * hidden].
  const saved = k.allocateData(dtype, rows * 5 * hidden);
  const state = k.allocateData(dtype, rows * 2 * hidden);
  for (let n = 0; n < rows; n++) {
    k.lstmCellForwardRow(n, hidden, matrixOf(inputGates), matrixOf(hiddenGates), null, matrixOf(cell), saved, n * 5 * hidden, state, n * 2 * hidden);
  }

  const result = new Tensor(state, [rows, 2 * hidden]);
  return record('fusedLstmCell', result, [inputGates, hiddenGates, cell], (grad) => {
    const gradients = lstmCellBackward(grad, inputGates, hiddenGates, cell, saved);
    const gateGradient = narrow(gradients, 1, 0, 4 * hidden);
    return [
      inputGates.requiresGrad ? gateGradient : null,
      hiddenGates.requiresGrad ? gateGradient : null,
      cell.requiresGrad ? narrow(gradients, 1, 4 * hidden, hidden) : null,
    ];
  });
}

/**
 * Computes the VJP of fusedLstmCell as one op. For grad = [dh' | dc'] it returns [dz | dc], [N, 5 * hidden]:
 *   dc'_total = dc' + dh' * o * (1 - tanh(c')^2)
 *   dz_i = dc'_total * g * i(1 - i),  dz_f = dc'_total * c * f(1 - f)
 *   dz_g = dc'_total * i * (1 - g^2),  dz_o = dh' * tanh(c') * o(1 - o)
 *   dc = dc'_total * f
 * `saved` contains i, f, g, o and tanh(c') from the forward pass, so no exp is evaluated again.
 */
export function lstmCellBackward(grad: Tensor, inputGates: Tensor, hiddenGates: Tensor, cell: Tensor, saved: k.FloatArray): Tensor {
  const [rows, hidden] = cell.shape;
  const gradients = k.allocateData(grad.dtype, rows * 5 * hidden);
  for (let n = 0; n < rows; n++) {
    const row = n * 5 * hidden;
    k.lstmCellBackwardRow(n, hidden, matrixOf(grad), matrixOf(cell), saved, row, gradients, row, gradients, row + 4 * hidden);
  }

  const result = new Tensor(gradients, [rows, 5 * hidden]);
  return record('lstmCellBackward', result, [grad, inputGates, hiddenGates, cell], (upstream) => {
    const [gradOfGrad, gradOfGates, gradOfCell] = lstmCellSecondOrder(upstream, grad, inputGates, hiddenGates, cell);
    return [
      grad.requiresGrad ? gradOfGrad : null,
      inputGates.requiresGrad ? gradOfGates : null,
      hiddenGates.requiresGrad ? gradOfGates : null,
      cell.requiresGrad ? gradOfCell : null,
    ];
  });
}

/**
 * Computes the VJP of lstmCellBackward with differentiable ops: the derivatives of
 * S = sum(upstream * lstmCellBackward(grad, z, c)) with respect to grad, z and c.
 *
 * With U = [U_i, U_f, U_g, U_o, U_c] the blocks of `upstream`, G = [G_h | G_c] those of `grad`,
 * t = tanh(c'), primes the derivatives of the gates (i' = i(1 - i), g' = 1 - g^2) and
 * D = dc'_total = G_c + G_h * o * (1 - t^2):
 *   A = U_i * g * i' + U_f * c * f' + U_g * i * g' + U_c * f    (the factor of D in S)
 *   Q = (U_o * G_h * o' - 2 * A * G_h * o * t) * (1 - t^2)     (dS/dc' through t)
 *   dG_c = A,  dG_h = A * o * (1 - t^2) + U_o * t * o'
 *   dz_i = i' * (D * (U_i * g * (1 - 2i) + U_g * g') + Q * g)
 *   dz_f = f' * (D * (U_f * c * (1 - 2f) + U_c) + Q * c)
 *   dz_g = g' * (D * (U_i * i' - 2 * U_g * i * g) + Q * i)
 *   dz_o = o' * G_h * (A * (1 - t^2) + U_o * t * (1 - 2o))
 *   dc = D * U_f * f' + Q * f
 */
function lstmCellSecondOrder(upstream: Tensor, grad: Tensor, inputGates: Tensor, hiddenGates: Tensor, cell: Tensor): [Tensor, Tensor, Tensor] {
  const hidden = cell.shape[1];
  const block = (x: Tensor, index: number) => narrow(x, 1, index * hidden, hidden);

  // The forward pass again, with recorded ops.
  const gates = add(inputGates, hiddenGates);
  const i = sigmoid(block(gates, 0));
  const f = sigmoid(block(gates, 1));
  const g = tanh(block(gates, 2));
  const o = sigmoid(block(gates, 3));
  const t = tanh(add(mul(f, cell), mul(i, g)));
  const iPrime = mul(i, sub(1, i));
  const fPrime = mul(f, sub(1, f));
  const gPrime = sub(1, mul(g, g));
  const oPrime = mul(o, sub(1, o));
  const tPrime = sub(1, mul(t, t));

  const [gradHidden, gradCell] = [block(grad, 0), block(grad, 1)];
  const [ui, uf, ug, uo, uc] = [0, 1, 2, 3, 4].map((index) => block(upstream, index));
  const total = add(gradCell, mul(mul(gradHidden, o), tPrime));

  const a = add(add(mul(mul(ui, g), iPrime), mul(mul(uf, cell), fPrime)), add(mul(mul(ug, i), gPrime), mul(uc, f)));
  const q = mul(sub(mul(mul(uo, gradHidden), oPrime), mul(mul(mul(a, gradHidden), mul(o, t)), 2)), tPrime);

  const gradOfGradHidden = add(mul(mul(a, o), tPrime), mul(mul(uo, t), oPrime));
  const gradOfGrad = concat([gradOfGradHidden, a], 1);

  const dzi = mul(iPrime, add(mul(total, add(mul(mul(ui, g), sub(1, mul(i, 2))), mul(ug, gPrime))), mul(q, g)));
  const dzf = mul(fPrime, add(mul(total, add(mul(mul(uf, cell), sub(1, mul(f, 2))), uc)), mul(q, cell)));
  const dzg = mul(gPrime, add(mul(total, sub(mul(ui, iPrime), mul(mul(mul(ug, i), g), 2))), mul(q, i)));
  const dzo = mul(mul(oPrime, gradHidden), add(mul(a, tPrime), mul(mul(uo, t), sub(1, mul(o, 2)))));
  const gradOfGates = concat([dzi, dzf, dzg, dzo], 1);

  const gradOfCell = add(mul(mul(total, uf), fPrime), mul(q, f));
  return [gradOfGrad, gradOfGates, gradOfCell];
}

/** Returns a 2-D tensor's data, offset and strides, as k.gemm and the row functions read them. */
export function matrixOf(x: Tensor): k.Matrix {
  return { data: x.data, offset: x.offset, rowStride: x.stride[0], colStride: x.stride[1] };
}

function checkCellOperands(inputGates: Tensor, hiddenGates: Tensor, cell: Tensor): { rows: number; hidden: number; dtype: k.Dtype } {
  requireTensor('fusedLstmCell', inputGates, 'input gates');
  requireTensor('fusedLstmCell', hiddenGates, 'hidden gates');
  requireTensor('fusedLstmCell', cell, 'cell state');
  const [rows, hidden] = cell.shape;
  const gatesShape = [rows, 4 * hidden];
  const fits = (x: Tensor) => x.ndim === 2 && x.shape[0] === gatesShape[0] && x.shape[1] === gatesShape[1];
  if (cell.ndim !== 2 || !fits(inputGates) || !fits(hiddenGates)) {
    throw new Error(
      `fusedLstmCell: gates ${k.formatShape(inputGates.shape)} and ${k.formatShape(hiddenGates.shape)} do not fit cell state ${k.formatShape(cell.shape)}; ` +
        'the cell state must be [N, hidden] and both gate tensors [N, 4 * hidden]',
    );
  }
  if (inputGates.dtype !== cell.dtype || hiddenGates.dtype !== cell.dtype) {
    throw new Error(`fusedLstmCell: dtypes differ: gates ${inputGates.dtype} and ${hiddenGates.dtype}, cell state ${cell.dtype}; convert them with .to()`);
  }
  return { rows, hidden, dtype: cell.dtype };
}
