import { type Tensor, ones, randn, tensor, zeros } from '@metagrad/autodiff';
import {
  BatchNorm1d, Dropout, Linear, Module, ModuleList, ReLU, Sequential, referenceCnn,
} from '@metagrad/models';
import { type ModuleNames, coreReference } from './core-reference';

/** The block of core_reference.py: a Sequential, a parameter, a BatchNorm and a buffer. */
class Block extends Module {
  readonly inner: Sequential;
  readonly norm: BatchNorm1d;

  constructor() {
    super();
    this.inner = this.registerModule('inner', new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 3, { bias: false })));
    this.registerParameter('scale', ones([3]));
    this.norm = this.registerModule('norm', new BatchNorm1d(3));
    this.registerBuffer('count', zeros([1]));
  }

  forward(x: Tensor): Tensor {
    return this.norm.forward(this.inner.forward(x).mul(this.parameter('scale')));
  }
}

/** The network of core_reference.py: the parameter `temperature` is registered after the children. */
class Net extends Module {
  readonly embed = this.registerModule('embed', new Linear(2, 3));
  readonly blocks = this.registerModule('blocks', new ModuleList([new Block(), new Block()]));
  readonly head = this.registerModule('head', new Sequential(new Dropout(0.1), new Linear(3, 1)));

  constructor() {
    super();
    this.registerParameter('temperature', ones([1]));
  }

  forward(x: Tensor): Tensor {
    let hidden = this.embed.forward(x);
    for (const block of this.blocks) hidden = block.forward(hidden);
    return this.head.forward(hidden).mul(this.parameter('temperature'));
  }
}

/** A module whose `register` calls the protected registration methods. */
class Holder extends Module {
  register(kind: 'parameter' | 'buffer' | 'module', name: string): void {
    if (kind === 'parameter') this.registerParameter(name, zeros([1]));
    else if (kind === 'buffer') this.registerBuffer(name, zeros([1]));
    else this.registerModule(name, new ReLU());
  }

  forward(): never {
    throw new Error('Holder has no forward');
  }
}

function describeNames(module: Module): ModuleNames {
  return {
    parameters: module.namedParameters().map(([name, value]) => [name, value.shape]),
    buffers: module.namedBuffers().map(([name, value]) => [name, value.shape]),
    modules: module.namedModules().map(([name, child]) => [name, child.constructor.name]),
    children: module.namedChildren().map(([name]) => name),
    stateDict: Object.keys(module.stateDict()),
    numParameters: module.numParameters(),
  };
}

/** Copies of every parameter and buffer value, by name, to check later that nothing changed. */
function snapshot(module: Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(module.stateDict()).map(([name, value]) => [name, Array.from(value.toTypedArray())]));
}

describe('Module names against PyTorch', () => {
  const reference = coreReference().modules;

  test('nested Sequential, ModuleList and custom modules', () => {
    expect(describeNames(new Net())).toEqual(reference.nested);
  });

  test('layer shared at two positions', () => {
    const shared = new Linear(2, 2);
    const names = describeNames(new Sequential(shared, new ReLU(), shared));
    // namedChildren lists every registration, where PyTorch lists a shared child once.
    expect({ ...names, children: reference.sharedLayer.children }).toEqual(reference.sharedLayer);
    expect(names.children).toEqual(['0', '1', '2']);
  });
});

describe('Module traversal', () => {
  test('parameters are the tensors of namedParameters', () => {
    const net = new Net();
    const named = net.namedParameters().map(([, value]) => value);
    expect(net.parameters()).toHaveLength(named.length);
    net.parameters().forEach((value, i) => expect(value).toBe(named[i]));
    expect(net.parameters().every((value) => value.requiresGrad)).toBe(true);
  });

  test('buffers are the tensors of namedBuffers', () => {
    const net = new Net();
    expect(net.buffers()).toEqual(net.namedBuffers().map(([, value]) => value));
    expect(net.buffers().some((value) => value.requiresGrad)).toBe(false);
  });

  test('children and modules are the registered instances', () => {
    const net = new Net();
    expect(net.children()).toEqual([net.embed, net.blocks, net.head]);
    expect(net.modules()[0]).toBe(net);
    expect(net.modules()[3]).toBe(net.blocks.at(0));
  });

  test('namedParameters takes a prefix', () => {
    expect(new Linear(2, 2).namedParameters('encoder.0').map(([name]) => name)).toEqual(['encoder.0.weight', 'encoder.0.bias']);
  });

  test('absent parameters are skipped', () => {
    expect(new Linear(2, 2, { bias: false }).stateDict()).not.toHaveProperty('bias');
  });

  test.each<[string, 'parameter' | 'buffer' | 'module']>([
    ['', 'parameter'],
    ['a.b', 'buffer'],
    ['layer.0', 'module'],
  ])("name '%s' for a %s is rejected", (name, kind) => {
    expect(() => new Holder().register(kind, name)).toThrow(`Holder: invalid name '${name}'; names must be non-empty and contain no '.'`);
  });
});

describe('Module modes and gradients', () => {
  test('eval and train reach every descendant', () => {
    const net = new Net();
    expect(net.eval()).toBe(net);
    expect(net.modules().map((module) => module.training)).toEqual(net.modules().map(() => false));
    expect(net.train()).toBe(net);
    expect(net.modules().every((module) => module.training)).toBe(true);
    net.train(false);
    expect(net.modules().some((module) => module.training)).toBe(false);
  });

  test('train on a child leaves the parent alone', () => {
    const net = new Net().eval();
    net.head.train();
    expect(net.training).toBe(false);
    expect(net.head.at(0).training).toBe(true);
  });

  test('zeroGrad clears every parameter gradient', () => {
    const net = new Net();
    net.forward(randn([4, 2])).sum().backward();
    expect(net.parameters().every((value) => value.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().map((value) => value.grad)).toEqual(net.parameters().map(() => null));
  });
});

describe('Module state', () => {
  test('stateDict holds the module tensors themselves', () => {
    const net = new Net();
    const state = net.stateDict();
    expect(state['embed.weight']).toBe(net.embed.weight);
    expect(state['blocks.1.norm.running_mean']).toBe(net.blocks.at(1).norm.namedBuffers()[0][1]);
  });

  test('loadStateDict copies into the same tensors', () => {
    const source = new Net();
    const target = new Net();
    const targetWeight = target.embed.weight;
    source.embed.weight.data.fill(0.5);
    target.loadStateDict(source.stateDict());
    expect(target.embed.weight).toBe(targetWeight);
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(targetWeight).not.toBe(source.embed.weight);
  });

  test('loadStateDict fills buffers', () => {
    const norm = new BatchNorm1d(2);
    norm.loadStateDict({ ...norm.stateDict(), running_mean: tensor([1, 2]), num_batches_tracked: tensor(7) });
    expect(Object.fromEntries(norm.namedBuffers().map(([name, value]) => [name, value.toArray()]))).toEqual({
      running_mean: [1, 2],
      running_var: [1, 1],
      num_batches_tracked: 7,
    });
  });

  test('loadStateDict converts float64 values to float32', () => {
    const layer = new Linear(2, 1);
    layer.loadStateDict({ weight: tensor([[0.1, 0.2]], { dtype: 'float64' }), bias: tensor([1 / 3], { dtype: 'float64' }) });
    expect(layer.weight.dtype).toBe('float32');
    expect(Array.from(layer.weight.toTypedArray())).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(Array.from(layer.bias!.toTypedArray())).toEqual([Math.fround(1 / 3)]);
  });

  test('loadStateDict converts float32 values to float64', () => {
    const layer = new Linear(1, 1, { dtype: 'float64' });
    layer.loadStateDict({ weight: tensor([[0.1]]), bias: tensor([0.25]) });
    expect(layer.weight.dtype).toBe('float64');
    expect(layer.weight.item()).toBe(Math.fround(0.1));
  });

  test('loadStateDict records no graph', () => {
    const layer = new Linear(1, 1);
    layer.loadStateDict({ weight: randn([1, 1], { requiresGrad: true }).mul(2), bias: tensor([0]) });
    expect(layer.weight.isLeaf).toBe(true);
    expect(layer.weight.requiresGrad).toBe(true);
  });

  test('strict load names the missing entries', () => {
    const state = new Net().stateDict();
    delete state['head.1.bias'];
    delete state.temperature;
    expect(() => new Net().loadStateDict(state)).toThrow(
      'loadStateDict: the state does not match Net: missing temperature, head.1.bias; unexpected none. Pass { strict: false } to load the names that match',
    );
  });

  test('strict load names the unexpected entries', () => {
    const state = { ...new Net().stateDict(), 'head.2.weight': zeros([1]) };
    expect(() => new Net().loadStateDict(state)).toThrow('missing none; unexpected head.2.weight.');
  });

  test('failed strict load changes nothing', () => {
    const net = new Net();
    const before = snapshot(net);
    const state = Object.fromEntries(Object.entries(new Net().stateDict()).map(([name, value]) => [name, value.add(1)]));
    expect(() => net.loadStateDict({ ...state, extra: zeros([1]) })).toThrow('unexpected extra');
    expect(snapshot(net)).toEqual(before);
  });

  test('non-strict load fills the matching names and reports the rest', () => {
    const net = new Net();
    const before = snapshot(net);
    const result = net.loadStateDict({ 'embed.bias': tensor([7, 8, 9]), 'head.9.weight': zeros([1]) }, { strict: false });
    expect(result.unexpected).toEqual(['head.9.weight']);
    expect(result.missing).toEqual(Object.keys(before).filter((name) => name !== 'embed.bias'));
    expect(snapshot(net)).toEqual({ ...before, 'embed.bias': [7, 8, 9] });
  });

  test.each([true, false])('shape mismatch loads nothing (strict %p)', (strict) => {
    const net = new Net();
    const before = snapshot(net);
    const state = Object.fromEntries(Object.entries(new Net().stateDict()).map(([name, value]) => [name, value.add(1)]));
    state['head.1.weight'] = zeros([3, 1]);
    expect(() => net.loadStateDict(state, { strict })).toThrow(
      "loadStateDict: 'head.1.weight' has shape [3, 1] in the state but [1, 3] in the module; nothing was loaded",
    );
    expect(snapshot(net)).toEqual(before);
  });

  test('load from a scalar into a vector is a shape mismatch', () => {
    const layer = new Linear(1, 1);
    expect(() => layer.loadStateDict({ weight: zeros([1, 1]), bias: tensor(0) })).toThrow("'bias' has shape [] in the state but [1] in the module");
  });
});

describe('Module summary', () => {
  /** Splits the table of `summary` into [layer, output shape, parameter count] rows. */
  function tableRows(text: string): Array<[string, string, string]> {
    const lines = text.split('\n');
    const shapeColumn = lines[0].indexOf('output shape');
    const countColumn = lines[0].indexOf('parameters');
    return lines.slice(1, -1).map((line) => [line.slice(0, shapeColumn).trim(), line.slice(shapeColumn, countColumn).trim(), line.slice(countColumn).trim()]);
  }

  test('referenceCnn output shapes for [1, 1, 28, 28]', () => {
    const rows = tableRows(referenceCnn().summary([1, 1, 28, 28]));
    expect(rows.map(([, shape]) => shape)).toEqual([
      '[1, 10]',
      '[1, 32, 26, 26]',
      '[1, 32, 26, 26]',
      '[1, 32, 13, 13]',
      '[1, 64, 11, 11]',
      '[1, 64, 11, 11]',
      '[1, 64, 5, 5]',
      '[1, 64, 3, 3]',
      '[1, 64, 3, 3]',
      '[1, 576]',
      '[1, 64]',
      '[1, 64]',
      '[1, 10]',
    ]);
    expect(rows.map(([, , count]) => count)).toEqual(['', '320', '', '', '18,496', '', '', '36,928', '', '', '36,928', '', '650']);
    expect(rows[1][0]).toBe('(0) Conv2d(1, 32, kernelSize=[3, 3])');
  });

  test('summary ends with the total and starts with the header', () => {
    const lines = referenceCnn().summary([2, 1, 28, 28]).split('\n');
    expect(lines[0]).toMatch(/^layer +output shape +parameters$/);
    expect(lines[1]).toMatch(/^Sequential\(\) +\[2, 10\]$/);
    expect(lines[lines.length - 1]).toBe('Total parameters: 93,322');
  });

  test('toString with an input shape is the summary', () => {
    const model = referenceCnn();
    expect(model.toString([1, 1, 28, 28])).toBe(model.summary([1, 1, 28, 28]));
  });

  test('toString without an input lists the tree', () => {
    const lines = referenceCnn().toString().split('\n');
    expect(lines[0]).toBe('Sequential()');
    expect(lines[1]).toBe('  (0) Conv2d(1, 32, kernelSize=[3, 3])  # 320 parameters');
    expect(lines[2]).toBe('  (1) ReLU()');
    expect(lines[lines.length - 1]).toBe('Total parameters: 93,322');
  });

  test('summary of a tensor input uses it', () => {
    const rows = tableRows(new Net().summary(randn([5, 2])));
    expect(rows[0][1]).toBe('[5, 1]');
    expect(rows.find(([label]) => label.startsWith('(norm)'))![1]).toBe('[5, 3]');
  });

  test('summary restores every forward and records no graph', () => {
    const model = referenceCnn();
    model.summary([1, 1, 28, 28]);
    expect(model.modules().every((module) => !Object.prototype.hasOwnProperty.call(module, 'forward'))).toBe(true);
    expect(model.parameters().every((value) => value.grad === null)).toBe(true);
  });

  test('summary restores every forward when forward throws', () => {
    const model = referenceCnn();
    expect(() => model.summary([1, 3, 28, 28])).toThrow();
    expect(model.modules().every((module) => !Object.prototype.hasOwnProperty.call(module, 'forward'))).toBe(true);
    expect(model.forward(zeros([1, 1, 28, 28])).shape).toEqual([1, 10]);
  });
});
