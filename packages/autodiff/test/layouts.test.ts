/**
 * Ops on leaves whose data is not contiguous: a transposed layout, and a slice of a larger
 * buffer whose unused slots contain NaN, so that reading the wrong slot shows up in the result.
 */
import fc from 'fast-check';
import {
  type Tensor, avgPool2d, concat, conv2d, embedding, fromNdarray, gather, indexSelect, linear, logSoftmax, matmul, maxPool2d, pad, reshape,
  scatterAdd, slice, softmax, stack, transpose,
} from '@metagrad/autodiff';
import ndarray from 'ndarray';
import { checkGradients, constant, distinctValuesArb, sizeOf } from './helpers';

type Layout = 'transposed' | 'sliced';

/** Lists the buffer position of each element, in row-major order, for the given strides and offset. */
function positions(shape: number[], strides: number[], offset: number): number[] {
  const result: number[] = [];
  const walk = (axis: number, position: number): void => {
    if (axis === shape.length) {
      result.push(position);
      return;
    }
    for (let i = 0; i < shape[axis]; i++) walk(axis + 1, position + i * strides[axis]);
  };
  walk(0, offset);
  return result;
}

/** Creates a float64 leaf with `values` in row-major order, stored in the given layout. */
function stridedLeaf(values: number[], shape: number[], layout: Layout): Tensor {
  let strides: number[];
  let offset: number;
  let length: number;
  if (layout === 'transposed') {
    // The last axis varies slowest in memory.
    strides = shape.map((_, axis) => sizeOf(shape.slice(0, axis)));
    offset = 0;
    length = sizeOf(shape);
  } else {
    // Every stride doubled, starting at offset 3, inside a buffer with spare slots.
    strides = shape.map((_, axis) => 2 * sizeOf(shape.slice(axis + 1)));
    offset = 3;
    length = 3 + 2 * sizeOf(shape) + 1;
  }
  const data = new Float64Array(length).fill(Number.NaN);
  positions(shape, strides, offset).forEach((position, i) => (data[position] = values[i]));
  return fromNdarray(ndarray(data, shape, strides, offset), { requiresGrad: true });
}

const matrix = constant([0.5, -1, 0.25, 2, 1.5, -0.5], [3, 2]);
const filters = constant([0.5, -1, 0.25, 2, 1, -0.5, 0.3, 0.7], [1, 2, 2, 2]);

const cases: Array<{ name: string; shape: number[]; f: (x: Tensor) => Tensor }> = [
  { name: 'exp', shape: [2, 3], f: (x) => x.exp() },
  { name: 'mul with broadcasting', shape: [2, 3], f: (x) => x.mul(constant([1, -2, 3], [3])) },
  { name: 'sum over an axis', shape: [2, 3], f: (x) => x.sum(1) },
  { name: 'mean with keepDims', shape: [2, 3], f: (x) => x.mean(0, true) },
  { name: 'var', shape: [2, 3], f: (x) => x.var(1) },
  { name: 'max', shape: [2, 3], f: (x) => x.max(1) },
  { name: 'logsumexp', shape: [2, 3], f: (x) => x.logsumexp(0) },
  { name: 'softmax', shape: [2, 3], f: (x) => softmax(x, 0) },
  { name: 'logSoftmax', shape: [2, 3], f: (x) => logSoftmax(x) },
  { name: 'matmul left', shape: [2, 3], f: (x) => matmul(x, matrix) },
  { name: 'matmul right', shape: [3, 2], f: (x) => matmul(constant([1, 2, 3, 4, 5, 6], [2, 3]), x) },
  { name: 'linear input', shape: [2, 2], f: (x) => linear(x, matrix, constant([0.1, 0.2, 0.3], [3])) },
  { name: 'linear weight', shape: [2, 3], f: (x) => linear(constant([1, -1, 2, 0.5, 0, 1], [2, 3]), x) },
  { name: 'reshape', shape: [2, 3], f: (x) => reshape(x, [3, 2]) },
  { name: 'slice with a step', shape: [2, 3], f: (x) => slice(x, null, [0, 3, 2]) },
  { name: 'transpose', shape: [2, 3], f: (x) => transpose(x).exp() },
  { name: 'pad', shape: [2, 3], f: (x) => pad(x, [[1, 0], [0, 2]], 1) },
  { name: 'concat', shape: [2, 3], f: (x) => concat([x, x.mul(2)], 1) },
  { name: 'stack', shape: [2, 3], f: (x) => stack([x, x], 1) },
  { name: 'contiguous', shape: [2, 3], f: (x) => x.contiguous().mul(x) },
  { name: 'indexSelect', shape: [2, 3], f: (x) => indexSelect(x, 1, [2, 0, 2]) },
  { name: 'gather', shape: [2, 3], f: (x) => gather(x, 1, constant([2, 0, 1, 1], [2, 2])) },
  { name: 'scatterAdd', shape: [2, 3], f: (x) => scatterAdd(x, 1, constant([2, 0, 1, 1], [2, 2]), x.slice(null, [0, 2])) },
  { name: 'embedding', shape: [3, 2], f: (x) => embedding([2, 0, 2], x) },
  { name: 'conv2d', shape: [1, 2, 3, 3], f: (x) => conv2d(x, filters, null, { padding: 1 }) },
  { name: 'maxPool2d', shape: [1, 2, 3, 3], f: (x) => maxPool2d(x, { kernelSize: 2, stride: 1 }) },
  { name: 'avgPool2d', shape: [1, 2, 3, 3], f: (x) => avgPool2d(x, { kernelSize: 2, padding: 1 }) },
];

describe('non-contiguous leaves', () => {
  test.each(cases)('$name', ({ shape, f }) => {
    fc.assert(
      fc.property(distinctValuesArb(sizeOf(shape)), fc.constantFrom<Layout>('transposed', 'sliced'), (values, layout) => {
        const x = stridedLeaf(values, shape, layout);
        expect(x.stride).not.toEqual(shape.map((_, axis) => sizeOf(shape.slice(axis + 1))));
        checkGradients(f, [x]);
        expect(x.toTypedArray().some(Number.isNaN)).toBe(false);
      }),
      { numRuns: 4 },
    );
  });
});
