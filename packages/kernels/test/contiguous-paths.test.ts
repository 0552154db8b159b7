/**
 * The flat loops that kernels take for contiguous operands, checked against the general
 * strided loops on the same values: broadcast blocks and unrolled rows in the binary kernels,
 * relu and reluBackward by bits on float32, and sums over adjacent axes. The WebAssembly
 * kernels for the same cases are checked against the loops. A 'sliced' copy of an operand
 * is not contiguous, so the kernel run on it takes the general loop and serves as reference.
 * Elementwise results must match it exactly, signed zeros included, on both backends: the
 * WebAssembly kernels are held to the same values, any NaN matching any NaN.
 */
import fc from 'fast-check';
import ndarray, { type NdArray } from 'ndarray';
import {
  type Backend, type Dtype, type FloatArray, add, div, getBackend, greater, maximum, mul, relu, reluBackward, setBackend, sizeOf, sub, subScaled,
  sum,
} from '@metagrad/kernels';
import { wasmElementwise } from '../src/backend';
import { broadcastBlocks } from '../src/broadcast-blocks';
import { WasmBackend } from '../src/wasm/wasm-backend';
import {
  backends, broadcastableShapeArb, dtypeArb, expectClose, indicesOf, inputView, layoutView, makeView, outKindArb, outView,
  referenceBroadcastShape, toFlat, tolerance,
} from './helpers';

type BinaryKernel = (a: NdArray<FloatArray>, b: NdArray<FloatArray>, out?: NdArray<FloatArray>) => NdArray<FloatArray>;

/** Shapes of up to 4 axes of 0 to 4 elements, with 1 and 0 common. */
const shapeWithEmptyArb = fc.array(fc.constantFrom(0, 1, 1, 2, 3, 4), { minLength: 0, maxLength: 4 });

/**
 * Shapes whose last axis has 1 to `maxLast` elements after up to 3 small axes, so that rows
 * reach the length where relu and reluBackward switch to their float32 bit loops.
 */
function longRowShapeArb(maxLast: number): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.array(fc.constantFrom(0, 1, 1, 2, 3), { minLength: 0, maxLength: 3 }), fc.integer({ min: 1, max: maxLast }))
    .map(([shape, last]) => [...shape, last]);
}

/** Values with signed zeros, infinities and NaN among ordinary numbers. */
const elementArb = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 2 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, NaN, Infinity, -Infinity) },
);

function valuesArb(size: number): fc.Arbitrary<number[]> {
  return fc.array(elementArb, { minLength: size, maxLength: size });
}

/** Asserts that two lists hold the same numbers, telling -0 from 0 and taking any NaN as equal. */
function expectSameValues(actual: readonly number[], expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const same = Object.is(actual[i], expected[i]) || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]));
    if (!same) throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Returns a float32 view of `shape` whose elements are NaN with the sign bit set. */
function negativeNaNs(shape: number[]): NdArray<FloatArray> {
  const data = new Float32Array(sizeOf(shape));
  new Int32Array(data.buffer).fill(0xffc00000 | 0);
  return ndarray(data, shape);
}

describe('broadcastBlocks', () => {
  test('blocks read the broadcast element', () => {
    fc.assert(
      fc.property(
        shapeWithEmptyArb.chain((shape) => fc.tuple(fc.constant(shape), broadcastableShapeArb(shape))),
        fc.boolean(),
        fc.nat(15),
        ([shape, own], expanded, mask) => {
          // An expanded view has stride 0 on the axes chosen by `mask`, as expand() makes.
          const view = expanded ? inputView('float64', own, new Array(sizeOf(own)).fill(0), 'zeroStride', mask) : makeView('float64', own);
          const blocks = broadcastBlocks(view, shape);
          const lead = shape.length - own.length;
          const kinds: string[] = [];
          shape.forEach((dim, axis) => {
            if (dim === 1) return;
            const broadcast = axis < lead || own[axis - lead] === 1 || view.stride[axis - lead] === 0;
            kinds.push(broadcast ? 'broadcast' : 'kept');
          });
          const first = kinds.indexOf('broadcast');
          const last = kinds.lastIndexOf('broadcast');
          const adjacent = first === -1 || kinds.slice(first, last + 1).every((kind) => kind === 'broadcast');

          expect(blocks !== undefined).toBe(adjacent);
          if (blocks === undefined) return;
          expect(blocks.outer * blocks.repeat * blocks.inner).toBe(sizeOf(shape));
          indicesOf(shape).forEach((index, flat) => {
            let position = view.offset;
            own.forEach((dim, axis) => (position += (dim === 1 ? 0 : index[lead + axis]) * view.stride[axis]));
            const o = Math.floor(flat / (blocks.repeat * blocks.inner));
            const i = flat % blocks.inner;
            expect(view.offset + o * blocks.inner + i).toBe(position);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('common layouts by hand', () => {
    expect(broadcastBlocks(makeView('float32', [40]), [25, 10, 40])).toEqual({ outer: 1, repeat: 250, inner: 40 });
    expect(broadcastBlocks(makeView('float32', [25, 1, 40]), [25, 10, 40])).toEqual({ outer: 25, repeat: 10, inner: 40 });
    expect(broadcastBlocks(makeView('float32', [25, 10, 1]), [25, 10, 40])).toEqual({ outer: 250, repeat: 40, inner: 1 });
    expect(broadcastBlocks(makeView('float32', []), [25, 10, 40])).toEqual({ outer: 1, repeat: 10000, inner: 1 });
    expect(broadcastBlocks(makeView('float32', [25, 10, 40]), [25, 10, 40])).toEqual({ outer: 1, repeat: 1, inner: 10000 });
    const sharedBias = ndarray(new Float32Array(40), [25, 1, 40], [0, 0, 1], 0);
    expect(broadcastBlocks(sharedBias, [25, 10, 40])).toEqual({ outer: 1, repeat: 250, inner: 40 });
    const expandedRows = ndarray(new Float32Array(25 * 40), [25, 10, 40], [40, 0, 1], 0);
    expect(broadcastBlocks(expandedRows, [25, 10, 40])).toEqual({ outer: 25, repeat: 10, inner: 40 });
  });

  test('layouts without blocks', () => {
    expect(broadcastBlocks(makeView('float32', [1, 10, 1]), [25, 10, 40])).toBeUndefined();
    expect(broadcastBlocks(layoutView('float32', [10, 40], new Array(400).fill(1), 'transposed'), [10, 40])).toBeUndefined();
    expect(broadcastBlocks(layoutView('float32', [2, 3], new Array(6).fill(1), 'sliced'), [2, 3])).toBeUndefined();
    expect(broadcastBlocks(makeView('float32', [2, 3]), [3])).toBeUndefined();
    expect(broadcastBlocks(makeView('float32', [2]), [3])).toBeUndefined();
  });
});

const binaryCases: Array<{ name: string; run: BinaryKernel }> = [
  { name: 'add', run: (a, b, out) => add(a, b, out) },
  { name: 'sub', run: (a, b, out) => sub(a, b, out) },
  { name: 'mul', run: (a, b, out) => mul(a, b, out) },
  { name: 'subScaled', run: (a, b, out) => subScaled(a, b, 0.37, out) },
  { name: 'div', run: (a, b, out) => div(a, b, out) },
  { name: 'maximum', run: (a, b, out) => maximum(a, b, out) },
  { name: 'greater', run: (a, b, out) => greater(a, b, out) },
  { name: 'reluBackward', run: (a, b, out) => reluBackward(a, b, out) },
];

/** `shape` with one run of adjacent axes set to 1, as a bias [B, 1, N] is to [B, M, N]. */
function oneRunOfOnesArb(shape: number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.nat(shape.length), fc.nat(shape.length))
    .map(([start, end]) => shape.map((dim, axis) => (axis >= Math.min(start, end) && axis < Math.max(start, end) ? 1 : dim)));
}

/**
 * Two operand shapes that broadcast together, with values for each. Usually one of them is the
 * full result shape, in either position, since the flat loops need one full-size operand.
 */
const operandPairArb = longRowShapeArb(40)
  .chain((shape) =>
    fc.tuple(
      fc.oneof(fc.constant(shape), broadcastableShapeArb(shape)),
      fc.oneof(broadcastableShapeArb(shape), oneRunOfOnesArb(shape)),
      fc.boolean(),
    ),
  )
  .map(([full, other, swap]) => (swap ? [other, full] : [full, other]))
  .chain(([left, right]) => fc.tuple(fc.constant(left), fc.constant(right), valuesArb(sizeOf(left)), valuesArb(sizeOf(right))));

/**
 * Selects `backend` for a describe block. The WebAssembly backend then takes elementwise ops of
 * every size, so that the small generated arrays run its kernels too.
 */
function useBackend(backend: Backend): void {
  const previousBackend = getBackend();
  const previousMinimum = wasmElementwise.minElements;
  beforeAll(() => {
    setBackend(backend);
    wasmElementwise.minElements = 1;
  });
  afterAll(() => {
    setBackend(previousBackend);
    wasmElementwise.minElements = previousMinimum;
  });
}

describe.each(backends)('binary kernels on contiguous operands, %s backend', (backend) => {
  useBackend(backend);

  test.each(binaryCases)('$name matches the strided loop', ({ run }) => {
    fc.assert(
      fc.property(dtypeArb, operandPairArb, outKindArb, (dtype, [aShape, bShape, aValues, bValues], outKind) => {
        const shape = referenceBroadcastShape([aShape, bShape]);
        const expected = run(layoutView(dtype, aShape, aValues, 'sliced'), layoutView(dtype, bShape, bValues, 'sliced'));

        const out = outView(dtype, shape, outKind);
        const result = run(makeView(dtype, aShape, aValues), makeView(dtype, bShape, bValues), out);
        expectSameValues(toFlat(result), toFlat(expected));
      }),
      { numRuns: 400 },
    );
  });

  test.each(binaryCases)('$name on expanded operands matches', ({ run }) => {
    fc.assert(
      fc.property(dtypeArb, operandPairArb, fc.nat(15), fc.nat(15), (dtype, [aShape, bShape, aValues, bValues], aMask, bMask) => {
        const a = inputView(dtype, aShape, aValues, 'zeroStride', aMask);
        const b = inputView(dtype, bShape, bValues, 'zeroStride', bMask);
        const expected = run(layoutView(dtype, aShape, toFlat(a), 'sliced'), layoutView(dtype, bShape, toFlat(b), 'sliced'));

        expectSameValues(toFlat(run(a, b)), toFlat(expected));
      }),
      { numRuns: 400 },
    );
  });

  test('in place with a per-task bias', () => {
    const values = Array.from({ length: 2 * 3 * 40 }, (_, i) => i - 100);
    const bias = Array.from({ length: 2 * 40 }, (_, i) => i / 4);
    const product = makeView('float32', [2, 3, 40], values);
    const expected = add(layoutView('float32', [2, 3, 40], values, 'sliced'), layoutView('float32', [2, 1, 40], bias, 'sliced'));

    add(product, makeView('float32', [2, 1, 40], bias), product);
    expectSameValues(toFlat(product), toFlat(expected));
  });

  test('reluBackward passes NaN only where x > 0', () => {
    const grad = makeView('float32', [2, 40], new Array(80).fill(NaN));
    const x = makeView('float32', [2, 40], Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 1 : -1)));
    const result = toFlat(reluBackward(grad, x));

    result.forEach((value, i) => (i % 2 === 0 ? expect(value).toBeNaN() : expect(Object.is(value, 0)).toBe(true)));
  });

  test('reluBackward turns a -0 gradient into 0', () => {
    const grad = makeView('float32', [64], new Array(64).fill(-0));
    const x = makeView('float32', [64], new Array(64).fill(1));

    expectSameValues(toFlat(reluBackward(grad, x)), new Array(64).fill(0));
  });
});

describe.each(backends.filter((backend) => backend === 'wasm'))('elementwise kernels on the %s backend', (backend) => {
  useBackend(backend);
  afterEach(() => jest.restoreAllMocks());

  test('binary ops run in WebAssembly', () => {
    const blocks = jest.spyOn(WasmBackend.prototype, 'binaryBlocks');
    add(makeView('float32', [3, 5]), makeView('float32', [5]));
    mul(makeView('float32', [3, 5]), makeView('float32', []));

    expect(blocks).toHaveBeenCalledTimes(2);
    expect(blocks.mock.results.map((call) => call.value)).toEqual([true, true]);
  });

  test('a broadcast column stays in the loops', () => {
    const blocks = jest.spyOn(WasmBackend.prototype, 'binaryBlocks');
    add(makeView('float32', [3, 5]), makeView('float32', [3, 1]));

    expect(blocks.mock.results.map((call) => call.value)).toEqual([false]);
  });

  test('arrays above the maximum stay in the loops', () => {
    const blocks = jest.spyOn(WasmBackend.prototype, 'binaryBlocks');
    const previous = wasmElementwise.maxElements;
    wasmElementwise.maxElements = 8;
    try {
      add(makeView('float32', [9]), makeView('float32', [9]));
    } finally {
      wasmElementwise.maxElements = previous;
    }

    expect(blocks).not.toHaveBeenCalled();
  });

  test('sums over middle axes match the loops bit for bit', () => {
    const rows = jest.spyOn(WasmBackend.prototype, 'sumRows');
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 4, max: 21 })).chain((shape) =>
          fc.tuple(fc.constant(shape), valuesArb(sizeOf(shape))),
        ),
        ([shape, values]) => {
          const x = makeView('float32', shape, values);
          setBackend('js');
          const expected = toFlat(sum(x, [1]));
          setBackend('wasm');

          expectSameValues(toFlat(sum(x, [1])), expected);
        },
      ),
      { numRuns: 200 },
    );

    expect(rows).toHaveBeenCalled();
  });

  test('relu runs in WebAssembly', () => {
    const kernel = jest.spyOn(WasmBackend.prototype, 'relu');
    relu(makeView('float32', [7]));

    expect(kernel).toHaveBeenCalledTimes(1);
  });
});

describe.each(backends)('relu on contiguous float32, %s backend', (backend) => {
  useBackend(backend);

  test('matches the strided loop', () => {
    fc.assert(
      fc.property(
        longRowShapeArb(70).chain((shape) => fc.tuple(fc.constant(shape), valuesArb(sizeOf(shape)))),
        dtypeArb,
        outKindArb,
        ([shape, values], dtype, outKind) => {
          const expected = relu(layoutView(dtype, shape, values, 'sliced'));
          const result = relu(makeView(dtype, shape, values), outView(dtype, shape, outKind));
          expectSameValues(toFlat(result), toFlat(expected));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('NaN with the sign bit set stays NaN', () => {
    const result = toFlat(relu(negativeNaNs([48])));
    result.forEach((value) => expect(value).toBeNaN());
  });

  test('in place', () => {
    const values = Array.from({ length: 64 }, (_, i) => (i % 3) - 1.5);
    const x = makeView('float32', [64], values);
    relu(x, x);
    expectSameValues(toFlat(x), values.map((v) => Math.max(v, 0)));
  });
});

describe('sum over adjacent axes', () => {
  test('matches the strided loop', () => {
    fc.assert(
      fc.property(
        shapeWithEmptyArb.chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.subarray(shape.map((_, axis) => axis)),
            fc.boolean(),
            fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
          ),
        ),
        dtypeArb,
        ([shape, axes, keepDims, values], dtype: Dtype) => {
          const expected = sum(layoutView(dtype, shape, values, 'sliced'), axes, keepDims);
          const result = sum(makeView(dtype, shape, values), axes, keepDims);

          // The general loop adds each row's total at once, so long sums may round differently.
          expect(result.shape).toEqual(expected.shape);
          expectClose(toFlat(result), toFlat(expected), tolerance(dtype));
        },
      ),
      { numRuns: 200 },
    );
  });
});
