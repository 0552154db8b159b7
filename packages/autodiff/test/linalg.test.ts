import fc from 'fast-check';
import { type Tensor, add, batchedLinear, expand, grad, linear, matmul, ones, transpose, unsqueeze } from '@metagrad/autodiff';
import { RUNS, checkGradients, constant, expectClose, leaf, rangeArb, sizeOf, valuesArb, valuesOf } from './helpers';

/** Generates float64 leaves of the given shapes. */
function operandsArb(...shapes: number[][]): fc.Arbitrary<Tensor[]> {
  return fc.tuple(...shapes.map((shape) => valuesArb(sizeOf(shape), rangeArb(-2, 2)))).map((lists) => lists.map((values, i) => leaf(values, shapes[i])));
}

const dimArb = fc.integer({ min: 1, max: 3 });

describe('matmul', () => {
  const cases: Array<{ name: string; shapes: (m: number, k: number, n: number) => [number[], number[]]; result: (m: number, n: number) => number[] }> = [
    { name: '2-D', shapes: (m, k, n) => [[m, k], [k, n]], result: (m, n) => [m, n] },
    { name: 'batched', shapes: (m, k, n) => [[2, m, k], [2, k, n]], result: (m, n) => [2, m, n] },
    { name: 'broadcast batch', shapes: (m, k, n) => [[2, 1, m, k], [3, k, n]], result: (m, n) => [2, 3, m, n] },
    { name: 'vector times vector', shapes: (_m, k) => [[k], [k]], result: () => [] },
    { name: 'vector times matrix', shapes: (_m, k, n) => [[k], [k, n]], result: (_m, n) => [n] },
    { name: 'matrix times vector', shapes: (m, k) => [[m, k], [k]], result: (m) => [m] },
    { name: 'vector times batch', shapes: (_m, k, n) => [[k], [2, k, n]], result: (_m, n) => [2, n] },
    { name: 'batch times vector', shapes: (m, k) => [[2, m, k], [k]], result: (m) => [2, m] },
  ];

  test.each(cases)('$name', ({ shapes, result }) => {
    const arb = fc.tuple(dimArb, dimArb, dimArb).chain(([m, k, n]) => fc.tuple(fc.constant([m, n]), operandsArb(...shapes(m, k, n))));
    fc.assert(
      fc.property(arb, ([[m, n], [a, b]]) => {
        expect(matmul(a, b).shape).toEqual(result(m, n));
        checkGradients(matmul, [a, b]);
      }),
      RUNS,
    );
  });

  test('product by hand', () => {
    const a = leaf([1, 2, 3, 4], [2, 2]);
    const b = leaf([5, 6, 7, 8], [2, 2]);
    expect(valuesOf(matmul(a, b))).toEqual([19, 22, 43, 50]);
    matmul(a, b).sum().backward();
    // d/dA sum(AB) = 1 Bᵀ, so each row of it is the row sums of B. d/dB = Aᵀ 1, so each column is the column sums of A.
    expect(valuesOf(a.grad!)).toEqual([11, 15, 11, 15]);
    expect(valuesOf(b.grad!)).toEqual([4, 4, 6, 6]);
  });

  test('transposed operand', () => {
    checkGradients((a, b) => matmul(transpose(a), b), [leaf([1, -2, 0.5, 3, 0.25, -1], [3, 2]), leaf([0.5, 1, -1, 2, 0, 1], [3, 2])]);
  });

  test('a right operand broadcast over the batch', () => {
    // The repeated matrix gets one product over the flattened batch. The broadcast view itself,
    // when a pass requests it, gets one product per batch index.
    const arb = fc.tuple(dimArb, dimArb, dimArb, dimArb).chain(([batch, m, k, n]) => fc.tuple(fc.constant([batch, k, n]), operandsArb([batch, m, k], [k, n])));
    fc.assert(
      fc.property(arb, ([shape, [a, w]]) => {
        checkGradients((left, right) => matmul(left, expand(unsqueeze(right, 0), shape)), [a, w]);
        checkGradients((left, right) => matmul(left, expand(right, shape)), [a, w]);

        const broadcast = expand(unsqueeze(w, 0), shape);
        const [perIndex] = grad(matmul(a, broadcast).sum(), broadcast);
        expectClose(valuesOf(perIndex), valuesOf(matmul(transpose(a), ones([shape[0], a.shape[1], shape[2]], { dtype: 'float64' }))), 1e-12, 1e-14);
      }),
      RUNS,
    );
  });

  test('a broadcast right operand whose batch the left operand lacks', () => {
    checkGradients((left, right) => matmul(left, expand(unsqueeze(right, 0), [3, 2, 2])), [leaf([1, -2, 0.5, 3], [2, 2]), leaf([0.5, 1, -1, 2], [2, 2])]);
    checkGradients((left, right) => matmul(left, expand(right, [2, 3, 2, 2])), [leaf([1, -2, 0.5, 3, 0.25, -1, 2, 0.1], [2, 1, 2, 2]), leaf([0.5, 1, -1, 2, 0, 1, 0.3, -0.7], [2, 1, 2, 2])]);
  });

  test('transposed operands get row-major gradients', () => {
    const x = leaf([1, -2, 0.5, 3, 0.25, -1], [3, 2]);
    const w = leaf([0.5, 1, -1, 2, 0, 1], [2, 3]);
    const [dx, dw] = grad(matmul(transpose(x), transpose(w)).sum(), [x, w]);

    expect(dx.stride).toEqual([2, 1]);
    expect(dw.stride).toEqual([3, 1]);
    expect(valuesOf(dx)).toEqual([2.5, 2.5, 1, 1, 0, 0]);
    expect(valuesOf(dw)).toEqual([-1, 3.5, -0.75, -1, 3.5, -0.75]);
  });

  test('inner dimensions that differ are rejected', () => {
    expect(() => matmul(leaf([1, 2, 3, 4, 5, 6], [2, 3]), leaf([1, 2, 3, 4], [2, 2]))).toThrow(/matmul.*\[2, 3\].*\[2, 2\]/);
  });

  test('scalar operand is rejected', () => {
    expect(() => matmul(leaf(2), leaf([1, 2], [2]))).toThrow('matmul: operands must have at least one axis, got a [] and b [2]; use mul for scalars');
  });
});

describe('linear', () => {
  const cases = [
    { name: '2-D input with bias', inputShape: [2, 3], bias: true },
    { name: '2-D input without bias', inputShape: [2, 3], bias: false },
    { name: '3-D input with bias', inputShape: [2, 2, 3], bias: true },
    { name: '3-D input without bias', inputShape: [2, 2, 3], bias: false },
    { name: '1-D input with bias', inputShape: [3], bias: true },
  ];

  test.each(cases)('$name', ({ inputShape, bias }) => {
    const shapes = bias ? [inputShape, [2, 3], [2]] : [inputShape, [2, 3]];
    fc.assert(
      fc.property(operandsArb(...shapes), (inputs) => {
        const [x, weight, b] = inputs;
        const expected = b ? add(matmul(x, transpose(weight)), b) : matmul(x, transpose(weight));
        const result = linear(x, weight, b);
        expect(result.shape).toEqual([...inputShape.slice(0, -1), 2]);
        expectClose(valuesOf(result), valuesOf(expected), 1e-12, 1e-14);
        checkGradients((...args) => linear(args[0], args[1], args[2]), inputs);
      }),
      RUNS,
    );
  });

  test('linear with constant input', () => {
    const x = constant([1, 2, 3, 4, 5, 6], [2, 3]);
    checkGradients((weight, b) => linear(x, weight, b), [leaf([0.1, 0.2, -0.3, 0.4, -0.5, 0.6], [2, 3]), leaf([1, -1], [2])]);
  });

  test('weight that does not fit is rejected', () => {
    expect(() => linear(leaf([1, 2, 3], [1, 3]), leaf([1, 2, 3, 4], [2, 2]))).toThrow(
      'linear: weight [2, 2] does not fit input [1, 3]; weight must be [outFeatures, inFeatures] with inFeatures equal to the last axis of the input',
    );
  });

  test('bias of the wrong size is rejected', () => {
    expect(() => linear(leaf([1, 2], [1, 2]), leaf([1, 2, 3, 4], [2, 2]), leaf([1, 2, 3], [3]))).toThrow('linear: bias must have shape [2], got [3]');
  });
});

describe('batchedLinear', () => {
  test.each([true, false])('matches matmul and add (bias %s)', (bias) => {
    const shapes = bias ? [[2, 3, 4], [2, 5, 4], [2, 5]] : [[2, 3, 4], [2, 5, 4]];
    fc.assert(
      fc.property(operandsArb(...shapes), (inputs) => {
        const [x, weight, b] = inputs;
        const product = matmul(x, transpose(weight));
        const expected = b ? add(product, unsqueeze(b, 1)) : product;

        expectClose(valuesOf(batchedLinear(x, weight, b)), valuesOf(expected), 1e-12, 1e-14);
        checkGradients((...args) => batchedLinear(args[0], args[1], args[2]), inputs);
      }),
      RUNS,
    );
  });

  test('gradcheck of broadcast weight and bias', () => {
    const f = (x: Tensor, weight: Tensor, b: Tensor) => batchedLinear(x, expand(unsqueeze(weight, 0), [3, 2, 2]), expand(unsqueeze(b, 0), [3, 2]));

    checkGradients(f, [leaf([1, -2, 3, 0.5, -1, 2, 0.3, 0.7, -0.4, 1.1, 0.2, -0.6], [3, 2, 2]), leaf([0.1, -0.2, 0.3, 0.4], [2, 2]), leaf([1, -1], [2])]);
  });

  test('broadcast weight and bias give the same gradient as copies of them', () => {
    fc.assert(
      fc.property(operandsArb([3, 4, 2], [5, 2], [5], [3, 4, 5]), ([x, weight, b, seed]) => {
        const shared = batchedLinear(x, expand(unsqueeze(weight, 0), [3, 5, 2]), expand(unsqueeze(b, 0), [3, 5]));
        const copied = batchedLinear(x, expand(unsqueeze(weight, 0), [3, 5, 2]).contiguous(), expand(unsqueeze(b, 0), [3, 5]).contiguous());
        const [sharedWeight, sharedBias] = grad(shared.mul(seed).sum(), [weight, b]);
        const [copiedWeight, copiedBias] = grad(copied.mul(seed).sum(), [weight, b]);

        expectClose(valuesOf(sharedWeight), valuesOf(copiedWeight), 1e-12, 1e-14);
        expectClose(valuesOf(sharedBias), valuesOf(copiedBias), 1e-12, 1e-14);
      }),
      RUNS,
    );
  });

  test('a per-task bias column broadcast over outputs', () => {
    // A bias [B, 1] expanded to [B, out] with B = out: its gradient sums over outputs, not tasks.
    const f = (x: Tensor, weight: Tensor, column: Tensor) => batchedLinear(x, expand(unsqueeze(weight, 0), [3, 3, 2]), expand(column, [3, 3])).mul(constant([0, 1, 2], [3]));
    const inputs = [leaf([1, -2, 3, 0.5, -1, 2, 0.3, 0.7, -0.4, 1.1, 0.2, -0.6], [3, 2, 2]), leaf([0.1, -0.2, 0.3, 0.4, 0.5, -0.6], [3, 2]), leaf([1, 2, 3], [3, 1])];
    const [dColumn] = grad(f(inputs[0], inputs[1], inputs[2]).sum(), [inputs[2]]);

    expect(valuesOf(dColumn)).toEqual([6, 6, 6]);
    checkGradients(f, inputs);
  });

  test('rejects a weight that does not fit', () => {
    expect(() => batchedLinear(leaf([1, 2, 3, 4], [2, 1, 2]), leaf([1, 2, 3, 4], [1, 2, 2]))).toThrow(
      'batchedLinear: weight [1, 2, 2] does not fit input [2, 1, 2]; the input must be [B, N, inFeatures] and the weight [B, outFeatures, inFeatures]',
    );
  });

  test('rejects a bias that is not a tensor', () => {
    expect(() => batchedLinear(leaf([1, 2], [1, 1, 2]), leaf([1, 2, 3, 4], [1, 2, 2]), [1, 2] as unknown as Tensor)).toThrow('batchedLinear: the bias must be a Tensor, got an array');
  });

  test('rejects mixed dtypes', () => {
    const x = leaf([1, 2], [1, 1, 2]).to('float32');

    expect(() => batchedLinear(x, leaf([1, 2, 3, 4], [1, 2, 2]))).toThrow('batchedLinear: dtypes differ: input float32, weight float64; convert them with .to()');
  });

  test('rejects a bias of the wrong shape', () => {
    expect(() => batchedLinear(leaf([1, 2], [1, 1, 2]), leaf([1, 2, 3, 4], [1, 2, 2]), leaf([1, 2], [2]))).toThrow('batchedLinear: bias must have shape [1, 2], got [2]');
  });
});
