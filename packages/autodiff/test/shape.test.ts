import fc from 'fast-check';
import {
  type SliceSpec, type Tensor, cast, clone, concat, contiguous, expand, flatten, narrow, pad, permute, reshape, slice, split, squeeze, stack,
  sumToShape, transpose, unsqueeze,
} from '@metagrad/autodiff';
import { RUNS, broadcastOperandArb, checkGradients, leaf, rangeArb, shapeArb, sizeOf, valuesArb, valuesOf } from './helpers';

/** Generates a float64 leaf of the given shape. */
function leafArb(shape: number[]): fc.Arbitrary<Tensor> {
  return valuesArb(sizeOf(shape), rangeArb(-2, 2)).map((values) => leaf(values, shape));
}

/** Generates a float64 leaf of a generated shape. */
function shapedLeafArb(minNdim: number, maxNdim: number, maxDim = 3): fc.Arbitrary<Tensor> {
  return shapeArb(minNdim, maxNdim, maxDim).chain(leafArb);
}

describe('reshape and flatten', () => {
  test('reshape to generated shapes', () => {
    const arb = shapedLeafArb(0, 3).chain((x) => {
      const targets = [[-1], [x.size, 1], x.shape.slice().reverse(), [1, ...x.shape, 1], [-1, x.shape[x.ndim - 1] ?? 1]];
      return fc.tuple(fc.constant(x), fc.constantFrom(...targets));
    });
    fc.assert(
      fc.property(arb, ([x, target]) => {
        const result = reshape(x, target);
        expect(result.size).toBe(x.size);
        expect(valuesOf(result)).toEqual(valuesOf(x));
        checkGradients((t) => reshape(t, target), [x]);
      }),
      RUNS,
    );
  });

  test('reshape of a transposed tensor', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(valuesOf(reshape(transpose(x), [6]))).toEqual([1, 4, 2, 5, 3, 6]);
    checkGradients((t) => reshape(transpose(t), [3, 2]), [x]);
  });

  test('reshape to a different size is rejected', () => {
    expect(() => reshape(leaf([1, 2, 3, 4, 5, 6], [2, 3]), [4, 2])).toThrow(
      'reshape: cannot view 6 elements of shape [2, 3] as [4, 2]; the new shape must have the same number of elements, with at most one -1 to infer',
    );
  });

  test('flatten between generated axes', () => {
    const arb = shapedLeafArb(1, 4, 2).chain((x) =>
      fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.ndim - 1 }), fc.integer({ min: 0, max: x.ndim - 1 })).map(([t, a, b]) => [t, Math.min(a, b), Math.max(a, b)] as const),
    );
    fc.assert(
      fc.property(arb, ([x, start, end]) => {
        const merged = x.shape.slice(start, end + 1).reduce((product, dim) => product * dim, 1);
        expect(flatten(x, start, end).shape).toEqual([...x.shape.slice(0, start), merged, ...x.shape.slice(end + 1)]);
        checkGradients((t) => flatten(t, start, end), [x]);
      }),
      RUNS,
    );
  });

  test('flatten of a scalar has one axis', () => {
    expect(flatten(leaf(3)).shape).toEqual([1]);
  });
});

describe('squeeze and unsqueeze', () => {
  test('squeeze all axes of size 1', () => {
    fc.assert(
      fc.property(shapeArb(0, 4, 2).chain(leafArb), (x) => {
        expect(squeeze(x).shape).toEqual(x.shape.filter((dim) => dim !== 1));
        checkGradients((t) => squeeze(t), [x]);
      }),
      RUNS,
    );
  });

  test('squeeze one axis', () => {
    const arb = shapedLeafArb(1, 4, 2).chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 })));
    fc.assert(
      fc.property(arb, ([x, axis]) => {
        const resolved = (axis + x.ndim) % x.ndim;
        const expected = x.shape[resolved] === 1 ? x.shape.filter((_, i) => i !== resolved) : x.shape;
        expect(squeeze(x, axis).shape).toEqual(expected);
        checkGradients((t) => squeeze(t, axis), [x]);
      }),
      RUNS,
    );
  });

  test('unsqueeze at generated axes', () => {
    const arb = shapedLeafArb(0, 3).chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim - 1, max: x.ndim })));
    fc.assert(
      fc.property(arb, ([x, axis]) => {
        const shape = x.shape.slice();
        shape.splice(axis < 0 ? axis + x.ndim + 1 : axis, 0, 1);
        expect(unsqueeze(x, axis).shape).toEqual(shape);
        checkGradients((t) => unsqueeze(t, axis), [x]);
      }),
      RUNS,
    );
  });
});

describe('transpose and permute', () => {
  test('transpose of generated axes', () => {
    const arb = shapedLeafArb(1, 4).chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 }), fc.integer({ min: 0, max: x.ndim - 1 })));
    fc.assert(
      fc.property(arb, ([x, a, b]) => {
        checkGradients((t) => transpose(t, a, b), [x]);
      }),
      RUNS,
    );
  });

  test('transpose default axes', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(transpose(x).shape).toEqual([3, 2]);
    expect(valuesOf(transpose(x))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(valuesOf(x.T)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  test('T of a 3-D tensor is rejected', () => {
    expect(() => leaf([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]).T).toThrow('T: expected a 2-D tensor, got shape [2, 2, 2]; use transpose(axisA, axisB) or permute()');
  });

  test('permute by generated orders', () => {
    const arb = shapedLeafArb(0, 4).chain((x) => fc.tuple(fc.constant(x), fc.shuffledSubarray(x.shape.map((_, axis) => axis), { minLength: x.ndim, maxLength: x.ndim })));
    fc.assert(
      fc.property(arb, ([x, order]) => {
        expect(permute(x, order).shape).toEqual(order.map((axis) => x.shape[axis]));
        checkGradients((t) => permute(t, order), [x]);
      }),
      RUNS,
    );
  });

  test('permute with a repeated axis is rejected', () => {
    expect(() => permute(leaf([1, 2, 3, 4], [2, 2]), [0, 0])).toThrow('permute: axes [0, 0] must name each of the 2 axes of shape [2, 2] once');
  });
});

describe('expand and sumToShape', () => {
  /** A full shape and a shape that broadcasts to it. */
  const pairArb = shapeArb(0, 3).chain((full) => fc.tuple(fc.constant(full), broadcastOperandArb(full)));

  test('expand to generated shapes', () => {
    fc.assert(
      fc.property(pairArb.chain(([full, small]) => fc.tuple(fc.constant(full), leafArb(small))), ([full, x]) => {
        expect(expand(x, full).shape).toEqual(full);
        checkGradients((t) => expand(t, full), [x]);
      }),
      RUNS,
    );
  });

  test('expand keeps axes given as -1', () => {
    const x = leaf([1, 2, 3], [3, 1]);
    expect(expand(x, [2, -1, 4]).shape).toEqual([2, 3, 4]);
    checkGradients((t) => expand(t, [2, -1, 4]), [x]);
  });

  test('expand with -1 on a new axis is rejected', () => {
    expect(() => expand(leaf([1, 2, 3], [3]), [-1, 3])).toThrow(
      'expand: cannot expand shape [3] to [-1, 3]; sizes must be non-negative integers, and -1 (keep the size) only fits an existing axis, not a new leading one',
    );
  });

  test('sumToShape to generated shapes', () => {
    fc.assert(
      fc.property(pairArb.chain(([full, small]) => fc.tuple(leafArb(full), fc.constant(small))), ([x, small]) => {
        expect(sumToShape(x, small).shape).toEqual(small);
        checkGradients((t) => sumToShape(t, small), [x]);
      }),
      RUNS,
    );
  });

  test('sumToShape by hand', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(valuesOf(sumToShape(x, [3]))).toEqual([5, 7, 9]);
    expect(valuesOf(sumToShape(x, [2, 1]))).toEqual([6, 15]);
  });
});

describe('slice and narrow', () => {
  /** Generates the spec of one axis: the whole axis, one index (maybe negative) or start:stop:step. */
  function specArb(dim: number): fc.Arbitrary<SliceSpec> {
    const bound = fc.option(fc.integer({ min: -dim - 1, max: dim + 1 }), { nil: null });
    return fc.oneof(
      fc.constant(null),
      fc.integer({ min: -dim, max: dim - 1 }),
      fc.tuple(bound, bound, fc.integer({ min: 1, max: 3 })),
    );
  }

  test('slice by generated specs', () => {
    const arb = shapedLeafArb(1, 3, 4).chain((x) =>
      fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.ndim }).chain((count) => fc.tuple(...x.shape.slice(0, count).map(specArb)))),
    );
    fc.assert(
      fc.property(arb, ([x, specs]) => {
        checkGradients((t) => slice(t, ...specs), [x]);
      }),
      RUNS,
    );
  });

  test('slice with steps and an index by hand', () => {
    const x = leaf([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [3, 4]);
    const result = slice(x, [null, null, 2], [1, null, 2]);
    expect(result.shape).toEqual([2, 2]);
    expect(valuesOf(result)).toEqual([1, 3, 9, 11]);
    expect(valuesOf(slice(x, -1))).toEqual([8, 9, 10, 11]);
    expect(valuesOf(slice(x, null, 2))).toEqual([2, 6, 10]);

    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
  });

  test('slice index out of range is rejected', () => {
    expect(() => slice(leaf([1, 2, 3], [3]), 3)).toThrow('slice: index 3 is out of range for axis 0 of size 3 (shape [3])');
  });

  test('slice with a negative step is rejected', () => {
    expect(() => slice(leaf([1, 2, 3], [3]), [null, null, -1])).toThrow('slice: step -1 on axis 0 must be a positive integer; negative steps are not supported');
  });

  test('narrow by generated ranges', () => {
    const arb = shapedLeafArb(1, 3, 4).chain((x) =>
      fc.integer({ min: 0, max: x.ndim - 1 }).chain((axis) =>
        fc.integer({ min: 0, max: x.shape[axis] - 1 }).chain((start) =>
          fc.tuple(fc.constant(x), fc.constant(axis), fc.constant(start), fc.integer({ min: 0, max: x.shape[axis] - start }), fc.boolean()),
        ),
      ),
    );
    fc.assert(
      fc.property(arb, ([x, axis, start, length, fromEnd]) => {
        const first = fromEnd ? start - x.shape[axis] : start;
        expect(narrow(x, axis, first, length).shape[axis]).toBe(length);
        checkGradients((t) => narrow(t, axis, first, length), [x]);
      }),
      RUNS,
    );
  });

  test('narrow past the end is rejected', () => {
    expect(() => narrow(leaf([1, 2, 3], [3]), 0, 2, 2)).toThrow('narrow: start 2 and length 2 do not fit axis 0 of size 3 (shape [3])');
  });
});

describe('split, concat and stack', () => {
  test('split into chunks', () => {
    const arb = shapedLeafArb(1, 3, 4).chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.ndim - 1 }), fc.integer({ min: 1, max: 4 })));
    fc.assert(
      fc.property(arb, ([x, axis, chunk]) => {
        const pieces = split(x, chunk, axis);
        expect(pieces.map((p) => p.shape[axis]).reduce((a, b) => a + b, 0)).toBe(x.shape[axis]);
        checkGradients((t) => split(t, chunk, axis), [x]);
      }),
      RUNS,
    );
  });

  test('split into listed sizes', () => {
    const x = leaf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2, 5]);
    const [a, b, c] = split(x, [1, 0, 4], 1);
    expect(a.shape).toEqual([2, 1]);
    expect(b.shape).toEqual([2, 0]);
    expect(valuesOf(c)).toEqual([2, 3, 4, 5, 7, 8, 9, 10]);
    checkGradients((t) => split(t, [2, 3], -1), [x]);
  });

  test('split sizes with wrong total', () => {
    expect(() => split(leaf([1, 2, 3], [3]), [1, 1])).toThrow('split: sizes [1, 1] must be non-negative integers adding up to 3, the size of axis 0 (shape [3])');
  });

  test('concat of generated sizes', () => {
    const arb = shapeArb(1, 3).chain((shape) =>
      fc.integer({ min: -shape.length, max: shape.length - 1 }).chain((axis) =>
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }).chain((sizes) =>
          fc.tuple(
            fc.constant(axis),
            fc.tuple(...sizes.map((size) => leafArb(shape.map((dim, i) => (i === (axis + shape.length) % shape.length ? size : dim))))),
          ),
        ),
      ),
    );
    fc.assert(
      fc.property(arb, ([axis, parts]) => {
        checkGradients((...ts) => concat(ts, axis), parts);
      }),
      RUNS,
    );
  });

  test('concat with a constant part', () => {
    const x = leaf([1, 2], [1, 2]);
    const c = leaf([3, 4], [1, 2]).detach();
    const result = concat([c, x], 0);
    expect(valuesOf(result)).toEqual([3, 4, 1, 2]);
    checkGradients((t) => concat([c, t, c], 0), [x]);
  });

  test('concat of mismatched shapes is rejected', () => {
    expect(() => concat([leaf([1, 2], [1, 2]), leaf([1, 2, 3], [1, 3])], 0)).toThrow('concat: shapes float64 [1, 2], float64 [1, 3] must match except along axis 0, with one dtype');
  });

  test('stack along generated axes', () => {
    const arb = shapeArb(0, 3).chain((shape) =>
      fc.tuple(fc.integer({ min: -shape.length - 1, max: shape.length }), fc.array(leafArb(shape), { minLength: 1, maxLength: 3 })),
    );
    fc.assert(
      fc.property(arb, ([axis, parts]) => {
        const result = stack(parts, axis);
        expect(result.shape[axis < 0 ? axis + result.ndim : axis]).toBe(parts.length);
        checkGradients((...ts) => stack(ts, axis), parts);
      }),
      RUNS,
    );
  });
});

describe('pad', () => {
  test('pad by generated widths and values', () => {
    const arb = shapedLeafArb(1, 3).chain((x) =>
      fc.tuple(
        fc.constant(x),
        fc.tuple(...x.shape.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })))),
        rangeArb(-2, 2),
      ),
    );
    fc.assert(
      fc.property(arb, ([x, pads, value]) => {
        expect(pad(x, pads, value).shape).toEqual(x.shape.map((dim, i) => dim + pads[i][0] + pads[i][1]));
        checkGradients((t) => pad(t, pads, value), [x]);
      }),
      RUNS,
    );
  });

  test('pad by hand', () => {
    expect(valuesOf(pad(leaf([1, 2], [2]), [[1, 2]], -1))).toEqual([-1, 1, 2, -1, -1]);
  });

  test('pad with a pair missing is rejected', () => {
    expect(() => pad(leaf([1, 2, 3, 4], [2, 2]), [[1, 1]])).toThrow(
      'pad: pads [[1,1]] must give a [before, after] pair of non-negative integers for each of the 2 axes of shape [2, 2]',
    );
  });
});

describe('copies and casts', () => {
  test('contiguous of a transposed tensor', () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    const result = contiguous(transpose(x));
    expect(result.stride).toEqual([2, 1]);
    expect(valuesOf(result)).toEqual([1, 4, 2, 5, 3, 6]);
    checkGradients((t) => contiguous(transpose(t)), [x]);
  });

  test('contiguous of a contiguous tensor', () => {
    const x = leaf([1, 2], [2]);
    expect(contiguous(x)).toBe(x);
  });

  test('clone copies the data', () => {
    const x = leaf([1, 2, 3], [3]);
    const copy = clone(x);
    expect(copy.data).not.toBe(x.data);
    expect(valuesOf(copy)).toEqual([1, 2, 3]);
    checkGradients(clone, [x]);
  });

  test('cast through float32 and back', () => {
    // Multiples of 1/64 and a power-of-two step stay exact in float32, so finite differences are exact too.
    const x = leaf([0.5, -1.25, 3.015625], [3]);
    const options = { eps: 2 ** -10 };
    checkGradients((t) => cast(cast(t, 'float32'), 'float64'), [x], options);
    checkGradients((t) => t.to('float32').mul(t.to('float32')).to('float64'), [x], options);
  });

  test('cast gradient has the input dtype', () => {
    const x = leaf([1, 2], [2]);
    const y = cast(x, 'float32');
    expect(y.dtype).toBe('float32');
    y.sum().backward();
    expect(x.grad!.dtype).toBe('float64');
    expect(valuesOf(x.grad!)).toEqual([1, 1]);
  });

  test('cast to the same dtype', () => {
    const x = leaf([1, 2], [2]);
    expect(cast(x, 'float64')).toBe(x);
  });
});
