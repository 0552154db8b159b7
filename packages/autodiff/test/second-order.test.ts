/**
 * Second derivatives of the functions that training and meta-learning differentiate twice,
 * checked against finite differences of the gradient, and Hessians against closed forms.
 */
import fc from 'fast-check';
import { type Tensor, exp, gather, grad, gradgradcheck, hessian, logSoftmax, sigmoid, softmax, tanh } from '@metagrad/autodiff';
import { RUNS, constant, distinctValuesArb, expectClose, leaf, rangeArb, shapeArb, sizeOf, valuesArb, valuesOf } from './helpers';

/** (x - mean) / sqrt(var + eps) over the last axis, written with ops as a layer norm does. */
function layerNorm(x: Tensor, eps = 1e-5): Tensor {
  const centered = x.sub(x.mean(-1, true));
  return centered.div(x.var(-1, true, 0).add(eps).sqrt());
}

/** Mean negative log-likelihood of `targets` ([N, 1] class indices) under softmax(logits). */
function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  return gather(logSoftmax(logits, -1), 1, targets).neg().mean();
}

describe('second derivatives against finite differences', () => {
  const anyValues = (size: number) => valuesArb(size, rangeArb(-2, 2));
  const cases: Array<{ name: string; f: (x: Tensor) => Tensor; values: (size: number) => fc.Arbitrary<number[]> }> = [
    { name: 'tanh', f: tanh, values: anyValues },
    { name: 'sigmoid', f: sigmoid, values: anyValues },
    { name: 'exp', f: exp, values: anyValues },
    { name: 'softmax', f: (x) => softmax(x, -1), values: anyValues },
    { name: 'logSoftmax', f: (x) => logSoftmax(x, -1), values: anyValues },
    // Distinct values keep each row's spread well above eps, where finite differences stay accurate.
    { name: 'layer norm', f: (x) => layerNorm(x), values: distinctValuesArb },
  ];

  test.each(cases)('$name', ({ f, values }) => {
    const arb = shapeArb(1, 2, 4).chain((shape) => values(sizeOf(shape)).map((v) => leaf(v, shape)));
    fc.assert(
      fc.property(arb, (x) => {
        expect(gradgradcheck(f, [x])).toBe(true);
      }),
      RUNS,
    );
  });

  test('layer norm of a row with one element', () => {
    // The row equals its mean, so the result is 0 with finite derivatives of every order.
    expect(gradgradcheck((x) => layerNorm(x), [leaf([0.5, -1], [2, 1])])).toBe(true);
  });

  test('cross-entropy', () => {
    const arb = fc.record({
      logits: fc.array(rangeArb(-3, 3), { minLength: 6, maxLength: 6 }),
      targets: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 }),
    });
    fc.assert(
      fc.property(arb, ({ logits, targets }) => {
        const target = constant(targets, [2, 1]);
        expect(gradgradcheck((x) => crossEntropy(x, target), [leaf(logits, [2, 3])])).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('Hessians in closed form', () => {
  test('sum of tanh has a diagonal Hessian', () => {
    const values = [-1.5, -0.2, 0.4, 2];
    const h = hessian((x) => tanh(x).sum(), leaf(values, [4]));
    expect(h.shape).toEqual([4, 4]);

    const expected = values.flatMap((v, i) =>
      values.map((_, j) => {
        const t = Math.tanh(v);
        return i === j ? -2 * t * (1 - t * t) : 0;
      }),
    );
    expectClose(valuesOf(h), expected, 1e-12, 1e-15);
    expect(valuesOf(h).some((v) => Math.abs(v) > 0.1)).toBe(true);
  });

  test('cross-entropy Hessian is (diag(p) - p pᵀ) / N', () => {
    const logits = [0.3, -1, 2, 1, 0, -0.5];
    const target = constant([2, 0], [2, 1]);
    const h = hessian((x) => crossEntropy(x, target), leaf(logits, [2, 3]));
    expect(h.shape).toEqual([2, 3, 2, 3]);

    const p = valuesOf(softmax(constant(logits, [2, 3])));
    const expected: number[] = [];
    for (let a = 0; a < 6; a++) {
      for (let b = 0; b < 6; b++) {
        const sameRow = Math.floor(a / 3) === Math.floor(b / 3);
        const diagonal = a === b ? p[a] : 0;
        expected.push(sameRow ? (diagonal - p[a] * p[b]) / 2 : 0);
      }
    }
    expectClose(valuesOf(h), expected, 1e-12, 1e-15);
  });

  test('second derivative of sigmoid by hand', () => {
    const x = leaf([0.7], [1]);
    const [first] = grad(sigmoid(x).sum(), x, { createGraph: true });
    const [second] = grad(first.sum(), x);
    const s = 1 / (1 + Math.exp(-0.7));
    expectClose(valuesOf(second), [s * (1 - s) * (1 - 2 * s)], 1e-12);
  });
});
