import fc from 'fast-check';
import { type Tensor, elu, gelu, leakyRelu, logSoftmax, relu, softmax, softplus } from '@metagrad/autodiff';
import { RUNS, awayFromZeroArb, checkGradients, expectClose, leaf, rangeArb, shapeArb, tensorArb, valuesOf } from './helpers';

describe('activations', () => {
  const cases: Array<{ name: string; f: (x: Tensor) => Tensor; domain: fc.Arbitrary<number> }> = [
    { name: 'relu', f: relu, domain: awayFromZeroArb() },
    { name: 'leakyRelu', f: (x) => leakyRelu(x, 0.2), domain: awayFromZeroArb() },
    { name: 'leakyRelu with default slope', f: (x) => leakyRelu(x), domain: awayFromZeroArb() },
    { name: 'elu', f: (x) => elu(x), domain: awayFromZeroArb() },
    { name: 'elu with alpha 0.5', f: (x) => elu(x, 0.5), domain: awayFromZeroArb() },
    { name: 'gelu', f: gelu, domain: rangeArb(-3, 3) },
    { name: 'softplus', f: softplus, domain: rangeArb(-4, 4) },
  ];

  test.each(cases)('$name', ({ f, domain }) => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), domain), ({ shape, values }) => {
        checkGradients(f, [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('softplus gradient at large inputs', () => {
    const x = leaf([-800, 800], [2]);
    softplus(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 1]);
  });

  test('gelu gradient by hand', () => {
    const x = leaf([0, 1], [2]);
    gelu(x).sum().backward();
    // d/dx x Φ(x) = Φ(x) + x φ(x), with Φ(0) = 0.5, Φ(1) = 0.8413447460685429 and φ(1) = e^(-1/2) / sqrt(2π).
    expectClose(valuesOf(x.grad!), [0.5, 0.8413447460685429 + Math.exp(-0.5) / Math.sqrt(2 * Math.PI)], 1e-12);
  });
});

describe('softmax and logSoftmax', () => {
  const cases = [
    { name: 'softmax', f: softmax },
    { name: 'logSoftmax', f: logSoftmax },
  ];

  const withAxisArb = tensorArb(shapeArb(1, 3), rangeArb(-3, 3)).chain((t) =>
    fc.record({ shape: fc.constant(t.shape), values: fc.constant(t.values), axis: fc.integer({ min: -t.shape.length, max: t.shape.length - 1 }) }),
  );

  test.each(cases)('$name along generated axes', ({ f }) => {
    fc.assert(
      fc.property(withAxisArb, ({ shape, values, axis }) => {
        checkGradients((x) => f(x, axis), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test.each(cases)('$name default axis is the last', ({ f }) => {
    const x = leaf([1, 2, 3, 0, -1, 5], [2, 3]);
    expect(valuesOf(f(x))).toEqual(valuesOf(f(x, 1)));
  });

  test('softmax gradient of a weighted sum', () => {
    // d/dx sum(w * softmax(x)) = y * (w - sum(w * y)).
    const x = leaf([0.5, -1, 2], [3]);
    const w = [1, 2, 3];
    const y = valuesOf(softmax(x));
    softmax(x).mul(leaf(w, [3]).detach()).sum().backward();
    const weighted = y.reduce((total, v, i) => total + v * w[i], 0);
    expectClose(valuesOf(x.grad!), y.map((v, i) => v * (w[i] - weighted)), 1e-12);
  });
});
