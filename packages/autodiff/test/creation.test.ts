import ndarray from 'ndarray';
import { arange, eye, fromNdarray, full, linspace, ones, onesLike, tensor, zeros, zerosLike } from '@metagrad/autodiff';
import { valuesOf } from './helpers';

describe('tensor()', () => {
  test('from nested arrays', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.requiresGrad).toBe(false);
    expect(valuesOf(t)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('from a number is a scalar', () => {
    const t = tensor(2.5, { dtype: 'float64' });
    expect(t.shape).toEqual([]);
    expect(t.item()).toBe(2.5);
  });

  test('from a Float64Array is float64', () => {
    const t = tensor(new Float64Array([0.1, 0.2]));
    expect(t.dtype).toBe('float64');
    expect(valuesOf(t)).toEqual([0.1, 0.2]);
  });

  test('from a Float32Array is float32', () => {
    expect(tensor(new Float32Array([1, 2])).dtype).toBe('float32');
  });

  test('copies typed array values', () => {
    const values = new Float64Array([1, 2]);
    const t = tensor(values);
    values[0] = 9;
    expect(valuesOf(t)).toEqual([1, 2]);
  });

  test('shape option reshapes flat values', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
    expect(t.shape).toEqual([3, 2]);
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  test('shape option that does not fit is rejected', () => {
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow('tensor: 3 values do not fill shape [2, 2] (4 elements)');
  });

  test('ragged arrays are rejected', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow('tensor: ragged nested array: the element at [1] does not match shape [2, 2]');
    expect(() => tensor([[1, 2], 3] as number[][])).toThrow('tensor: ragged nested array: the element at [1] does not match shape [2, 2]');
    expect(() => tensor([[[1], [2]], [[3], [4, 5]]])).toThrow('tensor: ragged nested array: the element at [1, 1] does not match shape [2, 2, 1]');
  });

  test('non-numeric element is rejected', () => {
    expect(() => tensor(['a'] as unknown as number[])).toThrow('tensor: element 0 is string, not a number');
  });

  test('unsupported dtype is rejected', () => {
    expect(() => tensor([1], { dtype: 'int32' as 'float32' })).toThrow("tensor: unsupported dtype 'int32'; use 'float32' or 'float64'");
  });

  test('requiresGrad and name options', () => {
    const t = tensor([1], { requiresGrad: true, name: 'w' });
    expect(t.requiresGrad).toBe(true);
    expect(t.name).toBe('w');
    expect(t.isLeaf).toBe(true);
  });
});

describe('reading values', () => {
  test('toArray of each rank', () => {
    expect(tensor(3).toArray()).toBe(3);
    expect(tensor([1, 2]).toArray()).toEqual([1, 2]);
    expect(tensor([[[1], [2]], [[3], [4]]]).toArray()).toEqual([[[1], [2]], [[3], [4]]]);
  });

  test('toArray of a transposed view', () => {
    expect(tensor([[1, 2, 3], [4, 5, 6]]).T.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  test('item of a one-element tensor', () => {
    expect(tensor([[7]]).item()).toBe(7);
  });

  test('item of a larger tensor is rejected', () => {
    expect(() => tensor([1, 2]).item()).toThrow('item: only a tensor with one element has an item, got shape [2]; reduce it first, for example with sum() or mean()');
  });

  test('toString of small tensors', () => {
    expect(tensor(3).toString()).toBe('tensor(3.)');
    expect(tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(tensor([1.5, -2], { dtype: 'float64', requiresGrad: true }).toString()).toBe('tensor([ 1.5000, -2.0000], dtype=float64, requiresGrad=true)');
    expect(tensor([1, 2], { requiresGrad: true }).mul(2).toString()).toBe('tensor([2., 4.], gradFn=<mul>)');
  });

  test('toString of special values', () => {
    expect(tensor([Number.NaN, Infinity, -Infinity, 1]).toString()).toBe('tensor([ nan,  inf, -inf,   1.])');
  });

  test('toString summarises large tensors', () => {
    const text = arange(2000).toString();
    expect(text).toContain('...');
    expect(text.startsWith('tensor([   0.,    1.,    2., ...')).toBe(true);
  });
});

describe('fromNdarray', () => {
  test('shares data with the ndarray', () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6]);
    const view = ndarray(data, [2, 3]);
    const t = fromNdarray(view);
    expect(t.data).toBe(data);
    expect(t.dtype).toBe('float64');

    data[0] = 10;
    expect(t.toArray()).toEqual([[10, 2, 3], [4, 5, 6]]);
  });

  test('keeps strides and offset', () => {
    const view = ndarray(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 2], [1, 2], 1);
    const t = fromNdarray(view, { requiresGrad: true });
    expect(t.toArray()).toEqual([[1, 3], [2, 4]]);
    expect(t.requiresGrad).toBe(true);
  });

  test('toNdarray shares data back', () => {
    const t = tensor([1, 2, 3]);
    const view = t.toNdarray();
    view.set(1, 20);
    expect(valuesOf(t)).toEqual([1, 20, 3]);
  });
});

describe('filled and range tensors', () => {
  test('zeros, ones and full', () => {
    expect(valuesOf(zeros([2]))).toEqual([0, 0]);
    expect(valuesOf(ones([2], { dtype: 'float64' }))).toEqual([1, 1]);
    expect(valuesOf(full([2, 1], 7))).toEqual([7, 7]);
  });

  test('zerosLike and onesLike keep shape and dtype', () => {
    const like = tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] });
    expect(zerosLike(like).shape).toEqual([2, 2]);
    expect(onesLike(like).dtype).toBe('float64');
  });

  test('arange, linspace and eye', () => {
    expect(valuesOf(arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(valuesOf(arange(1, 2, 0.25))).toEqual([1, 1.25, 1.5, 1.75]);
    expect(valuesOf(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(valuesOf(eye(2, 3))).toEqual([1, 0, 0, 0, 1, 0]);
  });

  test('invalid shape is rejected', () => {
    expect(() => zeros([2, -1])).toThrow('zeros: shape [2,-1] must be a list of non-negative integers');
    expect(() => ones([1.5])).toThrow('ones: shape [1.5] must be a list of non-negative integers');
    expect(() => full([-3], 1)).toThrow('full: shape [-3] must be a list of non-negative integers');
  });
});
