import fc from 'fast-check';
import ndarray from 'ndarray';
import {
  KernelError, allocateData, broadcastShapes, broadcastStrides, broadcastTo, contiguousStrides, dtypeOf, formatShape,
  isContiguous, normalizeAxes, normalizeAxis, sameShape, sizeOf, viewOf, zerosView,
} from '@metagrad/kernels';
import {
  at, broadcastableShapeArb, dtypeArb, flatIndex, indicesOf, inputLayoutArb, inputView, layoutView, makeView,
  referenceBroadcastShape, shapeArb, toFlat,
} from './helpers';

describe('broadcastShapes', () => {
  test('agrees with reference on compatible shapes', () => {
    fc.assert(
      fc.property(
        shapeArb(0, 5, 4).chain((shape) => fc.array(broadcastableShapeArb(shape), { minLength: 1, maxLength: 4 })),
        (shapes) => {
          expect(broadcastShapes('add', ...shapes)).toEqual(referenceBroadcastShape(shapes));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('by hand', () => {
    expect(broadcastShapes('add', [3, 1], [4])).toEqual([3, 4]);
    expect(broadcastShapes('add', [2, 1, 5], [3, 1])).toEqual([2, 3, 5]);
    expect(broadcastShapes('add', [], [2, 2])).toEqual([2, 2]);
    expect(broadcastShapes('add')).toEqual([]);
    expect(broadcastShapes('add', [0], [1])).toEqual([0]);
    expect(broadcastShapes('add', [1, 0], [3, 1])).toEqual([3, 0]);
  });

  test('incompatible shapes name every shape and the axis', () => {
    expect(() => broadcastShapes('add', [2, 3], [4])).toThrow(KernelError);
    expect(() => broadcastShapes('add', [2, 3], [4])).toThrow(
      'add: shapes [2, 3] and [4] cannot be broadcast: axis -1 has sizes 3 and 4; each axis must match or be 1',
    );
    expect(() => broadcastShapes('where', [2, 1], [1, 3], [5, 1])).toThrow(
      'where: shapes [2, 1] and [1, 3] and [5, 1] cannot be broadcast: axis -2 has sizes 2 and 5; each axis must match or be 1',
    );
    expect(() => broadcastShapes('add', [0], [3])).toThrow('add: shapes [0] and [3] cannot be broadcast: axis -1 has sizes 0 and 3');
  });

  test('one changed axis broadcasts only from size 1', () => {
    fc.assert(
      fc.property(shapeArb(1, 4, 4), fc.nat(), fc.integer({ min: 1, max: 4 }), (shape, pick, growth) => {
        const axis = pick % shape.length;
        const changed = shape.slice();
        changed[axis] = shape[axis] + growth;
        if (shape[axis] === 1) {
          expect(broadcastShapes('mul', shape, changed)).toEqual(changed);
        } else {
          expect(() => broadcastShapes('mul', shape, changed)).toThrow(`axis ${axis - shape.length} has sizes ${shape[axis]} and ${changed[axis]}`);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('broadcastStrides and broadcastTo', () => {
  test('read every element where broadcasting puts it', () => {
    fc.assert(
      fc.property(
        shapeArb(0, 4, 4).chain((shape) => fc.tuple(fc.constant(shape), broadcastableShapeArb(shape))),
        dtypeArb,
        inputLayoutArb,
        fc.nat(15),
        ([shape, sourceShape], dtype, layout, mask) => {
          const source = inputView(dtype, sourceShape, Array.from({ length: sizeOf(sourceShape) }, (_, i) => i + 1), layout, mask);
          const sourceValues = toFlat(source);
          const strides = broadcastStrides('add', source, shape);
          const view = broadcastTo(source, shape);

          expect(view.shape).toEqual(shape);
          expect(view.stride).toEqual(strides);
          expect(view.data).toBe(source.data);
          const lead = shape.length - sourceShape.length;
          for (const index of indicesOf(shape)) {
            const sourceIndex = sourceShape.map((dim, axis) => (dim === 1 ? 0 : index[lead + axis]));
            expect(at(view, index)).toBe(sourceValues[flatIndex(sourceShape, sourceIndex)]);
          }
          shape.forEach((dim, axis) => {
            const broadcastAxis = axis < lead || (sourceShape[axis - lead] === 1 && dim !== 1);
            if (broadcastAxis) expect(strides[axis]).toBe(0);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  test('broadcastTo shares elements', () => {
    const row = makeView('float32', [2], [1, 2]);
    const view = broadcastTo(row, [3, 2]);
    expect(toFlat(view)).toEqual([1, 2, 1, 2, 1, 2]);
    view.set(2, 1, 7);
    expect(toFlat(row)).toEqual([1, 7]);
    expect(toFlat(view)).toEqual([1, 7, 1, 7, 1, 7]);
  });

  test('size-1 axes get stride 0 even when kept', () => {
    const x = layoutView('float64', [1, 3], [1, 2, 3], 'sliced');
    expect(broadcastStrides('add', x, [1, 3])).toEqual([0, x.stride[1]]);
  });

  test('shapes that do not broadcast are rejected', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => broadcastTo(x, [3])).toThrow(KernelError);
    expect(() => broadcastTo(x, [3])).toThrow('broadcastTo: cannot broadcast shape [2, 3] to the smaller shape [3]');
    expect(() => broadcastTo(makeView('float32', [3]), [2, 4])).toThrow('broadcastTo: cannot broadcast shape [3] to [2, 4]: axis 0 has size 3, expected 4 or 1');
    expect(() => broadcastStrides('sub', makeView('float32', [2, 1]), [3, 1])).toThrow('sub: cannot broadcast shape [2, 1] to [3, 1]: axis 0 has size 2, expected 3 or 1');
  });
});

describe('view helpers', () => {
  test('contiguousStrides and sizeOf', () => {
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(contiguousStrides([5])).toEqual([1]);
    expect(contiguousStrides([])).toEqual([]);
    expect(contiguousStrides([2, 0, 3])).toEqual([0, 3, 1]);
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([3, 0])).toBe(0);
  });

  test('isContiguous by layout', () => {
    const values = Array.from({ length: 6 }, (_, i) => i);
    expect(isContiguous(makeView('float32', [2, 3], values))).toBe(true);
    expect(isContiguous(layoutView('float32', [2, 3], values, 'transposed'))).toBe(false);
    expect(isContiguous(layoutView('float32', [2, 3], values, 'sliced'))).toBe(false);
    expect(isContiguous(layoutView('float32', [2, 3], values, 'reversed'))).toBe(false);
    expect(isContiguous(inputView('float32', [2, 3], values, 'zeroStride', 0b01))).toBe(false);
    expect(isContiguous(makeView('float32', [2, 3], values).lo(1, 0))).toBe(true);
  });

  test('isContiguous ignores strides of size-1 axes', () => {
    const data = new Float64Array(12);
    expect(isContiguous(ndarray(data, [1, 3, 1], [99, 1, -5], 2))).toBe(true);
    expect(isContiguous(ndarray(data, [2, 1, 3], [3, 0, 1], 0))).toBe(true);
    expect(isContiguous(ndarray(data, [2, 1, 3], [4, 0, 1], 0))).toBe(false);
  });

  test('formatShape and sameShape', () => {
    expect(formatShape([2, 3, 4])).toBe('[2, 3, 4]');
    expect(formatShape([])).toBe('[]');
    expect(sameShape([2, 3], [2, 3])).toBe(true);
    expect(sameShape([2, 3], [3, 2])).toBe(false);
    expect(sameShape([2], [2, 1])).toBe(false);
  });

  test('viewOf wraps without copying', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6, 7]);
    const view = viewOf(data, [2, 3], 1);
    expect(view.data).toBe(data);
    expect(toFlat(view)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  test('zerosView and allocateData give separate zeroed arrays', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const first = zerosView(dtype, [3, 5]);
      const second = zerosView(dtype, [3, 5]);
      expect(first.data).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      expect(first.stride).toEqual([5, 1]);
      expect(first.offset).toBe(0);
      first.data.fill(9);
      expect(Array.from(second.data)).toEqual(new Array<number>(15).fill(0));

      const sizes = [1, 16, 100, 300, 10_000];
      const arrays = sizes.map((size) => allocateData(dtype, size));
      arrays.forEach((array, i) => {
        expect(array.length).toBe(sizes[i]);
        expect(Array.from(array).every((v) => v === 0)).toBe(true);
        array.fill(i + 1);
      });
      arrays.forEach((array, i) => expect(Array.from(array).every((v) => v === i + 1)).toBe(true));
    }
  });

  test('zerosView follows the dtype of an array', () => {
    expect(zerosView(new Float64Array(1), [2]).data).toBeInstanceOf(Float64Array);
    expect(zerosView(new Float32Array(1), [2]).data).toBeInstanceOf(Float32Array);
  });

  test('dtypeOf names float dtypes and rejects others', () => {
    expect(dtypeOf(makeView('float32', [1]))).toBe('float32');
    expect(dtypeOf(makeView('float64', [1]))).toBe('float64');
    const ints = ndarray(new Int32Array(1), [1]);
    expect(() => dtypeOf(ints)).toThrow(KernelError);
    expect(() => dtypeOf(ints)).toThrow('dtypeOf: expected a view of a Float32Array or Float64Array, got Int32Array');
    expect(() => dtypeOf(ndarray([1, 2], [2]), 'relu')).toThrow('relu: expected a view of a Float32Array or Float64Array, got Array');
  });
});

describe('normalizeAxis and normalizeAxes', () => {
  test('negative axes count from the end', () => {
    expect(normalizeAxis('sum', -1, 3)).toBe(2);
    expect(normalizeAxis('sum', -3, 3)).toBe(0);
    expect(normalizeAxis('sum', 1, 3)).toBe(1);
  });

  test('axes are sorted and resolved', () => {
    expect(normalizeAxes('sum', undefined, 3)).toEqual([0, 1, 2]);
    expect(normalizeAxes('sum', -1, 3)).toEqual([2]);
    expect(normalizeAxes('sum', [2, -3], 3)).toEqual([0, 2]);
    expect(normalizeAxes('sum', [], 3)).toEqual([]);
  });

  test('invalid axes are rejected', () => {
    expect(() => normalizeAxis('sum', 3, 2)).toThrow(KernelError);
    expect(() => normalizeAxis('sum', 3, 2)).toThrow('sum: axis 3 is out of range for an array of 2 dimensions; use an axis in [-2, 1]');
    expect(() => normalizeAxis('mean', -3, 2, [4, 5])).toThrow('mean: axis -3 is out of range for an array of shape [4, 5]; use an axis in [-2, 1]');
    expect(() => normalizeAxis('mean', 1.5, 2)).toThrow('mean: axis 1.5 is out of range');
    expect(() => normalizeAxes('max', [1, -1], 2)).toThrow('max: axes [1, -1] name the same axis twice');
  });
});
