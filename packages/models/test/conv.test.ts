import { type Tensor, gradcheck, gradgradcheck, randn, relu } from '@metagrad/autodiff';
import type { Pair } from '@metagrad/kernels';
import { AvgPool2d, Conv2d, type Conv2dLayerOptions, MaxPool2d, functionalCall } from '@metagrad/models';
import { type LayerCase, expectLayerMatches, layerCases } from './core-reference';

function normal(shape: number[], seed: number): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad: true });
}

interface ConvConfig extends Conv2dLayerOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: Pair;
}

interface PoolConfig {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

function buildConv(reference: LayerCase): Conv2d {
  const { inChannels, outChannels, kernelSize, ...options } = reference.config as unknown as ConvConfig;
  return new Conv2d(inChannels, outChannels, kernelSize, { ...options, dtype: 'float64' });
}

function buildPool(reference: LayerCase): MaxPool2d | AvgPool2d {
  const { kernelSize, ...options } = reference.config as unknown as PoolConfig;
  return reference.layer === 'MaxPool2d' ? new MaxPool2d(kernelSize, options) : new AvgPool2d(kernelSize, options);
}

describe('Conv2d against PyTorch', () => {
  test.each(layerCases('Conv2d'))('$name', (reference) => {
    expectLayerMatches(buildConv(reference), reference);
  });
});

describe('pooling against PyTorch', () => {
  test.each(layerCases('MaxPool2d', 'AvgPool2d'))('$name', (reference) => {
    expectLayerMatches(buildPool(reference), reference);
  });
});

describe('Conv2d', () => {
  test('parameter shapes follow torch.nn.Conv2d', () => {
    const conv = new Conv2d(4, 6, [3, 2], { groups: 2 });
    expect(conv.namedParameters().map(([name, value]) => [name, value.shape])).toEqual([
      ['weight', [6, 2, 3, 2]],
      ['bias', [6]],
    ]);
    expect(conv.kernelSize).toEqual([3, 2]);
  });

  test('without bias has only a weight', () => {
    const conv = new Conv2d(2, 3, 3, { bias: false });
    expect(conv.namedParameters().map(([name]) => name)).toEqual(['weight']);
    expect(conv.bias).toBeNull();
  });

  test("padding 'same' keeps the spatial size", () => {
    const conv = new Conv2d(1, 2, [4, 5], { padding: 'same', dilation: [2, 1] });
    expect(conv.forward(randn([1, 1, 9, 7])).shape).toEqual([1, 2, 9, 7]);
  });

  test('describe lists settings that differ from the defaults', () => {
    expect(new Conv2d(4, 8, 3, { stride: 2, padding: 1, groups: 2 }).describe()).toBe('4, 8, kernelSize=[3, 3], stride=2, padding=1, groups=2');
    expect(new Conv2d(1, 2, 3).describe()).toBe('1, 2, kernelSize=[3, 3]');
  });

  test('groups that do not divide the channels are rejected', () => {
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow('Conv2d: groups 2 must divide inChannels 3 and outChannels 4');
  });

  test.each<[string, Conv2dLayerOptions]>([
    ['plain', {}],
    ['stride, padding and dilation', { stride: 2, padding: [1, 2], dilation: [1, 2] }],
    ['groups', { groups: 2 }],
    ["padding 'same'", { padding: 'same' }],
  ])('gradcheck with %s', (_name, options) => {
    const conv = new Conv2d(2, 2, [2, 3], { ...options, dtype: 'float64' });
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => functionalCall(conv, { weight, bias }, x);
    expect(gradcheck(f, [normal([1, 2, 4, 5], 1), normal(conv.weight.shape, 2), normal([2], 3)])).toBe(true);
  });

  test('gradgradcheck through relu', () => {
    const conv = new Conv2d(2, 2, 2, { stride: 1, padding: 1, dtype: 'float64' });
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => relu(functionalCall(conv, { weight, bias }, x));
    expect(gradgradcheck(f, [normal([1, 2, 3, 3], 4), normal([2, 2, 2, 2], 5), normal([2], 6)])).toBe(true);
  });
});

describe('pooling', () => {
  test('stride defaults to the kernel size', () => {
    expect(new MaxPool2d(2).forward(randn([1, 1, 6, 4])).shape).toEqual([1, 1, 3, 2]);
    expect(new AvgPool2d([3, 2]).forward(randn([1, 1, 6, 4])).shape).toEqual([1, 1, 2, 2]);
  });

  test('describe shows kernel size and stride', () => {
    expect(new MaxPool2d(2).describe()).toBe('kernelSize=2');
    expect(new AvgPool2d([3, 2], { stride: 1 }).describe()).toBe('kernelSize=[3,2], stride=1');
  });

  test.each<[string, () => MaxPool2d | AvgPool2d]>([
    ['MaxPool2d with padding and dilation', () => new MaxPool2d(2, { stride: 1, padding: 1, dilation: 2 })],
    ['MaxPool2d in ceil mode', () => new MaxPool2d(2, { ceilMode: true })],
    ['AvgPool2d with padding', () => new AvgPool2d(3, { stride: 2, padding: 1 })],
    ['AvgPool2d without counting padding', () => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false })],
  ])('gradcheck of %s', (_name, make) => {
    const pool = make();
    expect(gradcheck((x) => pool.forward(x), [normal([1, 2, 5, 5], 7)])).toBe(true);
  });

  test('gradgradcheck of MaxPool2d and AvgPool2d', () => {
    const maxPool = new MaxPool2d(2);
    const avgPool = new AvgPool2d(2, { stride: 1 });
    expect(gradgradcheck((x) => avgPool.forward(maxPool.forward(x).tanh()), [normal([1, 1, 6, 6], 8)])).toBe(true);
  });
});
