import fc from 'fast-check';
import { type Tensor, embedding, gather, gradcheck, gradgradcheck, indexAdd, indexSelect, scatterAdd } from '@metagrad/autodiff';
import { RUNS, checkGradients, constant, leaf, rangeArb, shapeArb, sizeOf, valuesArb, valuesOf } from './helpers';

function leafArb(shape: number[]): fc.Arbitrary<Tensor> {
  return valuesArb(sizeOf(shape), rangeArb(-2, 2)).map((values) => leaf(values, shape));
}

/** Indices in [0, dim), repeats allowed, `count` of them. */
function indicesArb(dim: number, count: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: dim - 1 }), { minLength: count, maxLength: count });
}

/** An input shape, an axis of it and indices along that axis. */
const selectArb = shapeArb(1, 3).chain((shape) =>
  fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
    fc.integer({ min: 1, max: 4 }).chain((count) => fc.record({ shape: fc.constant(shape), axis: fc.constant(axis), indices: indicesArb(shape[axis], count) })),
  ),
);

/** Returns the shape that indexSelect gives: the indexed axis replaced by the number of indices. */
function selectedShape(shape: number[], axis: number, count: number): number[] {
  return shape.map((dim, i) => (i === axis ? count : dim));
}

describe('indexSelect and indexAdd', () => {
  test('indexSelect with repeated indices', () => {
    fc.assert(
      fc.property(selectArb.chain((s) => fc.tuple(fc.constant(s), leafArb(s.shape))), ([{ axis, indices }, x]) => {
        checkGradients((t) => indexSelect(t, axis, indices), [x]);
      }),
      RUNS,
    );
  });

  test('indexSelect with tensor indices', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [3, 2]);
    const result = indexSelect(x, 0, constant([2, 0, 2], [3]));
    expect(valuesOf(result)).toEqual([5, 6, 1, 2, 5, 6]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 1, 0, 0, 2, 2]);
  });

  test('indexSelect with 2-D indices', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    const indices = constant([0, 2, 1, 1], [2, 2]);
    expect(indexSelect(x, 1, indices).shape).toEqual([2, 2, 2]);
    checkGradients((t) => indexSelect(t, 1, indices), [x]);
  });

  test('indexAdd into target and source', () => {
    const arb = selectArb.chain((s) => fc.tuple(fc.constant(s), leafArb(s.shape), leafArb(selectedShape(s.shape, s.axis, s.indices.length))));
    fc.assert(
      fc.property(arb, ([{ axis, indices }, target, src]) => {
        checkGradients((t, s) => indexAdd(t, axis, indices, s), [target, src]);
      }),
      RUNS,
    );
  });

  test('indexAdd adds repeated indices up', () => {
    const result = indexAdd(leaf([0, 0, 0], [3]), 0, [1, 1, 2], leaf([1, 2, 3], [3]));
    expect(valuesOf(result)).toEqual([0, 3, 3]);
  });
});

describe('gather and scatterAdd', () => {
  /** An input shape, an axis and an index tensor of the same rank with entries along that axis. */
  const gatherArb = shapeArb(1, 3).chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
      fc.integer({ min: 1, max: 3 }).chain((count) => {
        const indexShape = selectedShape(shape, axis, count);
        return fc.record({
          shape: fc.constant(shape),
          axis: fc.constant(axis),
          indexShape: fc.constant(indexShape),
          index: indicesArb(shape[axis], sizeOf(indexShape)),
        });
      }),
    ),
  );

  test('gather with repeated indices', () => {
    fc.assert(
      fc.property(gatherArb.chain((g) => fc.tuple(fc.constant(g), leafArb(g.shape))), ([{ axis, indexShape, index }, x]) => {
        const indexTensor = constant(index, indexShape);
        expect(gather(x, axis, indexTensor).shape).toEqual(indexShape);
        checkGradients((t) => gather(t, axis, indexTensor), [x]);
      }),
      RUNS,
    );
  });

  test('gather by hand', () => {
    const x = leaf([1, 2, 3, 4], [2, 2]);
    const result = gather(x, 1, constant([1, 1, 0, 1], [2, 2]));
    expect(valuesOf(result)).toEqual([2, 2, 3, 4]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 2, 1, 1]);
  });

  test('scatterAdd into target and source', () => {
    const arb = gatherArb.chain((g) => fc.tuple(fc.constant(g), leafArb(g.shape), leafArb(g.indexShape)));
    fc.assert(
      fc.property(arb, ([{ axis, indexShape, index }, target, src]) => {
        const indexTensor = constant(index, indexShape);
        checkGradients((t, s) => scatterAdd(t, axis, indexTensor, s), [target, src]);
      }),
      RUNS,
    );
  });

  test('scatterAdd by hand', () => {
    const result = scatterAdd(constant([0, 0, 0, 0], [2, 2]), 1, constant([[1, 1], [0, 1]].flat(), [2, 2]), constant([1, 2, 3, 4], [2, 2]));
    expect(valuesOf(result)).toEqual([0, 3, 3, 4]);
  });
});

describe('embedding', () => {
  const embeddingArb = fc.record({
    rows: fc.integer({ min: 1, max: 4 }),
    dim: fc.integer({ min: 1, max: 3 }),
    indexShape: shapeArb(1, 2),
  }).chain(({ rows, dim, indexShape }) =>
    fc.record({
      weight: leafArb([rows, dim]),
      indexShape: fc.constant(indexShape),
      ids: indicesArb(rows, sizeOf(indexShape)),
    }),
  );

  test('lookup of generated ids', () => {
    fc.assert(
      fc.property(embeddingArb, ({ weight, indexShape, ids }) => {
        const indices = constant(ids, indexShape);
        expect(embedding(indices, weight).shape).toEqual([...indexShape, weight.shape[1]]);
        checkGradients((w) => embedding(indices, w), [weight]);
      }),
      RUNS,
    );
  });

  test('paddingIdx row gets no gradient', () => {
    fc.assert(
      fc.property(embeddingArb, ({ weight, indexShape, ids }) => {
        const indices = constant(ids, indexShape);
        const paddingIdx = ids[0];
        const dim = weight.shape[1];
        const plain = leaf(valuesOf(weight), weight.shape);
        embedding(indices, weight, { paddingIdx }).sum().backward();
        embedding(indices, plain).sum().backward();

        const padded = valuesOf(weight.grad!);
        const expected = valuesOf(plain.grad!).map((v, i) => (Math.floor(i / dim) === paddingIdx ? 0 : v));
        expect(padded).toEqual(expected);
        // Finite differences move the padding row too, which the gradient leaves out on purpose, so
        // gradcheck fails; the gradient function itself is still differentiated exactly.
        const f = (w: Tensor) => embedding(indices, w, { paddingIdx });
        expect(() => gradcheck(f, [weight])).toThrow(/gradcheck: Jacobian mismatch/);
        expect(gradgradcheck(f, [weight])).toBe(true);
      }),
      RUNS,
    );
  });

  test('paddingIdx on every id', () => {
    const weight = leaf([1, 2, 3, 4], [2, 2]);
    embedding([1, 1, 1], weight, { paddingIdx: 1 }).sum().backward();
    expect(valuesOf(weight.grad!)).toEqual([0, 0, 0, 0]);
  });

  test('lookup by hand', () => {
    const weight = leaf([1, 2, 3, 4, 5, 6], [3, 2]);
    const result = embedding([2, 0, 2], weight, { paddingIdx: 0 });
    expect(valuesOf(result)).toEqual([5, 6, 1, 2, 5, 6]);
    result.sum().backward();
    expect(valuesOf(weight.grad!)).toEqual([0, 0, 0, 0, 2, 2]);
  });

  test('negative paddingIdx counts from the last row', () => {
    const weight = leaf([1, 2, 3, 4, 5, 6], [3, 2]);
    embedding([2, 0, 2], weight, { paddingIdx: -1 }).sum().backward();
    expect(valuesOf(weight.grad!)).toEqual([1, 1, 0, 0, 0, 0]);
  });

  test('paddingIdx out of range is rejected', () => {
    const weight = leaf([1, 2, 3, 4, 5, 6], [3, 2]);
    const message = 'embedding: paddingIdx 3 is out of range for a weight with 3 rows; use an index in [-3, 2]';
    expect(() => embedding([0], weight, { paddingIdx: 3 })).toThrow(message);
    expect(() => embedding([0], weight, { paddingIdx: -4 })).toThrow('embedding: paddingIdx -4 is out of range');
  });

  test('weight that is not 2-D is rejected', () => {
    expect(() => embedding([0], leaf([1, 2], [2]))).toThrow('embedding: weight must be 2-D [numEmbeddings, dim], got shape [2]');
  });
});
