import {
  type Tensor, add, concat, fusedLstmCell, gradgradcheck, mul, narrow, randn, sigmoid, tanh, tensor, transpose, zeros,
} from '@metagrad/autodiff';
import { checkGradients, expectClose, valuesOf } from './helpers';

/** The same step written with separate ops, the reference the fused op must match. */
function composedCell(inputGates: Tensor, hiddenGates: Tensor, cell: Tensor): Tensor {
  const hidden = cell.shape[1];
  const gates = add(inputGates, hiddenGates);
  const i = sigmoid(narrow(gates, 1, 0, hidden));
  const f = sigmoid(narrow(gates, 1, hidden, hidden));
  const g = tanh(narrow(gates, 1, 2 * hidden, hidden));
  const o = sigmoid(narrow(gates, 1, 3 * hidden, hidden));
  const nextCell = add(mul(f, cell), mul(i, g));
  return concat([mul(o, tanh(nextCell)), nextCell], 1);
}

function float64Leaf(shape: number[], seed: number, scale = 1): Tensor {
  return mul(randn(shape, { dtype: 'float64', seed }), scale).detach().requiresGrad_(true);
}

describe('fusedLstmCell', () => {
  test('matches the composed ops', () => {
    const inputGates = float64Leaf([3, 8], 1, 2);
    const hiddenGates = float64Leaf([3, 8], 2, 2);
    const cell = float64Leaf([3, 2], 3);

    expectClose(valuesOf(fusedLstmCell(inputGates, hiddenGates, cell)), valuesOf(composedCell(inputGates, hiddenGates, cell)), 1e-12, 1e-14);
  });

  test('gradients match the composed ops', () => {
    const inputs = [float64Leaf([2, 12], 4, 2), float64Leaf([2, 12], 5, 2), float64Leaf([2, 3], 6)];
    const weights = randn([2, 6], { dtype: 'float64', seed: 7 });
    const fused = mul(fusedLstmCell(inputs[0], inputs[1], inputs[2]), weights).sum();
    const composed = mul(composedCell(inputs[0], inputs[1], inputs[2]), weights).sum();

    fused.backward();
    const fusedGrads = inputs.map((x) => valuesOf(x.grad!));
    inputs.forEach((x) => (x.grad = null));
    composed.backward();

    inputs.forEach((x, index) => expectClose(fusedGrads[index], valuesOf(x.grad!), 1e-12, 1e-14));
  });

  test('gradcheck and gradgradcheck', () => {
    checkGradients(fusedLstmCell, [float64Leaf([2, 8], 8, 1.5), float64Leaf([2, 8], 9, 1.5), float64Leaf([2, 2], 10)]);
  });

  test('gradgradcheck with saturated gates', () => {
    const inputs = [float64Leaf([1, 8], 11, 4), float64Leaf([1, 8], 12, 4), float64Leaf([1, 2], 13, 3)];

    expect(gradgradcheck(fusedLstmCell, inputs)).toBe(true);
  });

  test('gradcheck of strided operands', () => {
    const inputGates = float64Leaf([8, 2], 14);
    const hiddenGates = float64Leaf([2, 10], 15);
    const cell = float64Leaf([2, 4], 16);
    const f = (a: Tensor, b: Tensor, c: Tensor) => fusedLstmCell(transpose(a), narrow(b, 1, 1, 8), narrow(c, 1, 1, 2));

    checkGradients(f, [inputGates, hiddenGates, cell]);
  });

  test('gradient of one operand only', () => {
    const inputGates = float64Leaf([2, 4], 17);
    const hiddenGates = randn([2, 4], { dtype: 'float64', seed: 18 });
    const cell = randn([2, 1], { dtype: 'float64', seed: 19 });

    checkGradients((x: Tensor) => fusedLstmCell(x, hiddenGates, cell), [inputGates]);
  });

  test('float32 follows float32 inputs', () => {
    const result = fusedLstmCell(zeros([1, 4]), zeros([1, 4]), tensor([[1]]));

    expect(result.dtype).toBe('float32');
    expectClose(valuesOf(result), [0.5 * Math.tanh(0.5), 0.5], 1e-6, 1e-7);
  });

  test('rejects mismatched shapes', () => {
    expect(() => fusedLstmCell(zeros([2, 8]), zeros([2, 4]), zeros([2, 2]))).toThrow('fusedLstmCell: gates [2, 8] and [2, 4] do not fit cell state [2, 2]');
  });

  test('rejects mixed dtypes', () => {
    expect(() => fusedLstmCell(zeros([1, 4]), zeros([1, 4]), zeros([1, 1], { dtype: 'float64' }))).toThrow('dtypes differ');
  });
});
