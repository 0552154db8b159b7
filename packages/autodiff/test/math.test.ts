import fc from 'fast-check';
import { type Tensor, abs, cos, erf, exp, expm1, log, log1p, rsqrt, sigmoid, sign, sin, sqrt, tanh } from '@metagrad/autodiff';
import { RUNS, awayFromZeroArb, checkGradients, expectClose, leaf, rangeArb, shapeArb, tensorArb, valuesOf } from './helpers';

/** Each elementwise function, the domain its inputs are drawn from, and a reference derivative. */
const cases: Array<{ name: string; f: (x: Tensor) => Tensor; domain: fc.Arbitrary<number>; derivative: (x: number) => number }> = [
  { name: 'exp', f: exp, domain: rangeArb(-2, 2), derivative: Math.exp },
  { name: 'expm1', f: expm1, domain: rangeArb(-2, 2), derivative: Math.exp },
  { name: 'log', f: log, domain: rangeArb(0.2, 3), derivative: (x) => 1 / x },
  { name: 'log1p', f: log1p, domain: rangeArb(-0.7, 3), derivative: (x) => 1 / (1 + x) },
  { name: 'sqrt', f: sqrt, domain: rangeArb(0.2, 3), derivative: (x) => 0.5 / Math.sqrt(x) },
  { name: 'rsqrt', f: rsqrt, domain: rangeArb(0.2, 3), derivative: (x) => -0.5 * x ** -1.5 },
  { name: 'abs', f: abs, domain: awayFromZeroArb(), derivative: Math.sign },
  { name: 'sign', f: sign, domain: awayFromZeroArb(), derivative: () => 0 },
  { name: 'sin', f: sin, domain: rangeArb(-4, 4), derivative: Math.cos },
  { name: 'cos', f: cos, domain: rangeArb(-4, 4), derivative: (x) => -Math.sin(x) },
  { name: 'tanh', f: tanh, domain: rangeArb(-3, 3), derivative: (x) => 1 - Math.tanh(x) ** 2 },
  { name: 'sigmoid', f: sigmoid, domain: rangeArb(-5, 5), derivative: (x) => Math.exp(-x) / (1 + Math.exp(-x)) ** 2 },
  { name: 'erf', f: erf, domain: rangeArb(-2, 2), derivative: (x) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) },
];

describe('elementwise functions', () => {
  test.each(cases)('$name gradients of first and second order', ({ f, domain }) => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), domain), ({ shape, values }) => {
        checkGradients(f, [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test.each(cases)('$name gradient matches its formula', ({ f, domain, derivative }) => {
    fc.assert(
      fc.property(tensorArb(shapeArb(1, 2), domain), ({ shape, values }) => {
        const x = leaf(values, shape);
        f(x).sum().backward();
        expectClose(valuesOf(x.grad!), values.map(derivative), 1e-12, 1e-15);
      }),
      RUNS,
    );
  });

  test('sigmoid gradient at large inputs', () => {
    const x = leaf([-800, 800], [2]);
    sigmoid(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0]);
  });
});
