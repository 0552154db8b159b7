import fc from 'fast-check';
import { stratifiedSplit } from '@metagrad/data';

function countOf(indices: number[], labels: number[], label: number): number {
  return indices.filter((index) => labels[index] === label).length;
}

describe('stratifiedSplit', () => {
  const labels = [...new Array<number>(70).fill(0), ...new Array<number>(30).fill(1)];

  test('keeps class shares', () => {
    const { train, test } = stratifiedSplit(labels, { testFraction: 0.2, seed: 3 });

    expect(test).toHaveLength(20);
    expect(countOf(test, labels, 0)).toBe(14);
    expect(countOf(test, labels, 1)).toBe(6);
    expect(countOf(train, labels, 0)).toBe(56);
    expect(countOf(train, labels, 1)).toBe(24);
  });

  test('parts are disjoint and cover all', () => {
    const { train, test } = stratifiedSplit(labels, { testFraction: 0.3, seed: 1 });

    expect(new Set([...train, ...test]).size).toBe(labels.length);
    expect(train.length + test.length).toBe(labels.length);
    expect(train).toEqual([...train].sort((a, b) => a - b));
    expect(test).toEqual([...test].sort((a, b) => a - b));
  });

  test('same seed, same split', () => {
    expect(stratifiedSplit(labels, { testFraction: 0.2, seed: 5 })).toEqual(stratifiedSplit(labels, { testFraction: 0.2, seed: 5 }));
  });

  test('different seeds, different splits', () => {
    expect(stratifiedSplit(labels, { testFraction: 0.2, seed: 5 }).test).not.toEqual(stratifiedSplit(labels, { testFraction: 0.2, seed: 6 }).test);
  });

  test('each class within one example of its share', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.nat(), (classes, fraction, seed) => {
        const { train, test } = stratifiedSplit(classes, { testFraction: fraction, seed });
        expect(train.length + test.length).toBe(classes.length);
        for (const label of new Set(classes)) {
          const total = classes.filter((value) => value === label).length;
          expect(Math.abs(countOf(test, classes, label) - total * fraction)).toBeLessThanOrEqual(0.5);
        }
      }),
    );
  });

  test.each([0, 1, -0.1, NaN])('rejects testFraction %p', (testFraction) => {
    expect(() => stratifiedSplit(labels, { testFraction })).toThrow('testFraction must be a number in (0, 1)');
  });

  test('rejects fractional labels', () => {
    expect(() => stratifiedSplit([0, 0.5], { testFraction: 0.5 })).toThrow('label 0.5 of example 1 is not an integer');
  });
});
