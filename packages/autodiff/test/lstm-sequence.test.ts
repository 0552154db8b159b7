import fc from 'fast-check';
import {
  type Tensor, concat, fusedLstmCell, grad, linear, lstmSequence, mul, narrow, permute, randn, slice, stack, sum, tensor, where, zeros,
} from '@metagrad/autodiff';
import { RUNS, checkGradients, expectClose, valuesOf } from './helpers';

/**
 * The same recurrence as a loop of per-step ops, the reference lstmSequence must match: a row
 * past its length keeps its state, as in the op.
 */
function unrolled(inputGates: Tensor, weightHh: Tensor, biasHh: Tensor | null, hidden: Tensor, cell: Tensor, lengths?: number[], reverse = false): Tensor {
  const [steps, rows] = inputGates.shape;
  const size = hidden.shape[1];
  const states = new Array<Tensor>(steps);
  let [h, c] = [hidden, cell];
  for (let i = 0; i < steps; i++) {
    const t = reverse ? steps - 1 - i : i;
    let next = fusedLstmCell(slice(inputGates, t), linear(h, weightHh, biasHh), c);
    if (lengths) {
      const mask = zeros([rows, 1], { dtype: 'float64' });
      lengths.forEach((length, n) => (mask.data[n] = t < length ? 1 : 0));
      next = where(mask, next, concat([h, c], 1));
    }
    states[t] = next;
    [h, c] = [narrow(next, 1, 0, size), narrow(next, 1, size, size)];
  }
  return stack(states, 0);
}

function float64Leaf(shape: number[], seed: number, scale = 1): Tensor {
  return mul(randn(shape, { dtype: 'float64', seed }), scale).detach().requiresGrad_(true);
}

/** Operands of a sequence of `steps` steps, `rows` rows and `size` units, from `seed`. */
function operands(steps: number, rows: number, size: number, seed: number): Tensor[] {
  return [
    float64Leaf([steps, rows, 4 * size], seed, 1.5),
    float64Leaf([4 * size, size], seed + 1, 0.8),
    float64Leaf([4 * size], seed + 2, 0.5),
    float64Leaf([rows, size], seed + 3),
    float64Leaf([rows, size], seed + 4),
  ];
}

/** First-order gradients of sum(f(...) * weights) with respect to every operand. */
function gradientsOf(f: (...x: Tensor[]) => Tensor, inputs: Tensor[], seed: number): number[][] {
  const result = f(...inputs);
  const weights = randn(result.shape, { dtype: 'float64', seed });
  return grad(sum(mul(result, weights)), inputs).map(valuesOf);
}

const cases: Array<[string, number[] | undefined, boolean]> = [
  ['forward', undefined, false],
  ['reverse', undefined, true],
  ['forward with lengths', [3, 1, 2], false],
  ['reverse with lengths', [2, 3, 1], true],
];

describe('lstmSequence', () => {
  test.each(cases)('matches the per-step loop (%s)', (_, lengths, reverse) => {
    const inputs = operands(3, 3, 2, 1);
    const fused = (...x: Tensor[]) => lstmSequence5(x, lengths, reverse);
    const reference = (...x: Tensor[]) => unrolled(x[0], x[1], x[2], x[3], x[4], lengths, reverse);

    expectClose(valuesOf(fused(...inputs)), valuesOf(reference(...inputs)), 1e-12, 1e-14);
    const expected = gradientsOf(reference, inputs, 9);
    gradientsOf(fused, inputs, 9).forEach((gradient, i) => expectClose(gradient, expected[i], 1e-11, 1e-13));
  });

  test.each(cases)('gradcheck and gradgradcheck (%s)', (_, lengths, reverse) => {
    checkGradients((...x: Tensor[]) => lstmSequence5(x, lengths, reverse), operands(3, 3, 2, 20));
  });

  test('recorded gradients equal plain ones', () => {
    const inputs = operands(4, 2, 3, 30);
    const result = lstmSequence5(inputs, [4, 2]);
    const weights = randn(result.shape, { dtype: 'float64', seed: 31 });
    const loss = sum(mul(result, weights));

    const plain = grad(loss, inputs, { retainGraph: true }).map(valuesOf);
    const recorded = grad(loss, inputs, { createGraph: true }).map(valuesOf);
    recorded.forEach((gradient, i) => expectClose(gradient, plain[i], 1e-12, 1e-14));
  });

  test('gradcheck of strided operands, no bias', () => {
    const [gates, weight, , hidden, cell] = operands(2, 2, 2, 40);
    const f = (x: Tensor, w: Tensor, h: Tensor, c: Tensor) => lstmSequence(permute(x, [1, 0, 2]), w, null, h, c);

    checkGradients(f, [permute(gates, [1, 0, 2]).detach().requiresGrad_(true), weight, hidden, cell]);
  });

  test('property: matches the per-step loop', () => {
    const sizes = fc.record({ steps: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 3 }), seed: fc.nat(1000) });
    fc.assert(
      fc.property(sizes.chain((s) => fc.tuple(fc.constant(s), fc.array(fc.integer({ min: 1, max: s.steps }), { minLength: s.rows, maxLength: s.rows }), fc.boolean())), ([s, lengths, reverse]) => {
        const inputs = operands(s.steps, s.rows, s.size, s.seed);
        const reference = (...x: Tensor[]) => unrolled(x[0], x[1], x[2], x[3], x[4], lengths, reverse);
        const fused = (...x: Tensor[]) => lstmSequence5(x, lengths, reverse);

        expectClose(valuesOf(fused(...inputs)), valuesOf(reference(...inputs)), 1e-12, 1e-14);
        const expected = gradientsOf(reference, inputs, s.seed + 7);
        gradientsOf(fused, inputs, s.seed + 7).forEach((gradient, i) => expectClose(gradient, expected[i], 1e-11, 1e-13));
      }),
      RUNS,
    );
  });

  test('lengths are copied at forward time', () => {
    const inputs = operands(3, 2, 2, 50);
    const lengths = [3, 1];
    const result = lstmSequence5(inputs, lengths);
    const expected = gradientsOf((...x: Tensor[]) => lstmSequence5(x, [3, 1]), inputs, 51);

    lengths[1] = 3;
    const weights = randn(result.shape, { dtype: 'float64', seed: 51 });
    grad(sum(mul(result, weights)), inputs).map(valuesOf).forEach((gradient, i) => expectClose(gradient, expected[i], 1e-12, 1e-14));
  });

  test('lengths as a tensor', () => {
    const inputs = operands(3, 2, 2, 60);

    expect(valuesOf(lstmSequence(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], { lengths: tensor([3, 1]) }))).toEqual(valuesOf(lstmSequence5(inputs, [3, 1])));
  });

  test('float32 operands, float32 result', () => {
    const result = lstmSequence(zeros([2, 1, 4]), zeros([4, 1]), null, zeros([1, 1]), zeros([1, 1]));

    expect(result.dtype).toBe('float32');
    expect(result.shape).toEqual([2, 1, 2]);
  });

  test('rejects mismatched operands', () => {
    expect(() => lstmSequence(zeros([2, 1, 8]), zeros([4, 1]), null, zeros([1, 1]), zeros([1, 1]))).toThrow(
      'lstmSequence: operands [2, 1, 8], [4, 1], [1, 1], [1, 1] do not fit',
    );
  });

  test('rejects empty batches and widths', () => {
    expect(() => lstmSequence(zeros([2, 0, 4]), zeros([4, 1]), null, zeros([0, 1]), zeros([0, 1]))).toThrow('lstmSequence: operands [2, 0, 4], [4, 1], [0, 1], [0, 1] do not fit');
    expect(() => lstmSequence(zeros([2, 1, 0]), zeros([0, 0]), null, zeros([1, 0]), zeros([1, 0]))).toThrow('with T, N and hidden >= 1');
  });

  test('rejects a reverse that is not a boolean', () => {
    const run = () => lstmSequence(zeros([2, 1, 4]), zeros([4, 1]), null, zeros([1, 1]), zeros([1, 1]), { reverse: 'no' as never });

    expect(run).toThrow('lstmSequence: reverse must be true or false, got "no"');
  });

  test('rejects lengths outside [1, T]', () => {
    const run = (lengths: number[]) => () => lstmSequence(zeros([2, 2, 4]), zeros([4, 1]), null, zeros([2, 1]), zeros([2, 1]), { lengths });

    expect(run([1, 3])).toThrow('lstmSequence: length 3 of sequence 1 must be an integer in [1, 2]');
    expect(run([1])).toThrow('lstmSequence: got 1 lengths for 2 sequences');
    expect(run(['2', 1] as unknown as number[])).toThrow('lstmSequence: length "2" of sequence 0 must be an integer in [1, 2]');
  });
});

/** lstmSequence of the five operands made by `operands`. */
function lstmSequence5(x: readonly Tensor[], lengths?: number[], reverse = false): Tensor {
  return lstmSequence(x[0], x[1], x[2], x[3], x[4], { lengths, reverse });
}
