/**
 * One time step of each recurrent layer, written with differentiable ops only. A cell gets the
 * step's input projection x W_ihᵀ + b_ih, already computed for all steps at once, and adds the
 * recurrent projection h W_hhᵀ + b_hh itself. The gate blocks are narrowed out of one
 * [N, gates * hidden] product in PyTorch's order.
 */
import { type Tensor, add, fusedLstmCell, linear, mul, narrow, relu, sigmoid, sub, tanh } from '@metagrad/autodiff';

/**
 * Computes the next state from one step's input projection [N, gates * hidden] and the state:
 * [h] for RNN and GRU, [h, c] for LSTM, each [N, hidden]. The new h comes first.
 */
export type RecurrentCell = (projectedInput: Tensor, state: readonly Tensor[], weightHh: Tensor, biasHh: Tensor | null) => Tensor[];

/** Returns the Elman cell of torch.nn.RNN: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh). */
export function elmanCell(nonlinearity: 'tanh' | 'relu'): RecurrentCell {
  const activation = nonlinearity === 'tanh' ? tanh : relu;
  return (projectedInput, [hidden], weightHh, biasHh) => [activation(add(projectedInput, linear(hidden, weightHh, biasHh)))];
}

/**
 * Computes one LSTM step, with the gates in PyTorch's order i, f, g, o:
 * c' = f * c + i * g and h' = o * tanh(c'), with i, f, o sigmoids and g a tanh.
 * The gate nonlinearities and the update are one fused op, whose result [h' | c'] is narrowed
 * into the two states.
 */
export const lstmCell: RecurrentCell = (projectedInput, [hidden, cell], weightHh, biasHh) => {
  const size = hidden.shape[1];
  const state = fusedLstmCell(projectedInput, linear(hidden, weightHh, biasHh), cell);
  return [narrow(state, 1, 0, size), narrow(state, 1, size, size)];
};

/**
 * Computes one GRU step, with the gates in PyTorch's order r, z, n. The reset gate multiplies the recurrent
 * projection including its bias b_hn, as in PyTorch (and cuDNN), not h before the product:
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) * n + z * h = n + z * (h - n).
 */
export const gruCell: RecurrentCell = (projectedInput, [hidden], weightHh, biasHh) => {
  const size = hidden.shape[1];
  const recurrent = linear(hidden, weightHh, biasHh);

  const resetAndUpdate = sigmoid(add(narrow(projectedInput, 1, 0, 2 * size), narrow(recurrent, 1, 0, 2 * size)));
  const reset = narrow(resetAndUpdate, 1, 0, size);
  const update = narrow(resetAndUpdate, 1, size, size);
  const candidate = tanh(add(narrow(projectedInput, 1, 2 * size, size), mul(reset, narrow(recurrent, 1, 2 * size, size))));

  return [add(candidate, mul(update, sub(hidden, candidate)))];
};
