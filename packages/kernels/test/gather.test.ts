import fc from 'fast-check';
import type { NdArray } from 'ndarray';
import {
  type FloatArray, KernelError, type StridedView, gather, gatherAlongAxis, scatterAdd, scatterAddAlongAxis, sizeOf,
  zerosView,
} from '@metagrad/kernels';
import {
  changedOutside, dot, dtypeArb, expectClose, flatIndex, indicesOf, inputLayoutArb, inputView, type Layout, layoutView,
  makeView, outKindArb, outView, pseudoRandom, shapeArb, toFlat, tolerance,
} from './helpers';

type IndexType = 'int32' | 'float64' | 'uint8' | 'plain';

/** Builds an index view of `shape` stored as `layout`, in an array of the given type. */
function indexView(values: number[], shape: number[], type: IndexType, layout: Exclude<Layout, 'broadcast'> = 'contiguous'): StridedView<ArrayLike<number>> {
  const view = layoutView('float64', shape, values, layout);
  const source = Array.from(view.data);
  let data: ArrayLike<number> = source;
  if (type === 'int32') data = new Int32Array(source);
  if (type === 'float64') data = new Float64Array(source);
  if (type === 'uint8') data = new Uint8Array(source);
  return { data, shape: view.shape, stride: view.stride, offset: view.offset };
}

/** Reads the buffer positions outside the elements of `view`, to check that a kernel left them alone. */
function outsideValues(view: NdArray<FloatArray>): number[] {
  const inside = new Set<number>();
  for (const index of indicesOf(view.shape)) {
    inside.add(view.offset + index.reduce((position, i, axis) => position + i * view.stride[axis], 0));
  }
  return Array.from(view.data).filter((_, position) => !inside.has(position));
}

const indexTypeArb = fc.constantFrom<IndexType>('int32', 'float64', 'uint8', 'plain');
const indexLayoutArb = fc.constantFrom<Exclude<Layout, 'broadcast'>>('contiguous', 'transposed', 'sliced', 'reversed');

/** Generates an input shape, an axis of it (possibly negative) and in-range indices of a shape of 0 to 2 axes. */
const gatherProblemArb = shapeArb(1, 3, 4).chain((shape) =>
  fc.integer({ min: -shape.length, max: shape.length - 1 }).chain((axis) => {
    const size = shape[(axis + shape.length) % shape.length];
    return shapeArb(0, 2, 3).chain((indexShape) =>
      fc.record({
        shape: fc.constant(shape),
        axis: fc.constant(axis),
        indexShape: fc.constant(indexShape),
        indices: fc.array(fc.integer({ min: 0, max: size - 1 }), { minLength: sizeOf(indexShape), maxLength: sizeOf(indexShape) }),
        indexType: indexTypeArb,
        indexLayout: indexLayoutArb,
        dtype: dtypeArb,
        seed: fc.integer(),
      }),
    );
  }),
);

/** Computes for each element of gather's result the row-major position in x that it copies. */
function referenceGatherSources(shape: number[], axis: number, indexShape: number[], indices: number[]): { shape: number[]; sources: number[] } {
  const resultShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)];
  const sources = indicesOf(resultShape).map((result) => {
    const picked = indices[flatIndex(indexShape, result.slice(axis, axis + indexShape.length))];
    const source = [...result.slice(0, axis), picked, ...result.slice(axis + indexShape.length)];
    return flatIndex(shape, source);
  });
  return { shape: resultShape, sources };
}

describe('gather and scatterAdd', () => {
  test('gather agrees with reference', () => {
    fc.assert(
      fc.property(gatherProblemArb, inputLayoutArb, fc.nat(7), outKindArb, (problem, layout, mask, outKind) => {
        const { shape, axis, indexShape, indices, indexType, indexLayout, dtype, seed } = problem;
        const x = inputView(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i + seed * 0.001), layout, mask);
        const resolved = (axis + shape.length) % shape.length;
        const expected = referenceGatherSources(shape, resolved, indexShape, indices);
        const out = outView(dtype, expected.shape, outKind);
        const result = gather(x, indexView(indices, indexShape, indexType, indexLayout), axis, out);

        if (out) expect(result).toBe(out);
        expect(result.shape).toEqual(expected.shape);
        const flat = toFlat(x);
        expect(toFlat(result)).toEqual(expected.sources.map((p) => flat[p]));
        if (out) expect(changedOutside(out)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  test('scatterAdd agrees with reference and adds repeated indices', () => {
    fc.assert(
      fc.property(
        gatherProblemArb,
        fc.constantFrom<Exclude<Layout, 'broadcast'>>('contiguous', 'transposed', 'sliced', 'reversed'),
        inputLayoutArb,
        fc.nat(7),
        (problem, targetLayout, srcLayout, mask) => {
          const { shape, axis, indexShape, indices, indexType, indexLayout, dtype, seed } = problem;
          const resolved = (axis + shape.length) % shape.length;
          const expected = referenceGatherSources(shape, resolved, indexShape, indices);
          const target = layoutView(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i), targetLayout);
          const src = inputView(dtype, expected.shape, Array.from({ length: sizeOf(expected.shape) }, (_, i) => (i + 1) * 0.5 + seed * 1e-3), srcLayout, mask);
          const before = outsideValues(target);

          const totals = toFlat(target);
          toFlat(src).forEach((v, position) => (totals[expected.sources[position]] += v));
          expect(scatterAdd(target, indexView(indices, indexShape, indexType, indexLayout), src, axis)).toBe(target);
          expectClose(toFlat(target), totals, tolerance(dtype));
          expect(outsideValues(target)).toEqual(before);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('scatterAdd is the adjoint of gather', () => {
    fc.assert(
      fc.property(gatherProblemArb, ({ shape, axis, indexShape, indices }) => {
        const resolved = (axis + shape.length) % shape.length;
        const resultShape = [...shape.slice(0, resolved), ...indexShape, ...shape.slice(resolved + 1)];
        const x = inputView('float64', shape, pseudoRandom(sizeOf(shape), 1), 'transposed');
        const s = makeView('float64', resultShape, pseudoRandom(sizeOf(resultShape), 2));
        const index = indexView(indices, indexShape, 'int32');

        const left = dot(toFlat(gather(x, index, axis)), toFlat(s));
        const right = dot(toFlat(x), toFlat(scatterAdd(zerosView('float64', shape), index, s, axis)));
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(left)));
      }),
      { numRuns: 60 },
    );
  });

  test('gather by hand', () => {
    const x = makeView('float64', [3, 2], [1, 2, 3, 4, 5, 6]);
    expect(toFlat(gather(x, indexView([2, 0, 2], [3], 'int32'), 0))).toEqual([5, 6, 1, 2, 5, 6]);
    expect(toFlat(gather(x, indexView([1, 1], [2], 'plain'), 1))).toEqual([2, 2, 4, 4, 6, 6]);
    const scalarPick = gather(x, indexView([1], [], 'float64'), 0);
    expect(scalarPick.shape).toEqual([2]);
    expect(toFlat(scalarPick)).toEqual([3, 4]);
    expect(gather(x, indexView([], [0], 'int32'), 0).shape).toEqual([0, 2]);
  });

  test('embedding lookup with 2-D ids', () => {
    const table = makeView('float32', [4, 2], [0, 0, 1, 1, 2, 2, 3, 3]);
    const result = gather(table, indexView([3, 1, 0, 3], [2, 2], 'int32'), 0);
    expect(result.shape).toEqual([2, 2, 2]);
    expect(toFlat(result)).toEqual([3, 3, 1, 1, 0, 0, 3, 3]);
  });

  test('repeated indices add up', () => {
    const target = makeView('float64', [3], [0, 0, 0]);
    scatterAdd(target, indexView([0, 0, 2, 0], [4], 'int32'), makeView('float64', [4], [1, 2, 3, 4]));
    expect(toFlat(target)).toEqual([7, 0, 3]);
  });

  test('out-of-range index names position and value', () => {
    const x = makeView('float32', [3, 2]);
    expect(() => gather(x, indexView([0, 3], [2], 'int32'))).toThrow(KernelError);
    expect(() => gather(x, indexView([0, 3], [2], 'int32'))).toThrow(
      'gather: index 3 at position 1 is out of range for axis 0 of size 3 (shape [3, 2]); indices must be integers in [0, 2]',
    );
    expect(() => gather(x, indexView([1, -1], [2], 'plain'), 1)).toThrow(
      'gather: index -1 at position 1 is out of range for axis 1 of size 2 (shape [3, 2]); indices must be integers in [0, 1]',
    );
  });

  test('non-integer index names position and value', () => {
    const x = makeView('float32', [3, 2]);
    expect(() => gather(x, indexView([1.5], [1], 'float64'))).toThrow(
      'gather: index 1.5 at position 0 is not an integer for axis 0 of size 3 (shape [3, 2]); indices must be integers in [0, 2]',
    );
    expect(() => gather(x, indexView([0, NaN], [2], 'plain'))).toThrow('gather: index NaN at position 1 is not an integer');
  });

  test('bad index position is row-major in a transposed view', () => {
    // Logical indices [[0, 1], [7, 2]]: the bad one is at row-major position 2.
    const indices = indexView([0, 1, 7, 2], [2, 2], 'int32', 'transposed');
    expect(() => gather(makeView('float64', [3]), indices)).toThrow('gather: index 7 at position 2 is out of range');
  });

  test('scatterAdd leaves target unchanged on a bad index', () => {
    const target = makeView('float64', [3], [1, 2, 3]);
    const src = makeView('float64', [2], [10, 10]);
    expect(() => scatterAdd(target, indexView([0, 5], [2], 'int32'), src)).toThrow(
      'scatterAdd: index 5 at position 1 is out of range for axis 0 of size 3 (shape [3]); indices must be integers in [0, 2]',
    );
    expect(toFlat(target)).toEqual([1, 2, 3]);
  });

  test('scatterAdd src of wrong shape is rejected', () => {
    const target = makeView('float32', [3, 2]);
    expect(() => scatterAdd(target, indexView([0, 1, 2, 0], [4], 'int32'), makeView('float32', [4, 3]))).toThrow(
      'scatterAdd: src has shape [4, 3] but target [3, 2] with indices [4] along axis 0 needs [4, 2]',
    );
  });

  test('mixed dtypes are rejected', () => {
    const target = makeView('float32', [3]);
    expect(() => scatterAdd(target, indexView([0], [1], 'int32'), makeView('float64', [1]))).toThrow(
      'scatterAdd: dtypes differ (target is float32, src is float64); convert one with cast() first',
    );
  });

  test('axis out of range and wrong out are rejected', () => {
    const x = makeView('float32', [3, 2]);
    expect(() => gather(x, indexView([0], [1], 'int32'), 2)).toThrow(
      'gather: axis 2 is out of range for an array of shape [3, 2]; use an axis in [-2, 1]',
    );
    expect(() => gather(x, indexView([0], [1], 'int32'), 0, makeView('float32', [2]))).toThrow(
      'gather: out has shape [2] but the result has shape [1, 2]',
    );
  });
});

/** Generates x's shape, an axis, and indices of the same number of axes that fit x as torch.gather requires. */
const alongAxisProblemArb = shapeArb(1, 3, 4).chain((shape) =>
  fc.integer({ min: -shape.length, max: shape.length - 1 }).chain((axis) => {
    const resolved = (axis + shape.length) % shape.length;
    const dimArbs = shape.map((dim, i) => fc.integer({ min: 1, max: i === resolved ? 4 : dim }));
    return fc.tuple(...dimArbs).chain((indexShape) =>
      fc.record({
        shape: fc.constant(shape),
        axis: fc.constant(axis),
        indexShape: fc.constant(indexShape as number[]),
        indices: fc.array(fc.integer({ min: 0, max: shape[resolved] - 1 }), { minLength: sizeOf(indexShape), maxLength: sizeOf(indexShape) }),
        indexType: indexTypeArb,
        indexLayout: indexLayoutArb,
        dtype: dtypeArb,
      }),
    );
  }),
);

/** Computes, for each index position, the row-major position in x that torch.gather reads: the index replaces the coordinate along `axis`. */
function referenceAlongAxisSources(shape: number[], axis: number, indexShape: number[], indices: number[]): number[] {
  return indicesOf(indexShape).map((position, flat) => {
    const source = position.slice();
    source[axis] = indices[flat];
    return flatIndex(shape, source);
  });
}

describe('gatherAlongAxis and scatterAddAlongAxis', () => {
  test('gatherAlongAxis agrees with reference', () => {
    fc.assert(
      fc.property(alongAxisProblemArb, inputLayoutArb, fc.nat(7), outKindArb, (problem, layout, mask, outKind) => {
        const { shape, axis, indexShape, indices, indexType, indexLayout, dtype } = problem;
        const x = inputView(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i * 1.5), layout, mask);
        const resolved = (axis + shape.length) % shape.length;
        const out = outView(dtype, indexShape, outKind);
        const result = gatherAlongAxis(x, indexView(indices, indexShape, indexType, indexLayout), axis, out);

        if (out) expect(result).toBe(out);
        expect(result.shape).toEqual(indexShape);
        const flat = toFlat(x);
        expect(toFlat(result)).toEqual(referenceAlongAxisSources(shape, resolved, indexShape, indices).map((p) => flat[p]));
        if (out) expect(changedOutside(out)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  test('scatterAddAlongAxis agrees with reference', () => {
    fc.assert(
      fc.property(alongAxisProblemArb, indexLayoutArb, inputLayoutArb, fc.nat(7), (problem, targetLayout, srcLayout, mask) => {
        const { shape, axis, indexShape, indices, indexType, indexLayout, dtype } = problem;
        const resolved = (axis + shape.length) % shape.length;
        const target = layoutView(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => -i), targetLayout);
        const src = inputView(dtype, indexShape, Array.from({ length: sizeOf(indexShape) }, (_, i) => 0.25 * (i + 1)), srcLayout, mask);
        const before = outsideValues(target);

        const totals = toFlat(target);
        const sources = referenceAlongAxisSources(shape, resolved, indexShape, indices);
        toFlat(src).forEach((v, position) => (totals[sources[position]] += v));
        expect(scatterAddAlongAxis(target, indexView(indices, indexShape, indexType, indexLayout), src, axis)).toBe(target);
        expectClose(toFlat(target), totals, tolerance(dtype));
        expect(outsideValues(target)).toEqual(before);
      }),
      { numRuns: 100 },
    );
  });

  test('scatterAddAlongAxis is the adjoint of gatherAlongAxis', () => {
    fc.assert(
      fc.property(alongAxisProblemArb, ({ shape, axis, indexShape, indices }) => {
        const x = inputView('float64', shape, pseudoRandom(sizeOf(shape), 3), 'reversed');
        const s = makeView('float64', indexShape, pseudoRandom(sizeOf(indexShape), 4));
        const index = indexView(indices, indexShape, 'int32');

        const left = dot(toFlat(gatherAlongAxis(x, index, axis)), toFlat(s));
        const right = dot(toFlat(x), toFlat(scatterAddAlongAxis(zerosView('float64', shape), index, s, axis)));
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(left)));
      }),
      { numRuns: 60 },
    );
  });

  test('torch.gather example', () => {
    // The example of the torch.gather documentation: gathering [[1, 2], [3, 4]] along dim 1 with
    // index [[0, 0], [1, 0]] gives [[1, 1], [4, 3]].
    const x = makeView('float64', [2, 2], [1, 2, 3, 4]);
    expect(toFlat(gatherAlongAxis(x, indexView([0, 0, 1, 0], [2, 2], 'int32'), 1))).toEqual([1, 1, 4, 3]);
    expect(toFlat(gatherAlongAxis(x, indexView([1, 0], [2, 1], 'int32'), 1))).toEqual([2, 3]);
  });

  test('torch.scatter_add example', () => {
    // The second example of the torch.Tensor.scatter_add_ documentation: ones added into zeros(3, 5)
    // along dim 0 with index [[0, 1, 2, 0, 0], [0, 1, 2, 2, 2]].
    const target = makeView('float32', [3, 5]);
    const index = indexView([0, 1, 2, 0, 0, 0, 1, 2, 2, 2], [2, 5], 'int32');
    scatterAddAlongAxis(target, index, makeView('float32', [2, 5], new Array<number>(10).fill(1)), 0);
    expect(toFlat(target)).toEqual([2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1]);
  });

  test('index longer than x along the axis', () => {
    const x = makeView('float64', [2, 2], [1, 2, 3, 4]);
    const result = gatherAlongAxis(x, indexView([1, 1, 0, 1, 0, 0], [3, 2], 'int32'), 0);
    expect(toFlat(result)).toEqual([3, 4, 1, 4, 1, 2]);
  });

  test('indices that do not fit are rejected', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => gatherAlongAxis(x, indexView([0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3], 'int32'), 1)).toThrow(KernelError);
    expect(() => gatherAlongAxis(x, indexView([0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3], 'int32'), 1)).toThrow(
      'gatherAlongAxis: indices of shape [3, 3] do not fit an array of shape [2, 3] along axis 1: they need the same number of axes and no larger size on the other axes',
    );
    expect(() => scatterAddAlongAxis(x, indexView([0, 0], [2], 'int32'), makeView('float32', [2]), 0)).toThrow(
      'scatterAddAlongAxis: indices of shape [2] do not fit an array of shape [2, 3] along axis 0',
    );
  });

  test('out-of-range and non-integer indices name position and value', () => {
    const x = makeView('float64', [2, 2]);
    expect(() => gatherAlongAxis(x, indexView([0, 2], [2, 1], 'int32'), 1)).toThrow(
      'gatherAlongAxis: index 2 at position 1 is out of range for axis 1 of size 2 (shape [2, 2]); indices must be integers in [0, 1]',
    );
    expect(() => scatterAddAlongAxis(x, indexView([0.5, 0], [1, 2], 'float64'), makeView('float64', [1, 2]), 0)).toThrow(
      'scatterAddAlongAxis: index 0.5 at position 0 is not an integer for axis 0 of size 2 (shape [2, 2]); indices must be integers in [0, 1]',
    );
  });

  test('src of wrong shape is rejected', () => {
    const target = makeView('float64', [2, 2]);
    expect(() => scatterAddAlongAxis(target, indexView([0, 1], [2, 1], 'int32'), makeView('float64', [2, 2]), 1)).toThrow(
      'scatterAddAlongAxis: src has shape [2, 2] but indices have shape [2, 1]; they must match',
    );
  });
});
