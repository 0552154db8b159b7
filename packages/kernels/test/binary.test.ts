import fc from 'fast-check';
import ndarray, { type NdArray } from 'ndarray';
import {
  type Dtype, type FloatArray, KernelError, type StridedView, add, cast, div, equal, greater, greaterEqual, less,
  lessEqual, maximum, minimum, mul, notEqual, pow, sizeOf, sub, subScaled, where,
} from '@metagrad/kernels';
import {
  broadcastableShapeArb, changedOutside, dtypeArb, expectClose, flatIndex, indicesOf, inputLayoutArb, inputView,
  type InputLayout, makeView, outKindArb, outView, referenceBroadcastShape, roundTo, shapeArb, toFlat, tolerance,
} from './helpers';

type BinaryKernel = (a: NdArray<FloatArray>, b: NdArray<FloatArray>, out?: NdArray<FloatArray>) => NdArray<FloatArray>;

/** Reads the element of a row-major operand of `shape` that broadcasting places at `resultIndex`. */
function readBroadcast(values: number[], shape: number[], resultIndex: number[]): number {
  const lead = resultIndex.length - shape.length;
  const index = shape.map((dim, axis) => (dim === 1 ? 0 : resultIndex[lead + axis]));
  return values[flatIndex(shape, index)];
}

/** Finite values, small integers (so that comparisons see ties) and occasional NaN or infinities. */
const elementArb = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

/** One input operand: its shape, values, layout and zero-stride mask. */
interface Operand {
  shape: number[];
  values: number[];
  layout: InputLayout;
  mask: number;
}

function operandArb(resultShape: number[]): fc.Arbitrary<Operand> {
  return broadcastableShapeArb(resultShape).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      values: fc.array(elementArb, { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
      layout: inputLayoutArb,
      mask: fc.nat(15),
    }),
  );
}

function viewOfOperand(dtype: Dtype, operand: Operand): NdArray<FloatArray> {
  return inputView(dtype, operand.shape, operand.values, operand.layout, operand.mask);
}

/** The larger of a and b, or NaN when either is NaN. */
function referenceMaximum(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return a >= b ? a : b;
}

/** The smaller of a and b, or NaN when either is NaN. */
function referenceMinimum(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return a <= b ? a : b;
}

const cases: Array<{ name: string; run: BinaryKernel; reference: (a: number, b: number) => number }> = [
  { name: 'add', run: (a, b, out) => add(a, b, out), reference: (a, b) => a + b },
  { name: 'sub', run: (a, b, out) => sub(a, b, out), reference: (a, b) => a - b },
  { name: 'mul', run: (a, b, out) => mul(a, b, out), reference: (a, b) => a * b },
  { name: 'subScaled', run: (a, b, out) => subScaled(a, b, -0.75, out), reference: (a, b) => a + 0.75 * b },
  { name: 'div', run: (a, b, out) => div(a, b, out), reference: (a, b) => a / b },
  { name: 'pow', run: (a, b, out) => pow(a, b, out), reference: (a, b) => a ** b },
  { name: 'maximum', run: (a, b, out) => maximum(a, b, out), reference: referenceMaximum },
  { name: 'minimum', run: (a, b, out) => minimum(a, b, out), reference: referenceMinimum },
  { name: 'equal', run: (a, b, out) => equal(a, b, out), reference: (a, b) => Number(a === b) },
  { name: 'notEqual', run: (a, b, out) => notEqual(a, b, out), reference: (a, b) => Number(!(a === b)) },
  { name: 'greater', run: (a, b, out) => greater(a, b, out), reference: (a, b) => Number(a > b) },
  { name: 'greaterEqual', run: (a, b, out) => greaterEqual(a, b, out), reference: (a, b) => Number(a >= b) },
  { name: 'less', run: (a, b, out) => less(a, b, out), reference: (a, b) => Number(a < b) },
  { name: 'lessEqual', run: (a, b, out) => lessEqual(a, b, out), reference: (a, b) => Number(a <= b) },
];

describe('binary kernels', () => {
  test.each(cases)('$name agrees with reference under broadcasting', ({ run, reference }) => {
    fc.assert(
      fc.property(
        dtypeArb,
        shapeArb(0, 4, 4).chain((shape) => fc.tuple(operandArb(shape), operandArb(shape))),
        outKindArb,
        (dtype, [left, right], outKind) => {
          const a = viewOfOperand(dtype, left);
          const b = viewOfOperand(dtype, right);
          const shape = referenceBroadcastShape([left.shape, right.shape]);
          const out = outView(dtype, shape, outKind);
          const result = run(a, b, out);

          if (out) expect(result).toBe(out);
          expect(result.shape).toEqual(shape);
          const aValues = toFlat(a);
          const bValues = toFlat(b);
          const expected = indicesOf(shape).map((index) =>
            reference(readBroadcast(aValues, left.shape, index), readBroadcast(bValues, right.shape, index)),
          );
          expectClose(toFlat(result), roundTo(dtype, expected), tolerance(dtype));
          if (out) expect(changedOutside(out)).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('bias row and column by hand', () => {
    const matrix = makeView('float64', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(toFlat(add(matrix, makeView('float64', [3], [10, 20, 30])))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(toFlat(mul(matrix, makeView('float64', [2, 1], [2, -1])))).toEqual([2, 4, 6, -4, -5, -6]);
    expect(toFlat(sub(makeView('float64', [3, 1], [1, 2, 3]), makeView('float64', [1, 2], [10, 20])))).toEqual([-9, -19, -8, -18, -7, -17]);
  });

  test('scalar shape broadcasts everywhere', () => {
    const scalar = makeView('float32', [], [2]);
    const matrix = makeView('float32', [2, 2], [1, 2, 3, 4]);
    expect(toFlat(div(matrix, scalar))).toEqual([0.5, 1, 1.5, 2]);
    expect(toFlat(div(scalar, matrix))).toEqual([2, 1, 2 / 3, 0.5].map(Math.fround));
    expect(add(scalar, scalar).shape).toEqual([]);
  });

  test('comparisons return ones and zeros in the input dtype', () => {
    const a = makeView('float32', [4], [1, NaN, 3, -0]);
    const b = makeView('float32', [4], [1, NaN, 2, 0]);
    const result = equal(a, b);
    expect(result.data).toBeInstanceOf(Float32Array);
    expect(toFlat(result)).toEqual([1, 0, 0, 1]);
    expect(toFlat(notEqual(a, b))).toEqual([0, 1, 1, 0]);
  });

  test('maximum and minimum propagate NaN', () => {
    const a = makeView('float64', [3], [NaN, 1, 2]);
    const b = makeView('float64', [3], [1, NaN, -Infinity]);
    expect(toFlat(maximum(a, b))).toEqual([NaN, NaN, 2]);
    expect(toFlat(minimum(a, b))).toEqual([NaN, NaN, -Infinity]);
  });

  test('zero-size shapes', () => {
    expect(add(makeView('float32', [0, 3]), makeView('float32', [3])).shape).toEqual([0, 3]);
    expect(mul(makeView('float32', [0]), makeView('float32', [1])).shape).toEqual([0]);
  });

  test('incompatible shapes name both shapes and the axis', () => {
    const a = makeView('float32', [2, 3]);
    const b = makeView('float32', [4]);
    expect(() => add(a, b)).toThrow(KernelError);
    expect(() => add(a, b)).toThrow('add: shapes [2, 3] and [4] cannot be broadcast: axis -1 has sizes 3 and 4; each axis must match or be 1');
    expect(() => pow(makeView('float32', [2, 3, 1]), makeView('float32', [3, 3, 5]))).toThrow(
      'pow: shapes [2, 3, 1] and [3, 3, 5] cannot be broadcast: axis -3 has sizes 2 and 3; each axis must match or be 1',
    );
  });

  test('mixed dtypes are rejected', () => {
    expect(() => mul(makeView('float32', [2]), makeView('float64', [2]))).toThrow(
      'mul: dtypes differ (a is float32, b is float64); convert one with cast() first',
    );
  });

  test('out of another shape is rejected', () => {
    const a = makeView('float64', [2, 3]);
    const b = makeView('float64', [3]);
    expect(() => sub(a, b, makeView('float64', [3]))).toThrow('sub: out has shape [3] but the result has shape [2, 3]');
    expect(() => sub(a, b, makeView('float32', [2, 3]))).toThrow('sub: out is float32 but the inputs are float64');
  });
});

type ConditionType = 'uint8' | 'int32' | 'float32' | 'plain';

/** Re-stores a condition view's data in another array type, keeping its strides and offset. */
function conditionOf(view: NdArray<FloatArray>, type: ConditionType): StridedView<ArrayLike<number>> {
  const source = Array.from(view.data);
  let data: ArrayLike<number> = source;
  if (type === 'uint8') data = new Uint8Array(source);
  if (type === 'int32') data = new Int32Array(source);
  if (type === 'float32') data = new Float32Array(source);
  return { data, shape: view.shape, stride: view.stride, offset: view.offset };
}

describe('subScaled', () => {
  test('equals sub of mul bit for bit', () => {
    fc.assert(
      fc.property(
        dtypeArb,
        shapeArb(0, 4, 4).chain((shape) => fc.tuple(operandArb(shape), operandArb(shape))),
        fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -1, 0.01, 1e-30)),
        outKindArb,
        (dtype, [left, right], alpha, outKind) => {
          const a = viewOfOperand(dtype, left);
          const b = viewOfOperand(dtype, right);
          const expected = sub(a, mul(b, makeView(dtype, [], [alpha])));
          const out = outView(dtype, expected.shape, outKind);
          const result = subScaled(a, b, alpha, out);

          const actual = toFlat(result);
          toFlat(expected).forEach((value, i) => {
            const same = Object.is(actual[i], value) || (Number.isNaN(actual[i]) && Number.isNaN(value));
            if (!same) throw new Error(`element ${i}: got ${actual[i]}, expected ${value}`);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  test('by hand', () => {
    const a = makeView('float32', [2], [1, 2]);
    const b = makeView('float32', [2], [10, 20]);
    expect(toFlat(subScaled(a, b, 0.5))).toEqual([-4, -8]);
  });
});

describe('where', () => {
  test('agrees with reference under broadcasting', () => {
    const conditionValueArb = fc.constantFrom(0, 1, 0, 2, -1, 0.5, NaN);
    fc.assert(
      fc.property(
        dtypeArb,
        shapeArb(0, 3, 4).chain((shape) =>
          fc.tuple(
            operandArb(shape).chain((operand) =>
              fc.tuple(fc.constant(operand), fc.array(conditionValueArb, { minLength: operand.values.length, maxLength: operand.values.length })),
            ),
            operandArb(shape),
            operandArb(shape),
          ),
        ),
        fc.constantFrom<ConditionType>('uint8', 'int32', 'float32', 'plain'),
        outKindArb,
        (dtype, [[conditionOperand, conditionValues], left, right], conditionType, outKind) => {
          const conditionShape = conditionOperand.shape;
          const condition = conditionOf(viewOfOperand('float64', { ...conditionOperand, values: conditionValues }), conditionType);
          const a = viewOfOperand(dtype, left);
          const b = viewOfOperand(dtype, right);
          const shape = referenceBroadcastShape([conditionShape, left.shape, right.shape]);
          const out = outView(dtype, shape, outKind);
          const result = where(condition, a, b, out);

          expect(result.shape).toEqual(shape);
          const cValues = toFlat(condition);
          const aValues = toFlat(a);
          const bValues = toFlat(b);
          const expected = indicesOf(shape).map((index) =>
            readBroadcast(cValues, conditionShape, index) !== 0 ? readBroadcast(aValues, left.shape, index) : readBroadcast(bValues, right.shape, index),
          );
          expect(toFlat(result)).toEqual(expected);
          if (out) expect(changedOutside(out)).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('mask by hand', () => {
    const condition = ndarray(new Uint8Array([1, 0]), [2]);
    const result = where(condition, makeView('float64', [2], [1, 2]), makeView('float64', [2], [10, 20]));
    expect(toFlat(result)).toEqual([1, 20]);
  });

  test('incompatible shapes list all three', () => {
    const condition = ndarray(new Uint8Array(2), [2]);
    expect(() => where(condition, makeView('float32', [3]), makeView('float32', [1]))).toThrow(
      'where: shapes [2] and [3] and [1] cannot be broadcast: axis -1 has sizes 2 and 3; each axis must match or be 1',
    );
  });

  test('mixed dtypes are rejected', () => {
    const condition = ndarray(new Uint8Array(2), [2]);
    expect(() => where(condition, makeView('float64', [2]), makeView('float32', [2]))).toThrow(
      'where: dtypes differ (a is float64, b is float32); convert one with cast() first',
    );
  });
});

describe('cast', () => {
  test('converts generated views to either dtype', () => {
    fc.assert(
      fc.property(
        dtypeArb,
        dtypeArb,
        shapeArb(0, 4, 4).chain((shape) => fc.tuple(fc.constant(shape), fc.array(elementArb, { minLength: sizeOf(shape), maxLength: sizeOf(shape) }))),
        inputLayoutArb,
        fc.nat(15),
        (from, to, [shape, values], layout, mask) => {
          const x = inputView(from, shape, values, layout, mask);
          const result = cast(x, to);

          expect(result.data).toBeInstanceOf(to === 'float32' ? Float32Array : Float64Array);
          expect(result.data).not.toBe(x.data);
          expect(result.shape).toEqual(shape);
          expect(toFlat(result)).toEqual(roundTo(to, toFlat(x)));
        },
      ),
      { numRuns: 60 },
    );
  });

  test('float64 to float32 rounds to nearest', () => {
    const x = makeView('float64', [3], [0.1, 1 + 2 ** -30, 1e40]);
    expect(Array.from(cast(x, 'float32').data)).toEqual([Math.fround(0.1), 1, Infinity]);
  });

  test('unsupported dtype is rejected', () => {
    const x = makeView('float32', [2]);
    expect(() => cast(x, 'int32' as 'float32')).toThrow(KernelError);
    expect(() => cast(x, 'int32' as 'float32')).toThrow("cast: unsupported dtype 'int32' for shape [2]; use 'float32' or 'float64'");
  });

  test('non-float input is rejected', () => {
    const ints = ndarray(new Int32Array(2), [2]) as unknown as NdArray<FloatArray>;
    expect(() => cast(ints, 'float64')).toThrow('cast: expected a view of a Float32Array or Float64Array, got Int32Array');
  });
});
