import { type Tensor, gradcheck, gradgradcheck, randn } from '@metagrad/autodiff';
import { GELU, LeakyReLU, LogSoftmax, type Module, ReLU, Sigmoid, Softmax, Tanh } from '@metagrad/models';
import { type LayerCase, expectLayerMatches, layerCases } from './core-reference';

function build(reference: LayerCase): Module {
  const config = reference.config as { negativeSlope?: number; axis?: number };
  switch (reference.layer) {
    case 'ReLU':
      return new ReLU();
    case 'LeakyReLU':
      return new LeakyReLU(config.negativeSlope);
    case 'Tanh':
      return new Tanh();
    case 'Sigmoid':
      return new Sigmoid();
    case 'GELU':
      return new GELU();
    case 'Softmax':
      return new Softmax(config.axis);
    case 'LogSoftmax':
      return new LogSoftmax(config.axis);
    default:
      throw new Error(`no activation layer named ${reference.layer}`);
  }
}

const ACTIVATIONS = ['ReLU', 'LeakyReLU', 'Tanh', 'Sigmoid', 'GELU', 'Softmax', 'LogSoftmax'];

describe('activations against PyTorch', () => {
  test.each(layerCases(...ACTIVATIONS))('$name', (reference) => {
    expectLayerMatches(build(reference), reference);
  });
});

describe('activations', () => {
  const x = randn([3, 4], { seed: 1, dtype: 'float64', requiresGrad: true });

  test.each<[string, () => Module]>([
    ['ReLU', () => new ReLU()],
    ['LeakyReLU', () => new LeakyReLU(0.3)],
    ['Tanh', () => new Tanh()],
    ['Sigmoid', () => new Sigmoid()],
    ['GELU', () => new GELU()],
    ['Softmax', () => new Softmax(0)],
    ['LogSoftmax', () => new LogSoftmax()],
  ])('gradcheck and gradgradcheck of %s', (_name, make) => {
    const layer = make();
    const f = (input: Tensor) => (layer.forward as (value: Tensor) => Tensor)(input);
    expect(gradcheck(f, [x])).toBe(true);
    expect(gradgradcheck(f, [x])).toBe(true);
  });

  test('have no parameters', () => {
    expect(ACTIVATIONS.map((name) => build({ layer: name, config: {} } as LayerCase).numParameters())).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  test('describe shows slope and axis', () => {
    expect(new LeakyReLU().describe()).toBe('negativeSlope=0.01');
    expect(new Softmax().describe()).toBe('axis=-1');
    expect(new LogSoftmax(1).describe()).toBe('axis=1');
  });
});
