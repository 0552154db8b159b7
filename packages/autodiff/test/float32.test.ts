/**
 * Gradients of float32 tensors: every constant an op's VJP creates must take the input's dtype,
 * or the engine rejects the gradient. First and second derivatives are compared with float64.
 */
import {
  type Tensor, avgPool2d, clamp, conv2d, dropout, elu, embedding, erf, gather, gelu, grad, indexSelect, leakyRelu, linear, logSoftmax,
  logsumexp, matmul, max, maxPool2d, maximum, mean, pad, pow, slice, softmax, softplus, tensor, where,
} from '@metagrad/autodiff';
import { expectClose, valuesOf } from './helpers';

const values = [0.5, -1.25, 2, 0.75, -0.3, 1.1, -2.2, 0.9, 1.6, -0.6, 0.2, -1.7];

function leafOf(dtype: 'float32' | 'float64', shape: number[]): Tensor {
  return tensor(values.slice(0, shape.reduce((a, b) => a * b, 1)), { dtype, shape, requiresGrad: true });
}

/** Creates a tensor with the dtype of `like`. */
function constantLike(like: Tensor, data: number[], shape: number[]): Tensor {
  return tensor(data, { dtype: like.dtype, shape });
}

const cases: Array<{ name: string; shape: number[]; f: (x: Tensor) => Tensor }> = [
  { name: 'mean', shape: [3, 4], f: (x) => mean(x, 1) },
  { name: 'var', shape: [3, 4], f: (x) => x.var(0) },
  { name: 'std', shape: [3, 4], f: (x) => x.std(1, true, 0) },
  { name: 'max', shape: [3, 4], f: (x) => max(x, 1) },
  { name: 'logsumexp', shape: [3, 4], f: (x) => logsumexp(x, 1) },
  { name: 'softmax', shape: [3, 4], f: (x) => softmax(x) },
  { name: 'logSoftmax', shape: [3, 4], f: (x) => logSoftmax(x, 0) },
  { name: 'where', shape: [3, 4], f: (x) => where(x.gt(0), x.square(), 1) },
  { name: 'pow with tensor exponent', shape: [3, 4], f: (x) => pow(x.abs().add(0.5), x) },
  { name: 'pow with number exponent', shape: [3, 4], f: (x) => pow(x, 3) },
  { name: 'maximum', shape: [3, 4], f: (x) => maximum(x, 0.25) },
  { name: 'clamp', shape: [3, 4], f: (x) => clamp(x, -1, 1) },
  { name: 'gelu', shape: [3, 4], f: gelu },
  { name: 'erf', shape: [3, 4], f: erf },
  { name: 'elu', shape: [3, 4], f: (x) => elu(x) },
  { name: 'leakyRelu', shape: [3, 4], f: (x) => leakyRelu(x, 0.1) },
  { name: 'softplus', shape: [3, 4], f: softplus },
  { name: 'sigmoid', shape: [3, 4], f: (x) => x.sigmoid() },
  { name: 'matmul of vectors', shape: [4], f: (x) => matmul(x, x) },
  { name: 'linear', shape: [3, 4], f: (x) => linear(x, constantLike(x, [1, -1, 0.5, 2, 0, 1, -0.5, 0.25], [2, 4]), constantLike(x, [0.1, -0.1], [2])) },
  { name: 'slice', shape: [3, 4], f: (x) => slice(x, [0, 3, 2], -1).square() },
  { name: 'pad', shape: [3, 4], f: (x) => pad(x, [[1, 1], [0, 1]], 2).square() },
  { name: 'indexSelect', shape: [3, 4], f: (x) => indexSelect(x, 0, [2, 2, 0]).square() },
  { name: 'gather', shape: [3, 4], f: (x) => gather(x, 1, constantLike(x, [3, 0, 1], [3, 1])).square() },
  { name: 'embedding with paddingIdx', shape: [3, 4], f: (x) => embedding([1, 2, 1], x, { paddingIdx: 2 }).square() },
  { name: 'dropout', shape: [3, 4], f: (x) => dropout(x, 0.5, { seed: 1 }).square() },
  { name: 'conv2d', shape: [1, 1, 3, 4], f: (x) => conv2d(x, constantLike(x, [1, -1, 0.5, 2], [1, 1, 2, 2]), constantLike(x, [0.1], [1])).square() },
  { name: 'maxPool2d', shape: [1, 1, 3, 4], f: (x) => maxPool2d(x, 2).square() },
  { name: 'avgPool2d', shape: [1, 1, 3, 4], f: (x) => avgPool2d(x, { kernelSize: 2, padding: 1, countIncludePad: false }).square() },
];

/** Computes the first and second derivatives of sum(f(x) * weights) in the given dtype. */
function derivatives(f: (x: Tensor) => Tensor, shape: number[], dtype: 'float32' | 'float64'): [Tensor, Tensor] {
  const x = leafOf(dtype, shape);
  const output = f(x);
  const weights = tensor(output.toTypedArray().map((_, i) => 1 + (i % 3)), { dtype, shape: output.shape });
  const [first] = grad(output.mul(weights).sum(), x, { createGraph: true });
  const [second] = grad(first.square().sum(), x, { allowUnused: true });
  return [first, second ?? tensor(new Array(x.size).fill(0), { dtype, shape })];
}

describe('float32 gradients', () => {
  test.each(cases)('$name', ({ f, shape }) => {
    const [first32, second32] = derivatives(f, shape, 'float32');
    const [first64, second64] = derivatives(f, shape, 'float64');

    expect(first32.dtype).toBe('float32');
    expect(second32.dtype).toBe('float32');
    expectClose(valuesOf(first32), valuesOf(first64), 1e-4, 1e-5);
    expectClose(valuesOf(second32), valuesOf(second64), 1e-4, 1e-4);
  });
});
