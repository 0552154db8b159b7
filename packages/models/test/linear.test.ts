import { type Tensor, gradcheck, gradgradcheck, randn, tanh } from '@metagrad/autodiff';
import { Flatten, Identity, Linear, functionalCall } from '@metagrad/models';
import { type LayerCase, expectLayerMatches, layerCases } from './core-reference';

function normal(shape: number[], seed: number): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad: true });
}

function build(reference: LayerCase): Linear | Flatten {
  const config = reference.config as { inFeatures: number; outFeatures: number; bias?: boolean; startAxis?: number; endAxis?: number };
  if (reference.layer === 'Linear') return new Linear(config.inFeatures, config.outFeatures, { bias: config.bias, dtype: 'float64' });
  return new Flatten(config.startAxis, config.endAxis);
}

describe('Linear and Flatten against PyTorch', () => {
  test.each(layerCases('Linear', 'Flatten'))('$name', (reference) => {
    expectLayerMatches(build(reference), reference);
  });
});

describe('Linear', () => {
  test('shapes follow torch.nn.Linear', () => {
    const layer = new Linear(5, 3);
    expect(layer.namedParameters().map(([name, value]) => [name, value.shape, value.dtype])).toEqual([
      ['weight', [3, 5], 'float32'],
      ['bias', [3], 'float32'],
    ]);
    expect(layer.forward(randn([2, 4, 5])).shape).toEqual([2, 4, 3]);
  });

  test('without bias has only a weight', () => {
    const layer = new Linear(5, 3, { bias: false });
    expect(layer.namedParameters().map(([name]) => name)).toEqual(['weight']);
    expect(layer.bias).toBeNull();
    expect(layer.toString()).toBe('Linear(inFeatures=5, outFeatures=3, bias=false)  # 15 parameters\nTotal parameters: 15');
  });

  test('gradcheck of input, weight and bias', () => {
    const layer = new Linear(3, 2, { dtype: 'float64' });
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => functionalCall(layer, { weight, bias }, x);
    expect(gradcheck(f, [normal([2, 3], 1), normal([2, 3], 2), normal([2], 3)])).toBe(true);
  });

  test('gradgradcheck through tanh', () => {
    const layer = new Linear(3, 2, { dtype: 'float64' });
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => tanh(functionalCall(layer, { weight, bias }, x));
    expect(gradgradcheck(f, [normal([2, 3], 4), normal([2, 3], 5), normal([2], 6)])).toBe(true);
  });

  test('mismatched input features are rejected', () => {
    expect(() => new Linear(3, 2).forward(randn([2, 4]))).toThrow(/\[2, 4\]/);
  });
});

describe('Flatten', () => {
  test('default keeps the batch axis', () => {
    expect(new Flatten().forward(randn([2, 3, 4, 5])).shape).toEqual([2, 60]);
  });

  test('negative axes count from the end', () => {
    expect(new Flatten(-3, -2).forward(randn([2, 3, 4, 5])).shape).toEqual([2, 12, 5]);
  });

  test('gradcheck', () => {
    expect(gradcheck((x) => new Flatten(0, 1).forward(x), [normal([2, 3, 2], 7)])).toBe(true);
  });
});

describe('Identity', () => {
  test('returns the input tensor', () => {
    const x = randn([2, 3]);
    expect(new Identity().forward(x)).toBe(x);
  });
});
