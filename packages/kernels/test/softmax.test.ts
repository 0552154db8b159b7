import fc from 'fast-check';
import type { NdArray } from 'ndarray';
import { type FloatArray, KernelError, logSoftmax, logsumexp, sizeOf, softmax, sub } from '@metagrad/kernels';
import {
  changedOutside, dtypeArb, expectClose, flatIndex, indicesOf, inputLayoutArb, inputView, makeView, outKindArb,
  outView, roundTo, shapeArb, toFlat, tolerance,
} from './helpers';

/** Lists, for each row along `axis`, the row-major positions of its elements. */
function rowsAlong(shape: number[], axis: number): number[][] {
  const outerShape = shape.map((dim, i) => (i === axis ? 1 : dim));
  return indicesOf(outerShape).map((start) =>
    Array.from({ length: shape[axis] }, (_, j) => {
      const index = start.slice();
      index[axis] = j;
      return flatIndex(shape, index);
    }),
  );
}

/** softmax(x)_j = e^(x_j) / sum_k e^(x_k), and all zeros for a row of -Infinity (nothing to normalise). */
function referenceSoftmaxRow(row: number[]): number[] {
  if (row.every((v) => v === -Infinity)) return row.map(() => 0);
  let total = 0;
  for (const v of row) total += Math.exp(v);
  return row.map((v) => Math.exp(v) / total);
}

/** logSoftmax(x)_j = x_j - log(sum_k e^(x_k)), and all -Infinity for a row of -Infinity. */
function referenceLogSoftmaxRow(row: number[]): number[] {
  if (row.every((v) => v === -Infinity)) return row.map(() => -Infinity);
  let total = 0;
  for (const v of row) total += Math.exp(v);
  return row.map((v) => v - Math.log(total));
}

function applyRows(values: number[], shape: number[], axis: number, rowFunction: (row: number[]) => number[]): number[] {
  const result = new Array<number>(values.length);
  for (const positions of rowsAlong(shape, axis)) {
    const mapped = rowFunction(positions.map((p) => values[p]));
    positions.forEach((p, j) => (result[p] = mapped[j]));
  }
  return result;
}

type RowKernel = (x: NdArray<FloatArray>, axis?: number, out?: NdArray<FloatArray>) => NdArray<FloatArray>;

const cases: Array<{ name: string; run: RowKernel; reference: (row: number[]) => number[] }> = [
  { name: 'softmax', run: (x, axis, out) => softmax(x, axis, out), reference: referenceSoftmaxRow },
  { name: 'logSoftmax', run: (x, axis, out) => logSoftmax(x, axis, out), reference: referenceLogSoftmaxRow },
];

/** Values in [-10, 10] with an occasional -Infinity, as a mask puts in logits. */
const logitArb = fc.oneof(
  { weight: 10, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(-Infinity) },
);

describe('softmax and logSoftmax', () => {
  test.each(cases)('$name agrees with reference along generated axes', ({ run, reference }) => {
    fc.assert(
      fc.property(
        shapeArb(1, 4, 5).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.array(logitArb, { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
            fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 }), { nil: undefined }),
          ),
        ),
        dtypeArb,
        inputLayoutArb,
        fc.nat(15),
        outKindArb,
        ([shape, values, axis], dtype, layout, mask, outKind) => {
          const x = inputView(dtype, shape, values, layout, mask);
          const resolved = axis === undefined ? shape.length - 1 : (axis + shape.length) % shape.length;
          const out = outView(dtype, shape, outKind);
          const result = run(x, axis, out);

          if (out) expect(result).toBe(out);
          expect(result.shape).toEqual(shape);
          const expected = applyRows(toFlat(x), shape, resolved, reference);
          expectClose(toFlat(result), roundTo(dtype, expected), tolerance(dtype));
          if (out) expect(changedOutside(out)).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  test('logSoftmax of [1000, 0] is exact', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      expect(toFlat(logSoftmax(makeView(dtype, [2], [1000, 0])))).toEqual([0, -1000]);
      expect(toFlat(logSoftmax(makeView(dtype, [2], [0, 1000])))).toEqual([-1000, 0]);
      expect(toFlat(softmax(makeView(dtype, [2], [1000, 0])))).toEqual([1, 0]);
    }
  });

  test('large equal logits', () => {
    const x = makeView('float64', [3], [1e4, 1e4, 1e4]);
    expectClose(toFlat(softmax(x)), [1 / 3, 1 / 3, 1 / 3], 1e-15);
    expectClose(toFlat(logSoftmax(x)), [-Math.log(3), -Math.log(3), -Math.log(3)], 1e-15);
  });

  test('softmax by hand', () => {
    expectClose(toFlat(softmax(makeView('float64', [2], [0, Math.log(3)]))), [0.25, 0.75], 1e-15);
  });

  test('row of -Infinity along the last axis', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = makeView(dtype, [3, 3], [1, 2, 3, -Infinity, -Infinity, -Infinity, 0, -Infinity, 0]);
      const probabilities = toFlat(softmax(x));
      const logs = toFlat(logSoftmax(x));

      expect(probabilities.slice(3, 6)).toEqual([0, 0, 0]);
      expect(logs.slice(3, 6)).toEqual([-Infinity, -Infinity, -Infinity]);
      expect(probabilities.some(Number.isNaN)).toBe(false);
      expect(logs.some(Number.isNaN)).toBe(false);
      expectClose(probabilities.slice(6), [0.5, 0, 0.5], tolerance(dtype));
      expect(logs.slice(6)).toEqual(roundTo(dtype, [-Math.log(2), -Infinity, -Math.log(2)]));
    }
  });

  test('column of -Infinity along axis 0 of a transposed view', () => {
    const values = [0, -Infinity, 1, -Infinity, 2, -Infinity];
    const x = inputView('float64', [3, 2], values, 'transposed');
    const probabilities = toFlat(softmax(x, 0));
    const logs = toFlat(logSoftmax(x, 0));

    expect([probabilities[1], probabilities[3], probabilities[5]]).toEqual([0, 0, 0]);
    expect([logs[1], logs[3], logs[5]]).toEqual([-Infinity, -Infinity, -Infinity]);
    expectClose([probabilities[0], probabilities[2], probabilities[4]], referenceSoftmaxRow([0, 1, 2]), 1e-15);
  });

  test('Infinity or NaN spoils its own row only', () => {
    const x = makeView('float64', [3, 2], [Infinity, 0, NaN, 1, 0, 0]);
    expect(toFlat(softmax(x))).toEqual([NaN, NaN, NaN, NaN, 0.5, 0.5]);
    const logs = toFlat(logSoftmax(x));
    expect(logs.slice(0, 4)).toEqual([NaN, NaN, NaN, NaN]);
    expectClose(logs.slice(4), [-Math.log(2), -Math.log(2)], 1e-15);
  });

  test('rows sum to 1 in float32', () => {
    const x = inputView('float32', [4, 7], Array.from({ length: 28 }, (_, i) => Math.sin(i) * 20), 'sliced');
    const probabilities = toFlat(softmax(x, 1));
    for (let row = 0; row < 4; row++) {
      const total = probabilities.slice(row * 7, row * 7 + 7).reduce((a, b) => a + b, 0);
      expect(Math.abs(total - 1)).toBeLessThan(1e-6);
    }
  });

  test('logSoftmax equals x minus logsumexp', () => {
    const x = inputView('float64', [3, 4, 2], Array.from({ length: 24 }, (_, i) => Math.cos(i) * 8), 'reversed');
    for (const axis of [0, 1, 2]) {
      expectClose(toFlat(logSoftmax(x, axis)), toFlat(sub(x, logsumexp(x, axis, true))), 1e-14);
    }
  });

  test('logsumexp of all -Infinity is -Infinity', () => {
    expect(toFlat(logsumexp(makeView('float64', [3], [-Infinity, -Infinity, -Infinity])))).toEqual([-Infinity]);
  });

  test('zero-length axis gives an empty result', () => {
    expect(softmax(makeView('float32', [2, 0])).shape).toEqual([2, 0]);
    expect(logSoftmax(makeView('float32', [0, 3]), 0).shape).toEqual([0, 3]);
  });

  test('axis out of range names the shape', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => softmax(x, 2)).toThrow(KernelError);
    expect(() => softmax(x, 2)).toThrow('softmax: axis 2 is out of range for an array of shape [2, 3]; use an axis in [-2, 1]');
    expect(() => logSoftmax(x, -3)).toThrow('logSoftmax: axis -3 is out of range for an array of shape [2, 3]; use an axis in [-2, 1]');
  });

  test('scalar input is rejected', () => {
    expect(() => softmax(makeView('float64', [], [1]))).toThrow(
      'softmax: axis -1 is out of range for an array of shape []; a scalar has no axes, so reshape it to [1] first',
    );
  });

  test('out of another shape is rejected', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => softmax(x, -1, makeView('float32', [3, 2]))).toThrow('softmax: out has shape [3, 2] but the result has shape [2, 3]');
    expect(() => logSoftmax(x, -1, makeView('float64', [2, 3]))).toThrow('logSoftmax: out is float64 but the inputs are float32');
  });
});
