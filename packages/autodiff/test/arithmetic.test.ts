import fc from 'fast-check';
import { type Tensor, add, clamp, div, grad, gradgradcheck, maximum, minimum, mul, neg, pow, square, sub, where } from '@metagrad/autodiff';
import {
  RUNS, awayFromZeroArb, broadcastPairArb, checkGradients, constant, distinctValuesArb, expectClose, leaf, rangeArb, shapeArb, sizeOf,
  tensorArb, valuesArb, valuesOf,
} from './helpers';

/** Two broadcastable shapes with values from `element` for each operand. */
function operandsArb(element: fc.Arbitrary<number>, otherElement = element) {
  return broadcastPairArb().chain(([shapeA, shapeB]) =>
    fc.record({
      shapeA: fc.constant(shapeA),
      shapeB: fc.constant(shapeB),
      a: valuesArb(sizeOf(shapeA), element),
      b: valuesArb(sizeOf(shapeB), otherElement),
    }),
  );
}

type Binary = (a: Tensor, b: Tensor) => Tensor;

describe('binary arithmetic', () => {
  const cases: Array<{ name: string; f: Binary }> = [
    { name: 'add', f: add },
    { name: 'sub', f: sub },
    { name: 'mul', f: mul },
    { name: 'div', f: div },
  ];

  test.each(cases)('$name with broadcasting', ({ f }) => {
    fc.assert(
      fc.property(operandsArb(rangeArb(-2, 2), awayFromZeroArb(0.5, 2)), ({ shapeA, shapeB, a, b }) => {
        checkGradients(f, [leaf(a, shapeA), leaf(b, shapeB)]);
      }),
      RUNS,
    );
  });

  test.each(cases)('$name with one operand constant', ({ f }) => {
    fc.assert(
      fc.property(operandsArb(awayFromZeroArb(0.5, 2)), ({ shapeA, shapeB, a, b }) => {
        checkGradients((x) => f(x, constant(b, shapeB)), [leaf(a, shapeA)]);
        checkGradients((y) => f(constant(a, shapeA), y), [leaf(b, shapeB)]);
      }),
      RUNS,
    );
  });

  test('number operands', () => {
    const x = leaf([0.5, -1.5, 2], [3]);
    checkGradients((t) => add(t, 2), [x]);
    checkGradients((t) => sub(2, t), [x]);
    checkGradients((t) => mul(3, t), [x]);
    checkGradients((t) => div(1, t), [x]);
    checkGradients((t) => div(t, 4), [x]);
  });

  test('sub with alpha', () => {
    fc.assert(
      fc.property(operandsArb(rangeArb(-2, 2)), rangeArb(-3, 3), ({ shapeA, shapeB, a, b }, alpha) => {
        checkGradients((x, y) => sub(x, y, alpha), [leaf(a, shapeA), leaf(b, shapeB)]);
        expect(gradgradcheck((x, y) => sub(x, y, alpha).square(), [leaf(a, shapeA), leaf(b, shapeB)])).toBe(true);
      }),
      RUNS,
    );
  });

  test('sub with alpha equals sub of mul', () => {
    fc.assert(
      fc.property(operandsArb(rangeArb(-2, 2)), rangeArb(-3, 3), ({ shapeA, shapeB, a, b }, alpha) => {
        const x = constant(a, shapeA).to('float32').requiresGrad_(true);
        const y = constant(b, shapeB).to('float32').requiresGrad_(true);
        const fused = sub(x, y, alpha);
        const separate = sub(x, mul(y, alpha));
        const fusedGrads = grad(fused.square().sum(), [x, y]);
        const separateGrads = grad(separate.square().sum(), [x, y]);

        // A broadcast operand's gradient is summed, which turns -0 into +0. The separate form
        // sums before multiplying by alpha and the fused form after, so zeros may differ in sign.
        const unsigned = (t: Tensor) => valuesOf(t).map((v) => v + 0);
        expect(valuesOf(fused)).toEqual(valuesOf(separate));
        expect(unsigned(fusedGrads[0])).toEqual(unsigned(separateGrads[0]));
        expect(unsigned(fusedGrads[1])).toEqual(unsigned(separateGrads[1]));
      }),
      RUNS,
    );
  });

  test('sub rejects a tensor alpha', () => {
    const x = leaf([1, 2], [2]);
    expect(() => sub(x, x, x as unknown as number)).toThrow('sub: alpha must be a number, got object');
  });

  test('add of broadcast operands has the result shape', () => {
    const result = add(leaf([1, 2, 3], [3, 1]), leaf([10, 20], [2]));
    expect(result.shape).toEqual([3, 2]);
    expect(valuesOf(result)).toEqual([11, 21, 12, 22, 13, 23]);
  });
});

describe('unary arithmetic', () => {
  test('neg', () => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), rangeArb(-2, 2)), ({ shape, values }) => {
        checkGradients(neg, [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('square', () => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), rangeArb(-2, 2)), ({ shape, values }) => {
        checkGradients(square, [leaf(values, shape)]);
      }),
      RUNS,
    );
  });
});

describe('pow', () => {
  test('tensor exponent with broadcasting', () => {
    fc.assert(
      fc.property(operandsArb(rangeArb(0.3, 2), rangeArb(-2, 2)), ({ shapeA, shapeB, a, b }) => {
        checkGradients(pow, [leaf(a, shapeA), leaf(b, shapeB)]);
      }),
      RUNS,
    );
  });

  test.each([2, 3, -1, 0.5, 1, 0])('number exponent %p', (exponent) => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), rangeArb(0.3, 2)), ({ shape, values }) => {
        checkGradients((x) => pow(x, exponent), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('integer exponent of negative base', () => {
    checkGradients((x) => pow(x, 3), [leaf([-1.5, -0.5, 0.7], [3])]);
  });

  test('number base with tensor exponent', () => {
    checkGradients((y) => pow(2, y), [leaf([-1, 0.5, 3], [3])]);
  });

  test('exponent 0 gives zero gradient', () => {
    const x = leaf([2, -3], [2]);
    pow(x, 0).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0]);
  });

  test('zero base with tensor exponent', () => {
    const x = leaf([0, 2], [2]);
    const y = leaf([2, 2], [2]);
    pow(x, y).sum().backward();
    expect(valuesOf(y.grad!)).toEqual([0, 4 * Math.log(2)]);
    expect(valuesOf(x.grad!)).toEqual([0, 4]);
  });
});

describe('maximum and minimum', () => {
  const cases = [
    { name: 'maximum', f: maximum },
    { name: 'minimum', f: minimum },
  ];

  test.each(cases)('$name with broadcasting and distinct values', ({ f }) => {
    const arb = broadcastPairArb().chain(([shapeA, shapeB]) =>
      distinctValuesArb(sizeOf(shapeA) + sizeOf(shapeB)).map((values) => ({
        shapeA,
        shapeB,
        a: values.slice(0, sizeOf(shapeA)),
        b: values.slice(sizeOf(shapeA)),
      })),
    );
    fc.assert(
      fc.property(arb, ({ shapeA, shapeB, a, b }) => {
        checkGradients(f, [leaf(a, shapeA), leaf(b, shapeB)]);
      }),
      RUNS,
    );
  });

  test.each(cases)('$name with a number', ({ f }) => {
    checkGradients((x) => f(x, 0.25), [leaf([-1, 0.1, 0.5, 2], [2, 2])]);
  });
});

describe('clamp', () => {
  /** Values at least 0.1 away from the bounds -0.5 and 0.5. */
  const awayFromBounds = rangeArb(-2, 2).filter((v) => Math.abs(v - 0.5) > 0.1 && Math.abs(v + 0.5) > 0.1);

  test.each([
    { name: 'both bounds', min: -0.5, max: 0.5 },
    { name: 'min only', min: -0.5, max: undefined },
    { name: 'max only', min: undefined, max: 0.5 },
  ])('$name', ({ min, max }) => {
    fc.assert(
      fc.property(tensorArb(shapeArb(0, 3), awayFromBounds), ({ shape, values }) => {
        checkGradients((x) => clamp(x, min, max), [leaf(values, shape)]);
      }),
      RUNS,
    );
  });

  test('min above max is rejected', () => {
    expect(() => clamp(leaf([1], [1]), 1, 0)).toThrow('clamp: min 1 is greater than max 0');
  });
});

describe('where', () => {
  test('both branches with broadcasting', () => {
    const arb = broadcastPairArb().chain(([shapeA, shapeB]) =>
      fc.record({
        shapeA: fc.constant(shapeA),
        shapeB: fc.constant(shapeB),
        a: valuesArb(sizeOf(shapeA), rangeArb(-2, 2)),
        b: valuesArb(sizeOf(shapeB), rangeArb(-2, 2)),
        picks: valuesArb(sizeOf(shapeA), fc.constantFrom(0, 1)),
      }),
    );
    fc.assert(
      fc.property(arb, ({ shapeA, shapeB, a, b, picks }) => {
        // The condition takes the first operand's shape, which broadcasts with both.
        const condition = constant(picks, shapeA);
        checkGradients((x, y) => where(condition, x, y), [leaf(a, shapeA), leaf(b, shapeB)]);
      }),
      RUNS,
    );
  });

  test('number branch', () => {
    const condition = constant([1, 0, 1], [3]);
    checkGradients((x) => where(condition, x, 0), [leaf([0.5, -1, 2], [3])]);
    checkGradients((x) => where(condition, 7, x), [leaf([0.5, -1, 2], [3])]);
  });

  test('gradient goes to the picked branch only', () => {
    const x = leaf([1, 2, 3], [3]);
    const y = leaf([4, 5, 6], [3]);
    where(constant([1, 0, 1], [3]), x, y).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 0, 1]);
    expect(valuesOf(y.grad!)).toEqual([0, 1, 0]);
  });

  test('broadcast condition', () => {
    const x = leaf([1, 2], [1, 2]);
    const y = leaf(5);
    const result = where(constant([1, 0, 0], [3, 1]), x, y);
    expect(result.shape).toEqual([3, 2]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 1]);
    expect(valuesOf(y.grad!)).toEqual([4]);
  });
});

describe('dtypes of operands', () => {
  test('float32 with float64 is rejected', () => {
    const a = leaf([1, 2], [2]);
    const b = a.to('float32');
    expect(() => add(a, b)).toThrow("add: dtypes differ: float64 [2] and float32 [2]; convert one operand with .to('float64') or .to('float32')");
  });

  test('gradient of a float32 operand is float32', () => {
    const x = leaf([1, 2], [2]).detach().to('float32').requiresGrad_(true);
    mul(x, x).sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expectClose(valuesOf(x.grad!), [2, 4]);
  });
});
