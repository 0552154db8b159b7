import fc from 'fast-check';
import { Generator, dropout } from '@metagrad/autodiff';
import { RUNS, checkGradients, leaf, rangeArb, shapeArb, tensorArb, valuesOf } from './helpers';

describe('dropout', () => {
  test('fixed seed gives a constant mask', () => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), rangeArb(-2, 2)), fc.constantFrom(0.2, 0.5, 0.8), fc.nat(1000), ({ shape, values }, p, seed) => {
        checkGradients((x) => dropout(x, p, { seed }), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('gradient is the mask', () => {
    const x = leaf(new Array(100).fill(1), [100]);
    const result = dropout(x, 0.25, { seed: 7 });
    result.sum().backward();
    const outputs = valuesOf(result);
    const dropped = outputs.filter((v) => v === 0).length;

    expect(valuesOf(x.grad!)).toEqual(outputs);
    for (const value of outputs) expect([0, 1 / 0.75]).toContain(value);
    expect(dropped).toBeGreaterThan(10);
    expect(dropped).toBeLessThan(40);
  });

  test('same seed gives the same mask', () => {
    const x = leaf(new Array(20).fill(1), [20]);
    expect(valuesOf(dropout(x, 0.5, { seed: 3 }))).toEqual(valuesOf(dropout(x, 0.5, { seed: 3 })));
    expect(valuesOf(dropout(x, 0.5, { generator: new Generator(3) }))).toEqual(valuesOf(dropout(x, 0.5, { seed: 3 })));
  });

  test('evaluation and p 0 return the input', () => {
    const x = leaf([1, 2, 3], [3]);
    expect(dropout(x, 0.5, { training: false })).toBe(x);
    expect(dropout(x, 0)).toBe(x);
  });

  test('p 1 zeroes everything', () => {
    const x = leaf([1, 2, 3], [3]);
    const result = dropout(x, 1);
    expect(valuesOf(result)).toEqual([0, 0, 0]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 0]);
  });

  test('p outside [0, 1] is rejected', () => {
    expect(() => dropout(leaf([1], [1]), 1.5)).toThrow('dropout: probability p must be in [0, 1], got 1.5');
    expect(() => dropout(leaf([1], [1]), Number.NaN)).toThrow('dropout: probability p must be in [0, 1], got NaN');
  });

  test('seed and generator together are rejected', () => {
    expect(() => dropout(leaf([1], [1]), 0.5, { seed: 1, generator: new Generator(1) })).toThrow('pass either a seed or a generator, not both');
  });
});
