import { type Tensor, gradcheck, gradgradcheck, randn } from '@metagrad/autodiff';
import { type BatchNorm, BatchNorm1d, BatchNorm2d, functionalCall } from '@metagrad/models';
import { type EncodedTensor, decode, expectMatches, loadCases, pairing } from './layers-reference';

interface BatchNormStep {
  input: EncodedTensor;
  output: EncodedTensor;
  cotangent: EncodedTensor;
  grads: Record<'input' | 'weight' | 'bias', EncodedTensor>;
}

interface BatchNormCase {
  name: string;
  layer: 'BatchNorm1d' | 'BatchNorm2d';
  numFeatures: number;
  momentum: number | null;
  parameters: Record<'weight' | 'bias', EncodedTensor>;
  training: Array<BatchNormStep & { runningMean: EncodedTensor; runningVar: EncodedTensor; numBatchesTracked: number }>;
  evaluation: BatchNormStep;
}

function normal(shape: number[], seed: number): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad: true });
}

/** Runs one step of a reference case and compares its output and gradients. */
function expectStep(norm: BatchNorm, step: BatchNormStep, label: string): void {
  const input = decode(step.input, true);
  norm.zeroGrad();
  const output = norm.forward(input);
  expectMatches(output, step.output, `${label} output`);
  pairing([output], [step.cotangent]).backward();
  expectMatches(input.grad, step.grads.input, `${label} input gradient`);
  expectMatches(norm.parameters()[0].grad, step.grads.weight, `${label} weight gradient`);
  expectMatches(norm.parameters()[1].grad, step.grads.bias, `${label} bias gradient`);
}

describe('BatchNorm against PyTorch', () => {
  test.each(loadCases<BatchNormCase>('batch-norm.json'))('$name', (reference) => {
    const Layer = reference.layer === 'BatchNorm1d' ? BatchNorm1d : BatchNorm2d;
    const norm = new Layer(reference.numFeatures, { dtype: 'float64', momentum: reference.momentum });
    norm.loadStateDict({ weight: decode(reference.parameters.weight), bias: decode(reference.parameters.bias) }, { strict: false });

    reference.training.forEach((step, i) => {
      expectStep(norm, step, `training step ${i}`);
      const buffers = Object.fromEntries(norm.namedBuffers());
      expectMatches(buffers.running_mean, step.runningMean, `running_mean after step ${i}`);
      expectMatches(buffers.running_var, step.runningVar, `running_var after step ${i}`);
      expect(buffers.num_batches_tracked.item()).toBe(step.numBatchesTracked);
    });

    norm.eval();
    expectStep(norm, reference.evaluation, 'evaluation');
  });
});

describe('BatchNorm', () => {
  test('names and initial values follow PyTorch', () => {
    const norm = new BatchNorm2d(3);
    expect(Object.fromEntries(Object.entries(norm.stateDict()).map(([name, value]) => [name, value.toArray()]))).toEqual({
      weight: [1, 1, 1],
      bias: [0, 0, 0],
      running_mean: [0, 0, 0],
      running_var: [1, 1, 1],
      num_batches_tracked: 0,
    });
  });

  test('eval mode leaves the running statistics alone', () => {
    const norm = new BatchNorm1d(2, { dtype: 'float64' }).eval();
    norm.forward(normal([4, 2], 1));
    const buffers = Object.fromEntries(norm.namedBuffers().map(([name, value]) => [name, value.toArray()]));
    expect(buffers).toEqual({ running_mean: [0, 0], running_var: [1, 1], num_batches_tracked: 0 });
  });

  test('without running statistics every mode uses the batch', () => {
    const norm = new BatchNorm1d(2, { dtype: 'float64', trackRunningStats: false });
    expect(norm.buffers()).toEqual([]);
    const input = normal([4, 2], 1);
    const training = norm.forward(input).toArray();
    expect(norm.eval().forward(input).toArray()).toEqual(training);
  });

  test('without affine there are no parameters', () => {
    const norm = new BatchNorm2d(2, { dtype: 'float64', affine: false });
    expect(norm.parameters()).toEqual([]);
    expect(norm.forward(normal([2, 2, 2, 2], 1)).shape).toEqual([2, 2, 2, 2]);
  });

  test.each<[string, () => BatchNorm, number[]]>([
    ['BatchNorm1d on [N, C]', () => new BatchNorm1d(3, { dtype: 'float64' }), [4, 3]],
    ['BatchNorm1d on [N, C, L]', () => new BatchNorm1d(2, { dtype: 'float64' }), [2, 2, 3]],
    ['BatchNorm2d', () => new BatchNorm2d(2, { dtype: 'float64' }), [2, 2, 2, 2]],
  ])('gradcheck and gradgradcheck in training mode: %s', (_name, make, shape) => {
    const norm = make();
    const channels = shape[1];
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => functionalCall(norm, { weight, bias }, x);
    const inputs = [normal(shape, 1), normal([channels], 2), normal([channels], 3)];
    expect(gradcheck(f, inputs)).toBe(true);
    expect(gradgradcheck(f, inputs)).toBe(true);
  });

  test('gradcheck in eval mode', () => {
    const norm = new BatchNorm2d(2, { dtype: 'float64' });
    norm.forward(normal([2, 2, 3, 3], 4));
    norm.eval();
    const f = (x: Tensor, weight: Tensor, bias: Tensor) => functionalCall(norm, { weight, bias }, x);
    expect(gradcheck(f, [normal([2, 2, 2, 2], 1), normal([2], 2), normal([2], 3)])).toBe(true);
  });

  test('functionalCall updates the buffers passed in, as PyTorch does', () => {
    const norm = new BatchNorm1d(2, { dtype: 'float64' });
    const runningMean = randn([2], { seed: 5, dtype: 'float64' });
    const before = runningMean.toArray() as number[];
    const input = normal([4, 2], 6);
    functionalCall(norm, { running_mean: runningMean }, input);

    const batchMean = input.mean(0).toArray() as number[];
    expect(runningMean.toArray()).toEqual(before.map((value, i) => 0.9 * value + 0.1 * batchMean[i]));
    expect(Object.fromEntries(norm.namedBuffers()).running_mean.toArray()).toEqual([0, 0]);
  });

  test('functionalCall differentiates the passed weight and bias', () => {
    const norm = new BatchNorm1d(2, { dtype: 'float64' });
    const weight = normal([2], 1);
    const bias = normal([2], 2);
    const output = functionalCall(norm, { weight, bias }, normal([3, 2], 3));
    output.sum().backward();
    expect(bias.grad!.toArray()).toEqual([3, 3]);
    expect(norm.parameters().every((p) => p.grad === null)).toBe(true);
  });

  test.each<[string, () => unknown, string]>([
    ['a batch of one in training', () => new BatchNorm1d(2).forward(randn([1, 2])), 'BatchNorm1d: training needs more than one value per channel to compute a variance, got input [1, 2]'],
    ['a 4-D input to BatchNorm1d', () => new BatchNorm1d(2).forward(randn([2, 2, 2, 2])), 'BatchNorm1d: input must be [N, 2] or [N, 2, L], got [2, 2, 2, 2]'],
    ['the wrong channel count', () => new BatchNorm2d(3).forward(randn([2, 2, 2, 2])), 'BatchNorm2d: input must be [N, 3, H, W], got [2, 2, 2, 2]'],
    ['a float64 input to a float32 layer', () => new BatchNorm1d(2).forward(normal([3, 2], 1)), "BatchNorm1d: the input is float64 but the layer is float32; convert the input with .to('float32')"],
    ['momentum above 1', () => new BatchNorm1d(2, { momentum: 2 }), 'BatchNorm1d: momentum must be in [0, 1] or null, got 2'],
  ])('%s is rejected', (_name, make, message) => {
    expect(make).toThrow(message);
  });
});
