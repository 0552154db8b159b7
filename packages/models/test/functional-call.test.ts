import { type Tensor, enableGrad, grad, gradcheck, randn, tensor } from '@metagrad/autodiff';
import {
  BatchNorm1d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, Tanh, functionalCall, mseLoss,
} from '@metagrad/models';

function normal(shape: readonly number[], seed: number, requiresGrad = false): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad });
}

function valuesOf(x: Tensor): number[] {
  return Array.from(x.toTypedArray());
}

/** Conv2d, ReLU, MaxPool2d, Flatten and Linear: [N, 1, 6, 6] to [N, 3]. */
function convNet(seed: number): Sequential {
  return new Sequential(
    new Conv2d(1, 2, 3, { seed, dtype: 'float64' }),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(8, 3, { seed: seed + 1, dtype: 'float64' }),
  );
}

/** A module with a nested Sequential, a BatchNorm and a parameter of its own. */
class Tower extends Module {
  readonly body = this.registerModule('body', new Sequential(new Linear(3, 4, { seed: 1, dtype: 'float64' }), new Tanh()));
  readonly norm = this.registerModule('norm', new BatchNorm1d(4, { dtype: 'float64' }));

  constructor() {
    super();
    this.registerParameter('gain', tensor([2], { dtype: 'float64' }));
  }

  forward(x: Tensor): Tensor {
    return this.norm.forward(this.body.forward(x)).mul(this.parameter('gain'));
  }
}

/** Returns random tensors with the shapes of `module`'s parameters, by name. */
function randomParameters(module: Module, seed: number): Record<string, Tensor> {
  return Object.fromEntries(module.namedParameters().map(([name, value], i) => [name, normal(value.shape, seed + i, true)]));
}

/** Returns the tensor in every parameter and buffer slot, by name, to check later that they are restored. */
function slots(module: Module): Map<string, Tensor> {
  return new Map(Object.entries(module.stateDict()));
}

function expectSameSlots(module: Module, before: Map<string, Tensor>): void {
  const after = slots(module);
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [name, value] of after) expect({ name, same: value === before.get(name) }).toEqual({ name, same: true });
}

describe('functionalCall', () => {
  const x = normal([2, 1, 6, 6], 10);

  test('module own tensors give the module output', () => {
    const model = convNet(1);
    const own = Object.fromEntries(model.namedParameters().map(([name, value]) => [name, value.detach()]));
    expect(valuesOf(functionalCall(model, own, x))).toEqual(valuesOf(model.forward(x)));
  });

  test('other tensors give the output of a module loaded with them', () => {
    const model = convNet(1);
    const replacement = randomParameters(model, 20);
    const loaded = convNet(5);
    loaded.loadStateDict(replacement);
    expect(valuesOf(functionalCall(model, replacement, x))).toEqual(valuesOf(loaded.forward(x)));
  });

  test('Map of tensors works like a record', () => {
    const model = convNet(1);
    const replacement = randomParameters(model, 20);
    expect(valuesOf(functionalCall(model, new Map(Object.entries(replacement)), x))).toEqual(valuesOf(functionalCall(model, replacement, x)));
  });

  test('names not given keep the module tensors', () => {
    const model = convNet(1);
    const weight = normal([3, 8], 30);
    const loaded = convNet(1);
    loaded.loadStateDict({ '4.weight': weight }, { strict: false });
    expect(valuesOf(functionalCall(model, { '4.weight': weight }, x))).toEqual(valuesOf(loaded.forward(x)));
  });

  test('nested names and a parameter of the root', () => {
    const tower = new Tower();
    const input = normal([5, 3], 2);
    const replacement = { gain: tensor([-1], { dtype: 'float64' }), 'body.0.bias': normal([4], 3), 'norm.weight': normal([4], 4) };
    const loaded = new Tower();
    loaded.loadStateDict(replacement, { strict: false });
    expect(valuesOf(functionalCall(tower, replacement, input))).toEqual(valuesOf(loaded.forward(input)));
  });

  test('buffers are replaced too', () => {
    const tower = new Tower().eval();
    const input = normal([5, 3], 2);
    const buffers = { 'norm.running_mean': normal([4], 5), 'norm.running_var': normal([4], 6).abs().add(0.5) };
    const loaded = new Tower().eval();
    loaded.loadStateDict(buffers, { strict: false });
    expect(valuesOf(functionalCall(tower, buffers, input))).toEqual(valuesOf(loaded.forward(input)));
    expect(valuesOf(tower.namedBuffers()[0][1])).toEqual([0, 0, 0, 0]);
  });

  test('gradients reach the passed tensors, not the module parameters', () => {
    const model = convNet(1);
    const replacement = randomParameters(model, 40);
    functionalCall(model, replacement, x).square().sum().backward();
    for (const [name, value] of Object.entries(replacement)) expect({ name, hasGrad: value.grad !== null }).toEqual({ name, hasGrad: true });
    expect(model.parameters().map((value) => value.grad)).toEqual(model.parameters().map(() => null));
  });

  test('gradients equal those of the module', () => {
    const model = convNet(1);
    const copies = Object.fromEntries(model.namedParameters().map(([name, value]) => [name, value.detach().requiresGrad_(true)]));
    functionalCall(model, copies, x).square().sum().backward();
    model.forward(x).square().sum().backward();
    for (const [name, value] of model.namedParameters()) expect({ name, grad: valuesOf(copies[name].grad!) }).toEqual({ name, grad: valuesOf(value.grad!) });
  });

  test('gradcheck of the passed tensors', () => {
    const model = new Sequential(new Linear(3, 2, { dtype: 'float64' }), new Tanh(), new Linear(2, 1, { dtype: 'float64' }));
    const input = normal([4, 3], 7);
    const f = (w0: Tensor, b0: Tensor, w2: Tensor) => functionalCall(model, { '0.weight': w0, '0.bias': b0, '2.weight': w2 }, input);
    expect(gradcheck(f, [normal([2, 3], 8, true), normal([2], 9, true), normal([1, 2], 10, true)])).toBe(true);
  });

  test('gradcheck through one inner gradient step', () => {
    // The meta-gradient of MAML: the query loss after one SGD step on the support loss.
    const model = new Sequential(new Linear(2, 3, { dtype: 'float64' }), new Tanh(), new Linear(3, 1, { dtype: 'float64' }));
    const [support, supportTarget, query, queryTarget] = [normal([4, 2], 1), normal([4, 1], 2), normal([3, 2], 3), normal([3, 1], 4)];
    const names = model.namedParameters().map(([name]) => name);
    // enableGrad, because gradcheck's finite differences run under noGrad but the inner step needs a graph.
    const metaLoss = (...weights: Tensor[]) => enableGrad(() => {
      const start = Object.fromEntries(names.map((name, i) => [name, weights[i]]));
      const innerLoss = mseLoss(functionalCall(model, start, support), supportTarget);
      const grads = grad(innerLoss, weights, { createGraph: true });
      const adapted = Object.fromEntries(names.map((name, i) => [name, weights[i].sub(grads[i].mul(0.5))]));
      return mseLoss(functionalCall(model, adapted, query), queryTarget);
    });
    const weights = model.namedParameters().map(([, value], i) => normal(value.shape, 20 + i, true));
    expect(gradcheck(metaLoss, weights)).toBe(true);
  });

  test('module tensors are restored after forward', () => {
    const tower = new Tower();
    const before = slots(tower);
    functionalCall(tower, { ...randomParameters(tower, 50), 'norm.running_mean': normal([4], 60) }, normal([5, 3], 2));
    expectSameSlots(tower, before);
  });

  test('module tensors are restored when forward throws', () => {
    const model = convNet(1);
    const before = slots(model);
    expect(() => functionalCall(model, randomParameters(model, 50), normal([2, 2, 6, 6], 1))).toThrow();
    expectSameSlots(model, before);
    expect(model.forward(x).shape).toEqual([2, 3]);
  });

  test('unknown parameter name is rejected', () => {
    const model = convNet(1);
    const before = slots(model);
    expect(() => functionalCall(model, { '0.weight': normal([2, 1, 3, 3], 1), '4.scale': normal([3], 2) }, x)).toThrow(
      "Linear: no parameter or buffer named 'scale'",
    );
    expectSameSlots(model, before);
  });

  test('unknown submodule is rejected', () => {
    expect(() => functionalCall(convNet(1), { '7.weight': normal([1], 1) }, x)).toThrow("functionalCall: no submodule '7' for '7.weight' in Sequential");
  });

  test('unknown root name is rejected', () => {
    expect(() => functionalCall(convNet(1), { weight: normal([1], 1) }, x)).toThrow("Sequential: no parameter or buffer named 'weight'");
  });

  test('shared layer resolves under each name', () => {
    const shared = new Linear(2, 2, { dtype: 'float64' });
    const model = new Sequential(shared, new Tanh(), shared);
    const input = normal([3, 2], 1);
    const weight = normal([2, 2], 2);
    expect(valuesOf(functionalCall(model, { '2.weight': weight }, input))).toEqual(valuesOf(functionalCall(model, { '0.weight': weight }, input)));
  });
});
