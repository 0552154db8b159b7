import fc from 'fast-check';
import type { NdArray } from 'ndarray';
import {
  type Axes, type Dtype, type FloatArray, KernelError, argMax, argMin, elementOffsets, logsumexp, max, maxWithIndices,
  mean, min, minWithIndices, sizeOf, sum, sumToShape, variance,
} from '@metagrad/kernels';
import {
  broadcastableShapeArb, changedOutside, dtypeArb, expectClose, flatIndex, indicesOf, inputLayoutArb, inputView, makeView, outKindArb,
  outView, roundTo, shapeArb, toFlat, tolerance,
} from './helpers';

/** Resolves an `Axes` argument the way NumPy does: undefined is every axis, negative axes count from the end. */
function resolveAxes(axes: Axes, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, axis) => axis);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((axis) => (axis < 0 ? axis + ndim : axis)).sort((x, y) => x - y);
}

/**
 * Applies `reduceBlock` to every block of `values` (row-major, of `shape`) over `axes`. Each block
 * lists its elements in row-major order of the reduced axes, and the results follow row-major
 * order of the kept axes.
 */
function referenceReduce(
  values: number[],
  shape: number[],
  axes: number[],
  keepDims: boolean,
  reduceBlock: (block: number[]) => number,
): { shape: number[]; values: number[] } {
  const keptAxes = shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
  const keptShape = keptAxes.map((axis) => shape[axis]);
  const blockShape = axes.map((axis) => shape[axis]);
  const resultShape = keepDims ? shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim)) : keptShape;

  const results = indicesOf(keptShape).map((kept) => {
    const block = indicesOf(blockShape).map((inBlock) => {
      const index = new Array<number>(shape.length);
      keptAxes.forEach((axis, i) => (index[axis] = kept[i]));
      axes.forEach((axis, i) => (index[axis] = inBlock[i]));
      return values[flatIndex(shape, index)];
    });
    return reduceBlock(block);
  });
  return { shape: resultShape, values: results };
}

function referenceSum(block: number[]): number {
  let total = 0;
  for (const v of block) total += v;
  return total;
}

function referenceMean(block: number[]): number {
  return referenceSum(block) / block.length;
}

function referenceVariance(correction: number): (block: number[]) => number {
  return (block) => {
    if (block.length - correction <= 0) return NaN;
    const average = referenceMean(block);
    let squares = 0;
    for (const v of block) squares += (v - average) * (v - average);
    return squares / (block.length - correction);
  };
}

function referenceLogsumexp(block: number[]): number {
  let total = 0;
  for (const v of block) total += Math.exp(v);
  return Math.log(total);
}

/** Returns the position of the first NaN, or else of the first maximum (or minimum) of the block. */
function referenceArgExtreme(larger: boolean): (block: number[]) => number {
  return (block) => {
    const firstNaN = block.findIndex((v) => Number.isNaN(v));
    if (firstNaN >= 0) return firstNaN;
    let best = 0;
    for (let j = 1; j < block.length; j++) {
      if (larger ? block[j] > block[best] : block[j] < block[best]) best = j;
    }
    return best;
  };
}

/** Generates an axes argument for `ndim` axes in every accepted form: undefined, one axis or a list, with negative axes. */
function axesArb(ndim: number): fc.Arbitrary<Axes> {
  const axisArb = fc.integer({ min: 0, max: ndim - 1 }).chain((axis) => fc.constantFrom(axis, axis - ndim));
  const listArb = fc
    .subarray(Array.from({ length: ndim }, (_, axis) => axis))
    .chain((axes) => fc.tuple(...axes.map((axis) => fc.constantFrom(axis, axis - ndim))))
    .chain((axes) => fc.shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length }));
  return fc.oneof(fc.constant(undefined), axisArb, listArb);
}

/** Generates values with frequent ties and, when `special` is set, occasional NaN and infinities. */
function blockValuesArb(size: number, special: boolean): fc.Arbitrary<number[]> {
  const element = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
    { weight: 3, arbitrary: fc.integer({ min: -2, max: 2 }) },
    { weight: special ? 1 : 0, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
  );
  return fc.array(element, { minLength: size, maxLength: size });
}

/** Generates a reduction problem: shape, values, axes, keepDims, dtype, input layout and out kind. */
function problemArb(special: boolean) {
  return shapeArb(1, 4, 4).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      values: blockValuesArb(sizeOf(shape), special),
      axes: axesArb(shape.length),
      keepDims: fc.boolean(),
      dtype: dtypeArb,
      layout: inputLayoutArb,
      mask: fc.nat(15),
      outKind: outKindArb,
    }),
  );
}

type ReduceWithOut = (x: NdArray<FloatArray>, axes: Axes, keepDims: boolean, out?: NdArray<FloatArray>) => NdArray<FloatArray>;

const casesWithOut: Array<{ name: string; run: ReduceWithOut; reference: (block: number[]) => number; atol: (dtype: Dtype) => number }> = [
  { name: 'sum', run: (x, axes, keepDims, out) => sum(x, axes, keepDims, out), reference: referenceSum, atol: tolerance },
  { name: 'mean', run: (x, axes, keepDims, out) => mean(x, axes, keepDims, out), reference: referenceMean, atol: tolerance },
  {
    name: 'variance with correction 1',
    run: (x, axes, keepDims, out) => variance(x, axes, keepDims, 1, out),
    reference: referenceVariance(1),
    atol: (dtype) => 100 * tolerance(dtype),
  },
  {
    name: 'variance with correction 0',
    run: (x, axes, keepDims, out) => variance(x, axes, keepDims, 0, out),
    reference: referenceVariance(0),
    atol: (dtype) => 100 * tolerance(dtype),
  },
  { name: 'logsumexp', run: (x, axes, keepDims, out) => logsumexp(x, axes, keepDims, out), reference: referenceLogsumexp, atol: tolerance },
];

describe('reductions', () => {
  test.each(casesWithOut)('$name agrees with reference on generated axes', ({ run, reference, atol }) => {
    fc.assert(
      fc.property(problemArb(true), ({ shape, values, axes, keepDims, dtype, layout, mask, outKind }) => {
        const x = inputView(dtype, shape, values, layout, mask);
        const expected = referenceReduce(toFlat(x), shape, resolveAxes(axes, shape.length), keepDims, reference);
        const out = outView(dtype, expected.shape, outKind);
        const result = run(x, axes, keepDims, out);

        if (out) expect(result).toBe(out);
        expect(result.shape).toEqual(expected.shape);
        expectClose(toFlat(result), roundTo(dtype, expected.values), tolerance(dtype), atol(dtype));
        if (out) expect(changedOutside(out)).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  test('max, min and their indices agree with reference', () => {
    fc.assert(
      fc.property(problemArb(true), ({ shape, values, axes, keepDims, dtype, layout, mask }) => {
        const x = inputView(dtype, shape, values, layout, mask);
        const flat = toFlat(x);
        const resolved = resolveAxes(axes, shape.length);

        for (const larger of [true, false]) {
          const expectedIndices = referenceReduce(flat, shape, resolved, keepDims, referenceArgExtreme(larger));
          const expectedValues = referenceReduce(flat, shape, resolved, keepDims, (block) => block[referenceArgExtreme(larger)(block)]);
          const both = larger ? maxWithIndices(x, axes, keepDims) : minWithIndices(x, axes, keepDims);
          const values = larger ? max(x, axes, keepDims) : min(x, axes, keepDims);
          const indices = larger ? argMax(x, axes, keepDims) : argMin(x, axes, keepDims);

          expect(both.values.shape).toEqual(expectedValues.shape);
          expect(toFlat(both.values)).toEqual(expectedValues.values);
          expect(toFlat(both.indices)).toEqual(expectedIndices.values);
          expect(both.indices.data).toBeInstanceOf(Int32Array);
          expect(toFlat(values)).toEqual(expectedValues.values);
          expect(indices.shape).toEqual(expectedIndices.shape);
          expect(toFlat(indices)).toEqual(expectedIndices.values);
        }
      }),
      { numRuns: 80 },
    );
  });

  test('sum by hand with keepDims and negative axis', () => {
    const x = makeView('float64', [2, 2], [1, 2, 3, 4]);
    expect(toFlat(sum(x, 0))).toEqual([4, 6]);
    expect(sum(x, 0, true).shape).toEqual([1, 2]);
    expect(toFlat(sum(x, -1))).toEqual([3, 7]);
    expect(sum(x).shape).toEqual([]);
    expect(toFlat(sum(x))).toEqual([10]);
  });

  test('sum over no axes copies', () => {
    const x = inputView('float32', [2, 3], [1, 2, 3, 4, 5, 6], 'transposed');
    const result = sum(x, []);
    expect(result.shape).toEqual([2, 3]);
    expect(toFlat(result)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('scalar shape reduces to itself', () => {
    const x = makeView('float64', [], [5]);
    expect(toFlat(sum(x))).toEqual([5]);
    expect(toFlat(mean(x))).toEqual([5]);
    expect(toFlat(max(x))).toEqual([5]);
  });

  test('empty blocks', () => {
    const x = makeView('float64', [2, 0]);
    expect(toFlat(sum(x, 1))).toEqual([0, 0]);
    expect(toFlat(mean(x, 1))).toEqual([NaN, NaN]);
    expect(toFlat(variance(x, 1, false, 0))).toEqual([NaN, NaN]);
    expect(toFlat(logsumexp(x, 1))).toEqual([-Infinity, -Infinity]);
    expect(sum(x, 0).shape).toEqual([0]);
    expect(max(x, 0).shape).toEqual([0]);
  });

  test('max of empty block is rejected', () => {
    const x = makeView('float32', [2, 0]);
    expect(() => max(x, 1)).toThrow(KernelError);
    expect(() => max(x, 1)).toThrow('max: cannot reduce an empty block: shape [2, 0] over axes [1]');
    expect(() => argMin(x)).toThrow('argMin: cannot reduce an empty block: shape [2, 0] over axes [0, 1]');
  });

  test('invalid axes name the axes and the shape', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => sum(x, 2)).toThrow(KernelError);
    expect(() => sum(x, 2)).toThrow('sum: axis 2 is out of range for an array of shape [2, 3]; use an axis in [-2, 1]');
    expect(() => mean(x, [-3])).toThrow('mean: axis -3 is out of range for an array of shape [2, 3]; use an axis in [-2, 1]');
    expect(() => variance(x, [0, -2])).toThrow('variance: axes [0, -2] name the same axis twice');
    expect(() => logsumexp(x, 0.5)).toThrow('logsumexp: axis 0.5 is out of range for an array of shape [2, 3]; use an axis in [-2, 1]');
  });

  test('out of another shape is rejected', () => {
    const x = makeView('float64', [2, 3]);
    expect(() => sum(x, 1, true, makeView('float64', [2]))).toThrow('sum: out has shape [2] but the result has shape [2, 1]');
    expect(() => mean(x, 0, false, makeView('float32', [3]))).toThrow('mean: out is float32 but the inputs are float64');
  });
});

describe('mean and variance', () => {
  test('constant blocks give exact mean and zero variance', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const size of [1, 2, 3, 7, 100, 1001]) {
        for (const value of [0.1, -3.7, 1e10 + 0.1]) {
          const x = makeView(dtype, [size], new Array<number>(size).fill(value));
          const stored = roundTo(dtype, [value])[0];
          expect(toFlat(mean(x))).toEqual([stored]);
          expect(toFlat(variance(x, undefined, false, 0))).toEqual([0]);
          if (size > 1) expect(toFlat(variance(x))).toEqual([0]);
        }
      }
    }
  });

  test('constant rows give zero variance along a strided axis', () => {
    const rows = [0.1, 0.7, -2.3];
    const values = rows.flatMap((v) => new Array<number>(9).fill(v));
    const x = inputView('float32', [3, 9], values, 'transposed');
    expect(toFlat(variance(x, 1))).toEqual([0, 0, 0]);
    expect(toFlat(variance(x, -1, true, 0))).toEqual([0, 0, 0]);
    expect(toFlat(mean(x, 1))).toEqual(roundTo('float32', rows));
  });

  test('zero-stride constant view', () => {
    const x = inputView('float64', [5, 7], [0.1], 'zeroStride', 0b11);
    expect(toFlat(mean(x))).toEqual([0.1]);
    expect(toFlat(variance(x))).toEqual([0]);
  });

  test('correction by hand', () => {
    const x = makeView('float64', [4], [1, 2, 3, 4]);
    expect(toFlat(variance(x, undefined, false, 0))).toEqual([1.25]);
    expectClose(toFlat(variance(x)), [5 / 3], 1e-15);
    expect(toFlat(variance(x, undefined, false, 2))).toEqual([2.5]);
    expect(toFlat(variance(x, undefined, false, 4))).toEqual([NaN]);
  });

  test('single element with correction 1 is NaN', () => {
    const x = makeView('float64', [3, 1], [1, 2, 3]);
    expect(toFlat(variance(x, 1))).toEqual([NaN, NaN, NaN]);
    expect(toFlat(variance(x, 1, false, 0))).toEqual([0, 0, 0]);
  });

  test('mean with infinities', () => {
    const run = (values: number[]) => toFlat(mean(makeView('float64', [values.length], values)))[0];
    expect(run([Infinity, 1])).toBe(Infinity);
    expect(run([Infinity, Infinity])).toBe(Infinity);
    expect(run([1, -Infinity])).toBe(-Infinity);
    expect(run([-Infinity, Infinity])).toBeNaN();
    expect(run([NaN, 1])).toBeNaN();
  });

  test('mean of large values does not overflow', () => {
    const x = makeView('float64', [2], [1.5e308, 1.5e308]);
    expect(toFlat(mean(x))).toEqual([1.5e308]);
  });
});

describe('max and argMax', () => {
  test('ties keep the first index', () => {
    const x = makeView('float64', [2, 3], [3, 1, 3, -1, -1, 2]);
    expect(toFlat(argMax(x, 1))).toEqual([0, 2]);
    expect(toFlat(argMin(x, 1))).toEqual([1, 0]);
    expect(toFlat(argMax(makeView('float32', [3], [-Infinity, -Infinity, -Infinity])))).toEqual([0]);
  });

  test('NaN propagates and wins the index', () => {
    const x = makeView('float64', [2, 3], [1, NaN, 5, 7, 8, NaN]);
    const { values, indices } = maxWithIndices(x, 1);
    expect(toFlat(values)).toEqual([NaN, NaN]);
    expect(toFlat(indices)).toEqual([1, 2]);
    expect(toFlat(min(x, 1))).toEqual([NaN, NaN]);
    expect(toFlat(argMin(x, 1))).toEqual([1, 2]);
    expect(toFlat(argMax(makeView('float64', [3], [NaN, 1, NaN])))).toEqual([0]);
  });

  test('argMax over several axes is row-major within the block', () => {
    // Shape [2, 3, 4] reduced over axes 0 and 2: each block is 2 x 4, and index = i0 * 4 + i2.
    const values = new Array<number>(24).fill(0);
    values[flatIndex([2, 3, 4], [1, 0, 2])] = 9;
    values[flatIndex([2, 3, 4], [0, 1, 3])] = 9;
    values[flatIndex([2, 3, 4], [1, 2, 0])] = 9;
    values[flatIndex([2, 3, 4], [1, 2, 1])] = 9;
    const x = makeView('float64', [2, 3, 4], values);
    expect(toFlat(argMax(x, [0, 2]))).toEqual([6, 3, 4]);
    expect(toFlat(argMax(x, [2, 0]))).toEqual([6, 3, 4]);
    expect(argMax(x, [0, 2], true).shape).toEqual([1, 3, 1]);
    expect(toFlat(argMax(x))).toEqual([flatIndex([2, 3, 4], [0, 1, 3])]);
  });
});

describe('logsumexp', () => {
  test('extreme values', () => {
    const run = (values: number[]) => toFlat(logsumexp(makeView('float64', [values.length], values)))[0];
    expect(run([-Infinity, -Infinity])).toBe(-Infinity);
    expect(run([Infinity, 0])).toBe(Infinity);
    expect(run([-Infinity, Infinity])).toBe(Infinity);
    expect(run([NaN, 1])).toBeNaN();
    expect(run([1, Infinity, NaN])).toBeNaN();
    expect(run([1000, 1000])).toBe(1000 + Math.log(2));
    expect(run([-1000, -Infinity])).toBe(-1000);
  });

  test('all -Infinity rows leave other rows finite', () => {
    const x = makeView('float32', [2, 2], [-Infinity, -Infinity, 0, 0]);
    expect(toFlat(logsumexp(x, 1))).toEqual([-Infinity, Math.fround(Math.log(2))]);
  });
});

describe('sumToShape', () => {
  test('agrees with reference on generated shapes', () => {
    fc.assert(
      fc.property(
        shapeArb(0, 4, 4).chain((shape) => fc.tuple(fc.constant(shape), broadcastableShapeArb(shape), blockValuesArb(sizeOf(shape), false))),
        dtypeArb,
        inputLayoutArb,
        fc.nat(15),
        outKindArb,
        ([shape, target, values], dtype, layout, mask, outKind) => {
          const x = inputView(dtype, shape, values, layout, mask);
          const flat = toFlat(x);
          const expected = new Array<number>(sizeOf(target)).fill(0);
          indicesOf(shape).forEach((index, position) => {
            const lead = shape.length - target.length;
            const targetIndex = target.map((dim, axis) => (dim === 1 ? 0 : index[lead + axis]));
            expected[flatIndex(target, targetIndex)] += flat[position];
          });
          const out = outView(dtype, target, outKind);
          const result = sumToShape(x, target, out);

          if (out) expect(result).toBe(out);
          expect(result.shape).toEqual(target);
          expectClose(toFlat(result), roundTo(dtype, expected), tolerance(dtype));
          if (out) expect(changedOutside(out)).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  test('by hand', () => {
    const x = makeView('float64', [2, 2], [1, 2, 3, 4]);
    expect(toFlat(sumToShape(x, [2]))).toEqual([4, 6]);
    expect(toFlat(sumToShape(x, [2, 1]))).toEqual([3, 7]);
    expect(toFlat(sumToShape(x, [1, 1]))).toEqual([10]);
    expect(sumToShape(x, []).shape).toEqual([]);
    expect(toFlat(sumToShape(x, []))).toEqual([10]);
    expect(toFlat(sumToShape(x, [2, 2]))).toEqual([1, 2, 3, 4]);
  });

  test('shape that does not broadcast is rejected', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => sumToShape(x, [4])).toThrow(KernelError);
    expect(() => sumToShape(x, [4])).toThrow('sumToShape: cannot sum shape [2, 3] down to [4]: [4] does not broadcast to [2, 3]');
    expect(() => sumToShape(x, [1, 2, 3])).toThrow('sumToShape: cannot sum shape [2, 3] down to [1, 2, 3]: [1, 2, 3] does not broadcast to [2, 3]');
  });
});

describe('elementOffsets', () => {
  test('lists every element in row-major order', () => {
    for (const layout of ['contiguous', 'transposed', 'sliced', 'reversed', 'zeroStride'] as const) {
      const x = inputView('float64', [2, 3, 2], Array.from({ length: 12 }, (_, i) => i), layout, 0b101);
      const offsets = elementOffsets(x);
      expect(Array.from(offsets, (offset) => x.data[offset])).toEqual(toFlat(x));
    }
  });
});
