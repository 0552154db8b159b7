import fc from 'fast-check';
import { type Axes, type Tensor, logsumexp, max, mean, min, std, sum, variance } from '@metagrad/autodiff';
import { RUNS, checkGradients, distinctValuesArb, expectClose, leaf, rangeArb, shapeArb, sizeOf, valuesArb, valuesOf } from './helpers';

/** A shape, the axes to reduce (undefined, one axis, possibly negative, or a list) and keepDims. */
const reductionArb = shapeArb(1, 3).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.oneof(
      fc.constant<Axes>(undefined),
      fc.integer({ min: -shape.length, max: shape.length - 1 }),
      fc.subarray(shape.map((_, axis) => axis), { minLength: 1 }),
    ),
    keepDims: fc.boolean(),
  }),
);

/** Counts the elements that each output of a reduction combines. */
function blockSize(shape: number[], axes: Axes): number {
  if (axes === undefined) return sizeOf(shape);
  const list = typeof axes === 'number' ? [axes] : axes;
  return list.reduce((product, axis) => product * shape[(axis + shape.length) % shape.length], 1);
}

type Reduction = (x: Tensor, axes?: Axes, keepDims?: boolean) => Tensor;

describe('reductions of any values', () => {
  const cases: Array<{ name: string; f: Reduction }> = [
    { name: 'sum', f: sum },
    { name: 'mean', f: mean },
    { name: 'logsumexp', f: logsumexp },
  ];

  test.each(cases)('$name over generated axes', ({ f }) => {
    const arb = reductionArb.chain((r) => valuesArb(sizeOf(r.shape), rangeArb(-2, 2)).map((values) => ({ ...r, values })));
    fc.assert(
      fc.property(arb, ({ shape, values, axes, keepDims }) => {
        checkGradients((x) => f(x, axes, keepDims), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('sum keeps reduced axes with keepDims', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(sum(x, 1, true).shape).toEqual([2, 1]);
    expect(sum(x, [0, 1]).shape).toEqual([]);
    expect(valuesOf(sum(x, 0))).toEqual([5, 7, 9]);
  });

  test('mean gradient by hand', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    mean(x, -1).sum().backward();
    expectClose(valuesOf(x.grad!), [1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3]);
  });

  test('logsumexp of a -Infinity block', () => {
    const x = leaf([-Infinity, -Infinity, 0, 0], [2, 2]);
    const result = logsumexp(x, 1);
    expect(valuesOf(result)).toEqual([-Infinity, Math.log(2)]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 0.5, 0.5]);
  });
});

describe('max and min reductions', () => {
  test.each([
    { name: 'max', f: max },
    { name: 'min', f: min },
  ])('$name over generated axes with distinct values', ({ f }) => {
    const arb = reductionArb.chain((r) => distinctValuesArb(sizeOf(r.shape)).map((values) => ({ ...r, values })));
    fc.assert(
      fc.property(arb, ({ shape, values, axes, keepDims }) => {
        checkGradients((x) => f(x, axes, keepDims), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('max over two axes by hand', () => {
    const x = leaf([1, 9, 3, 4, 5, 6, 7, 8, 2, 0, 11, 10], [2, 3, 2]);
    max(x, [0, 2]).sum().backward();
    // Blocks along axis 1: {1, 9, 7, 8} -> 9, {3, 4, 2, 0} -> 4, {5, 6, 11, 10} -> 11.
    expect(valuesOf(x.grad!)).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]);
  });
});

describe('variance and std', () => {
  const cases: Array<{ name: string; f: (x: Tensor, axes: Axes, keepDims: boolean, correction: number) => Tensor }> = [
    { name: 'var', f: (x, axes, keepDims, correction) => x.var(axes, keepDims, correction) },
    { name: 'variance', f: variance },
    { name: 'std', f: (x, axes, keepDims, correction) => x.std(axes, keepDims, correction) },
    { name: 'std function', f: std },
  ];

  test.each(cases)('$name over generated axes', ({ f }) => {
    // Distinct values keep every block's deviation away from 0, where std has no derivative.
    const arb = reductionArb
      .filter(({ shape, axes }) => blockSize(shape, axes) >= 2)
      .chain((r) => fc.tuple(distinctValuesArb(sizeOf(r.shape)), fc.constantFrom(0, 1)).map(([values, correction]) => ({ ...r, values, correction })));
    fc.assert(
      fc.property(arb, ({ shape, values, axes, keepDims, correction }) => {
        checkGradients((x) => f(x, axes, keepDims, correction), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('var is unbiased by default', () => {
    const x = leaf([1, 2, 3, 4], [4]);
    expectClose(valuesOf(x.var()), [5 / 3]);
    expectClose(valuesOf(x.var(undefined, false, 0)), [5 / 4]);
    expectClose(valuesOf(x.std()), [Math.sqrt(5 / 3)]);
  });

  test('var gradient by hand', () => {
    // d/dx_i var(x) = 2 (x_i - mean) / (n - 1).
    const x = leaf([1, 2, 3, 4], [4]);
    x.var().backward();
    expectClose(valuesOf(x.grad!), [-1, -1 / 3, 1 / 3, 1]);
  });
});
