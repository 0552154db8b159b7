import { type Tensor, tensor, zeros, zerosLike } from '@metagrad/autodiff';
import { clipGradNorm } from '@metagrad/models';
import { type ClipCase, coreReference, decode, expectMatches } from './core-reference';

/** Returns leaves whose gradients are the case's gradients. */
function withGradients(reference: ClipCase): Tensor[] {
  return reference.grads.map((encoded) => {
    const parameter = zerosLike(decode(encoded)).requiresGrad_(true);
    parameter.grad = decode(encoded);
    return parameter;
  });
}

function normTypeOf(reference: ClipCase): number {
  return reference.normType === 'inf' ? Infinity : reference.normType;
}

describe('clipGradNorm against PyTorch', () => {
  test.each(coreReference().clip)('$name', (reference) => {
    const parameters = withGradients(reference);
    const total = clipGradNorm(parameters, reference.maxNorm, normTypeOf(reference));
    expect(total).toBeCloseTo(reference.totalNorm, 13);
    parameters.forEach((parameter, i) => expectMatches(parameter.grad, reference.clipped[i], `gradient ${i}`));
  });
});

describe('clipGradNorm', () => {
  test('clipped norm equals maxNorm', () => {
    const parameters = withGradients(coreReference().clip[0]);
    clipGradNorm(parameters, 0.5);
    expect(clipGradNorm(parameters, 100)).toBeCloseTo(0.5, 5);
  });

  test('broadcast gradient is scaled once', () => {
    const parameter = zeros([2, 2], { dtype: 'float64', requiresGrad: true });
    parameter.grad = tensor([3, 4], { dtype: 'float64' }).expand([2, 2]);

    expect(clipGradNorm([parameter], 1)).toBeCloseTo(Math.sqrt(50), 12);
    const scaled = Array.from(parameter.grad.toTypedArray());
    [3, 4, 3, 4].forEach((value, i) => expect(scaled[i]).toBeCloseTo(value / Math.sqrt(50), 6));
  });

  test('norm below maxNorm leaves gradients unchanged', () => {
    const parameter = zeros([2], { dtype: 'float64', requiresGrad: true });
    parameter.grad = tensor([3, 4], { dtype: 'float64' });
    expect(clipGradNorm([parameter], 5.1)).toBe(5);
    expect(Array.from(parameter.grad.toTypedArray())).toEqual([3, 4]);
  });

  test('infinity norm is the largest magnitude', () => {
    const parameter = zeros([3], { dtype: 'float64', requiresGrad: true });
    parameter.grad = tensor([1, -4, 2], { dtype: 'float64' });
    expect(clipGradNorm([parameter], 2, Infinity)).toBe(4);
    Array.from(parameter.grad.toTypedArray()).forEach((value, i) => expect(value).toBeCloseTo([0.5, -2, 1][i], 6));
  });

  test('parameters without gradients are skipped', () => {
    const parameter = zeros([2], { requiresGrad: true });
    const withGradient = zeros([1], { requiresGrad: true });
    withGradient.grad = tensor([2]);
    expect(clipGradNorm([parameter, withGradient], 1)).toBe(2);
    expect(parameter.grad).toBeNull();
  });

  test('no gradients give norm 0', () => {
    expect(clipGradNorm([zeros([2], { requiresGrad: true })], 1)).toBe(0);
  });

  test('float32 gradients are scaled in place', () => {
    const parameter = zeros([2], { requiresGrad: true });
    const gradient = tensor([3, 4]);
    parameter.grad = gradient;
    clipGradNorm([parameter], 1);
    expect(parameter.grad).toBe(gradient);
    expect(Array.from(gradient.toTypedArray()).map((value) => value.toFixed(5))).toEqual(['0.60000', '0.80000']);
  });
});
