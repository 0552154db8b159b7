import { type Tensor, gradcheck, gradgradcheck, randn } from '@metagrad/autodiff';
import { LayerNorm, functionalCall } from '@metagrad/models';
import { type EncodedTensor, decode, decodeState, expectMatches, loadCases, pairing } from './layers-reference';

interface LayerNormCase {
  name: string;
  normalizedShape: number[];
  eps: number;
  elementwiseAffine: boolean;
  state: Record<string, EncodedTensor>;
  input: EncodedTensor;
  output: EncodedTensor;
  cotangent: EncodedTensor;
  grads: Record<string, EncodedTensor>;
}

function normal(shape: number[], seed: number): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad: true });
}

describe('LayerNorm against PyTorch', () => {
  test.each(loadCases<LayerNormCase>('layer-norm.json'))('$name', (reference) => {
    const norm = new LayerNorm(reference.normalizedShape, { dtype: 'float64', eps: reference.eps, elementwiseAffine: reference.elementwiseAffine });
    norm.loadStateDict(decodeState(reference.state));
    const input = decode(reference.input, true);

    const output = norm.forward(input);
    expectMatches(output, reference.output, 'output');
    pairing([output], [reference.cotangent]).backward();
    expectMatches(input.grad, reference.grads.input, 'input gradient');
    for (const [name, parameter] of norm.namedParameters()) expectMatches(parameter.grad, reference.grads[name], `${name} gradient`);
  });
});

describe('LayerNorm', () => {
  test('starts with weight ones and bias zeros', () => {
    const norm = new LayerNorm([2, 3]);
    expect(norm.weight!.toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
    expect(norm.bias!.toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(new LayerNorm(3, { elementwiseAffine: false }).parameters()).toEqual([]);
  });

  test('rows get mean 0 and biased variance var / (var + eps)', () => {
    const output = new LayerNorm(4, { dtype: 'float64', eps: 0 }).forward(normal([3, 4], 1));
    for (const row of output.toArray() as number[][]) {
      const mean = row.reduce((a, b) => a + b, 0) / 4;
      expect(Math.abs(mean)).toBeLessThan(1e-15);
      expect(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4).toBeCloseTo(1, 12);
    }
  });

  // LayerNorm sits in the networks that MAML adapts, so its second derivatives must be right.
  test('gradcheck and gradgradcheck with respect to input, weight and bias', () => {
    const norm = new LayerNorm([2, 3], { dtype: 'float64' });
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => functionalCall(norm, { weight, bias }, x);
    const inputs = [normal([2, 2, 3], 1), normal([2, 3], 2), normal([2, 3], 3)];
    expect(gradcheck(f, inputs)).toBe(true);
    expect(gradgradcheck(f, inputs)).toBe(true);
  });

  test('functionalCall uses and differentiates the passed tensors', () => {
    const norm = new LayerNorm(3, { dtype: 'float64' });
    const weight = normal([3], 4);
    const bias = normal([3], 5);
    const x = normal([2, 3], 6);
    const functional = functionalCall(norm, { weight, bias }, x);
    norm.loadStateDict({ weight, bias });
    expect(functional.toArray()).toEqual(norm.forward(x).toArray());
    functional.sum().backward();
    expect(bias.grad!.toArray()).toEqual([2, 2, 2]);
    expect(norm.bias!.grad).toBeNull();
  });

  test.each([
    [() => new LayerNorm([]), 'LayerNorm: normalizedShape must be one or more positive integers, got []'],
    [() => new LayerNorm(3, { eps: -1 }), 'LayerNorm: eps must be a non-negative number, got -1'],
    [() => new LayerNorm([2, 3]).forward(randn([2, 3, 2])), 'LayerNorm: input [2, 3, 2] must end with normalizedShape [2, 3]'],
  ])('invalid use %# is rejected', (make, message) => {
    expect(make).toThrow(message);
  });
});
