import { type Tensor, linear, randn, tensor, zeros } from '@metagrad/autodiff';
import {
  Adam, AdamW, type Optimizer, RMSprop, SGD, mseLoss, parseSafetensors, serializeSafetensors,
} from '@metagrad/models';
import { type OptimizerCase, coreReference, decode, expectMatches } from './core-reference';

const { problem, cases } = coreReference().optimizers;

function createOptimizer(reference: OptimizerCase, params: Tensor[]): Optimizer {
  const options = reference.options as never;
  switch (reference.optimizer) {
    case 'SGD':
      return new SGD(params, options);
    case 'Adam':
      return new Adam(params, options);
    case 'AdamW':
      return new AdamW(params, options);
    case 'RMSprop':
      return new RMSprop(params, options);
  }
}

/** Returns the weight and bias of the reference problem as new leaves. */
function startingParameters(): [Tensor, Tensor] {
  return [decode(problem.weight, true), decode(problem.bias, true)];
}

/**
 * Takes optimizer steps `from` to `to` (counted from 0) on mse(linear(x, weight, bias), y), with
 * no bias gradient on step 0 when the case sets skipFirstBiasGradient, and returns the parameters after each.
 */
function takeSteps(reference: OptimizerCase, optimizer: Optimizer, [weight, bias]: Tensor[], from: number, to: number): number[][][] {
  const input = decode(problem.input);
  const target = decode(problem.target);
  const trajectory: number[][][] = [];
  for (let step = from; step < to; step++) {
    optimizer.zeroGrad();
    mseLoss(linear(input, weight, bias), target).backward();
    if (reference.skipFirstBiasGradient && step === 0) bias.grad = null;
    optimizer.step();
    trajectory.push([Array.from(weight.toTypedArray()), Array.from(bias.toTypedArray())]);
  }
  return trajectory;
}

describe('optimizers against PyTorch', () => {
  test.each(cases)('$name', (reference) => {
    const params = startingParameters();
    const optimizer = createOptimizer(reference, params);
    reference.trajectory.forEach((expected, step) => {
      takeSteps(reference, optimizer, params, step, step + 1);
      expectMatches(params[0], expected.weight, `weight after step ${step + 1}`);
      expectMatches(params[1], expected.bias, `bias after step ${step + 1}`);
    });
  });
});

describe('optimizer state', () => {
  test.each(cases)('$name resumes exactly through safetensors', (reference) => {
    const uninterrupted = startingParameters();
    const expected = takeSteps(reference, createOptimizer(reference, uninterrupted), uninterrupted, 0, 5);

    const first = startingParameters();
    const firstOptimizer = createOptimizer(reference, first);
    takeSteps(reference, firstOptimizer, first, 0, 2);
    const saved = firstOptimizer.stateDict();
    const restored = parseSafetensors(serializeSafetensors(saved.tensors, saved.metadata));

    const second = first.map((value) => value.detach().clone().requiresGrad_(true));
    const secondOptimizer = createOptimizer(reference, second);
    secondOptimizer.loadStateDict(restored);
    expect(secondOptimizer.stepCount).toBe(2);
    expect(takeSteps(reference, secondOptimizer, second, 2, 5)).toEqual(expected.slice(2));
    expectMatches(second[0], reference.trajectory[4].weight, 'resumed weight');
  });

  test('stateDict names buffers by parameter index', () => {
    const params = startingParameters();
    const optimizer = new Adam(params, { amsgrad: true });
    takeSteps(cases[0], optimizer, params, 0, 1);
    const { tensors, metadata } = optimizer.stateDict();
    expect(Object.keys(tensors).sort()).toEqual(['0.exp_avg', '0.exp_avg_sq', '0.max_exp_avg_sq', '1.exp_avg', '1.exp_avg_sq', '1.max_exp_avg_sq']);
    expect(tensors['0.exp_avg'].shape).toEqual([2, 3]);
    expect(metadata).toMatchObject({ type: 'Adam', step: '1', lr: '0.001', beta1: '0.9', beta2: '0.999', eps: '1e-8', weightDecay: '0', amsgrad: 'true' });
  });

  test('stateDict holds copies', () => {
    const params = startingParameters();
    const optimizer = new SGD(params, { lr: 0.1, momentum: 0.9 });
    takeSteps(cases[0], optimizer, params, 0, 1);
    const saved = Array.from(optimizer.stateDict().tensors['0.momentum_buffer'].toTypedArray());
    takeSteps(cases[0], optimizer, params, 1, 2);
    expect(Array.from(optimizer.stateDict().tensors['0.momentum_buffer'].toTypedArray())).not.toEqual(saved);
  });

  test('float32 state resumes exactly', () => {
    const make = () => [randn([3, 2], { seed: 1, requiresGrad: true }), randn([2], { seed: 2, requiresGrad: true })];
    const step = (optimizer: Optimizer, params: Tensor[]) => {
      optimizer.zeroGrad();
      params[0].sum(1).mul(params[1].sum()).square().sum().backward();
      optimizer.step();
    };
    const reference = make();
    const referenceOptimizer = new Adam(reference, { lr: 0.1 });
    for (let i = 0; i < 4; i++) step(referenceOptimizer, reference);

    const first = make();
    const firstOptimizer = new Adam(first, { lr: 0.1 });
    step(firstOptimizer, first);
    step(firstOptimizer, first);
    const saved = firstOptimizer.stateDict();
    const resumed = new Adam(first, { lr: 0.1 });
    resumed.loadStateDict(parseSafetensors(serializeSafetensors(saved.tensors, saved.metadata)));
    step(resumed, first);
    step(resumed, first);
    expect(first.map((value) => Array.from(value.toTypedArray()))).toEqual(reference.map((value) => Array.from(value.toTypedArray())));
  });

  test('loadStateDict restores the learning rate', () => {
    const optimizer = new SGD(startingParameters(), { lr: 0.1 });
    optimizer.lr = 0.0123;
    const resumed = new SGD(startingParameters(), { lr: 0.5 });
    resumed.loadStateDict(optimizer.stateDict());
    expect(resumed.lr).toBe(0.0123);
  });

  test.each<[string, () => Optimizer, string]>([
    ['SGD', () => new SGD(startingParameters(), { lr: 0.1, momentum: 0.9 }), 'SGD.loadStateDict: the state was saved by Adam'],
    ['AdamW', () => new AdamW(startingParameters()), 'AdamW.loadStateDict: the state was saved by Adam'],
  ])('%s rejects the state of Adam', (_name, make, message) => {
    const params = startingParameters();
    const adam = new Adam(params);
    takeSteps(cases[0], adam, params, 0, 1);
    expect(() => make().loadStateDict(adam.stateDict())).toThrow(message);
  });

  test('state without a type is rejected', () => {
    expect(() => new SGD(startingParameters(), { lr: 0.1 }).loadStateDict({ tensors: {}, metadata: {} })).toThrow(
      'SGD.loadStateDict: the state was saved by an unknown optimizer',
    );
  });

  test('state of parameters of other sizes is rejected and changes nothing', () => {
    const params = startingParameters();
    const adam = new Adam(params, { lr: 0.1 });
    takeSteps(cases[0], adam, params, 0, 1);
    const before = adam.stateDict();

    const swapped = startingParameters().reverse();
    const other = new Adam(swapped, { lr: 0.1 });
    takeSteps(cases[0], other, swapped.slice().reverse(), 0, 1);
    expect(() => adam.loadStateDict(other.stateDict())).toThrow("Adam.loadStateDict: '0.exp_avg' has 2 elements but parameter 0 [2, 3] has 6");

    const after = adam.stateDict();
    expect(after.metadata).toEqual(before.metadata);
    for (const [name, value] of Object.entries(before.tensors)) expect(Array.from(after.tensors[name].toTypedArray())).toEqual(Array.from(value.toTypedArray()));
  });

  test('state of more parameters is rejected', () => {
    const params = startingParameters();
    const rmsprop = new RMSprop(params);
    takeSteps(cases[0], rmsprop, params, 0, 1);
    const onlyWeight = new RMSprop([startingParameters()[0]]);
    expect(() => onlyWeight.loadStateDict(rmsprop.stateDict())).toThrow("RMSprop.loadStateDict: unexpected state entry '1.square_avg'");
  });

  test('Adam state of more parameters is rejected', () => {
    const params = startingParameters();
    const adam = new Adam(params);
    takeSteps(cases[0], adam, params, 0, 1);
    const onlyWeight = new Adam([startingParameters()[0]]);
    expect(() => onlyWeight.loadStateDict(adam.stateDict())).toThrow(
      "Adam.loadStateDict: the state is of 2 parameters (parameterSteps '1,1') but this optimizer has 1",
    );
  });

  test('Adam state with invalid parameterSteps is rejected', () => {
    const adam = new Adam(startingParameters());
    const saved = adam.stateDict();
    saved.metadata.parameterSteps = '1,x';
    expect(() => adam.loadStateDict(saved)).toThrow("Adam.loadStateDict: parameterSteps '1,x' must be non-negative integers separated by commas");
  });

  test('Adam state without parameterSteps counts every step', () => {
    // States written before per-parameter step counts were saved carry only the global step.
    const params = startingParameters();
    const adam = new Adam(params, { lr: 0.1 });
    takeSteps(cases[0], adam, params, 0, 2);
    const saved = adam.stateDict();
    const copies = params.map((value) => value.detach().clone().requiresGrad_(true));
    const expected = takeSteps(cases[0], adam, params, 2, 3);

    delete saved.metadata.parameterSteps;
    const resumed = new Adam(copies, { lr: 0.1 });
    resumed.loadStateDict(saved);
    expect(resumed.stateDict().metadata.parameterSteps).toBe('2,2');
    expect(takeSteps(cases[0], resumed, copies, 2, 3)).toEqual(expected);
  });

  test('Adam counts steps per parameter', () => {
    const params = startingParameters();
    const adam = new Adam(params);
    takeSteps(cases.find((reference) => reference.skipFirstBiasGradient)!, adam, params, 0, 3);
    expect(adam.stepCount).toBe(3);
    expect(adam.stateDict().metadata.parameterSteps).toBe('3,2');
  });
});

describe('optimizer checks', () => {
  test('no parameters are rejected', () => {
    expect(() => new Adam([])).toThrow('Adam: got no parameters to optimize');
  });

  test('negative learning rate is rejected', () => {
    expect(() => new SGD([zeros([1], { requiresGrad: true })], { lr: -1 })).toThrow('SGD: learning rate must be a non-negative number, got -1');
  });

  test('non-contiguous parameter is rejected', () => {
    expect(() => new SGD([zeros([2, 3], { requiresGrad: true }).T], { lr: 0.1 })).toThrow('SGD: parameter 0 [3, 2] is not contiguous');
  });

  test.each<[string, object]>([
    ['without momentum', { lr: 0.1, nesterov: true }],
    ['with dampening', { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }],
  ])('Nesterov %s is rejected', (_name, options) => {
    expect(() => new SGD([zeros([1], { requiresGrad: true })], options as never)).toThrow('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  });

  test('betas outside [0, 1) are rejected', () => {
    expect(() => new Adam([zeros([1], { requiresGrad: true })], { betas: [0.9, 1] })).toThrow('Adam: betas must be in [0, 1), got [0.9, 1]');
  });

  test('AdamW defaults to weight decay 0.01', () => {
    expect(new AdamW([zeros([1], { requiresGrad: true })]).weightDecay).toBe(0.01);
    expect(new Adam([zeros([1], { requiresGrad: true })]).weightDecay).toBe(0);
  });

  test('parameters without a gradient are left alone', () => {
    const still = tensor([1, 2], { requiresGrad: true });
    const moving = tensor([1, 2], { requiresGrad: true });
    const optimizer = new SGD([still, moving], { lr: 0.5 });
    moving.sum().backward();
    optimizer.step();
    expect(Array.from(still.toTypedArray())).toEqual([1, 2]);
    expect(Array.from(moving.toTypedArray())).toEqual([0.5, 1.5]);
  });

  test('gradient of another size is rejected', () => {
    const param = zeros([2, 2], { requiresGrad: true });
    const optimizer = new SGD([param], { lr: 0.1 });
    param.grad = zeros([3]);
    expect(() => optimizer.step()).toThrow('SGD: the gradient of parameter 0 [3] does not match the parameter [2, 2]');
  });

  test('zeroGrad clears the gradients', () => {
    const param = zeros([2], { requiresGrad: true });
    const optimizer = new SGD([param], { lr: 0.1 });
    param.sum().backward();
    optimizer.zeroGrad();
    expect(param.grad).toBeNull();
  });
});
