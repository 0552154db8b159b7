import { type Tensor, linear, tensor, toDot, traceBackward } from '@metagrad/autodiff';
import { valuesOf } from './helpers';

/** Builds a two-layer perceptron on a batch of two, with named parameters, and its mean squared output. */
function mlp() {
  const x = tensor([[1, 2, 3], [0.5, -1, 2]], { name: 'x' });
  const w1 = tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], { requiresGrad: true, name: 'w1' });
  const b1 = tensor([0.1, -0.1], { requiresGrad: true, name: 'b1' });
  const w2 = tensor([[0.7, -0.8]], { requiresGrad: true, name: 'w2' });
  const hidden = linear(x, w1, b1).tanh().named('h');
  const loss = linear(hidden, w2).square().mean().named('loss');
  return { x, w1, b1, w2, loss };
}

/** Parses the numbers of a bracketed list like "[0.5000, -1.2000]". */
function numbersIn(text: string): number[] {
  return text.replace(/[[\]]/g, '').split(',').map(Number);
}

describe('toDot', () => {
  test('renders a DOT digraph', () => {
    const dot = toDot(mlp().loss);
    expect(dot.startsWith('digraph metagrad {\n')).toBe(true);
    expect(dot.endsWith('}\n')).toBe(true);
    // Every statement between the braces is a node or an edge ending in a semicolon.
    const statements = dot.trim().split('\n').slice(1, -1);
    for (const line of statements) expect(line).toMatch(/^ {2}\S.*;$/);
    expect(dot.split('{').length).toBe(dot.split('}').length);
  });

  test('names every op and tensor shape', () => {
    const dot = toDot(mlp().loss);
    for (const op of ['linear', 'tanh', 'square', 'mean']) expect(dot).toContain(`label="${op}"`);
    expect(dot).toContain('label="x [2, 3]\\nvalue');
    expect(dot).toContain('label="w1 [2, 3]\\nvalue');
    expect(dot).toContain('label="h [2, 2]\\nvalue');
    expect(dot).toContain('label="loss []\\nvalue');
  });

  test('draws an edge from each input to its op', () => {
    const dot = toDot(mlp().loss);
    const idOf = (name: string) => dot.match(new RegExp(`^  (tensor\\d+) \\[shape=box, label="${name} `, 'm'))![1];
    const opProducing = (name: string) => dot.match(new RegExp(`^  (op\\d+) -> ${idOf(name)};$`, 'm'))![1];

    const firstLayer = opProducing('t1');
    expect(dot).toContain(`  ${firstLayer} [shape=ellipse, label="linear"];`);
    for (const input of ['x', 'w1', 'b1']) expect(dot).toContain(`  ${idOf(input)} -> ${firstLayer};`);
    expect(dot).toContain(`  ${opProducing('loss')} [shape=ellipse, label="mean"];`);
  });

  test('shows gradients of a retained graph', () => {
    const { w2, loss } = mlp();
    loss.backward(undefined, { retainGraph: true });
    const dot = toDot(loss);
    const line = dot.split('\n').find((l) => l.includes('label="w2 [1, 2]'))!;
    const grad = numbersIn(line.match(/\\ngrad (\[[^\]]*\])/)![1]);
    valuesOf(w2.grad!).forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 4));
  });

  test('marks freed ops', () => {
    const { loss } = mlp();
    loss.backward();
    expect(toDot(loss)).toContain('label="mean (freed)"');
  });

  test('escapes quotes in names', () => {
    const t = tensor([1], { requiresGrad: true, name: 'say "hi"' });
    expect(toDot(t.mul(2))).toContain('say \\"hi\\" [1]');
  });
});

describe('traceBackward', () => {
  test('lists each step of a two-layer perceptron', () => {
    const lines = traceBackward(mlp().loss).split('\n');
    expect(lines[0]).toBe('backward from loss [], seeded with 1.');
    const steps = lines.filter((line) => /^\d+\. /.test(line));
    expect(steps.map((line) => line.match(/^\d+\. (\S+) \[[\d, ]*\] = (\w+)\(/)!.slice(1, 3))).toEqual([
      ['loss', 'mean'],
      ['t3', 'square'],
      ['t2', 'linear'],
      ['h', 'tanh'],
      ['t1', 'linear'],
    ]);
    for (const step of steps) expect(step).toMatch(/: incoming grad \S/);
  });

  test('shows each input gradient', () => {
    const { w1, b1, w2, loss } = mlp();
    const text = traceBackward(loss);
    loss.backward();

    const sent = (name: string, shape: string) => numbersIn(text.match(new RegExp(` {5}to ${name} ${shape.replace(/[[\]]/g, '\\$&')}: (\\[[^\\]]*\\])`))![1]);
    const cases: Array<[string, string, Tensor]> = [
      ['w1', '[2, 3]', w1],
      ['b1', '[2]', b1],
      ['w2', '[1, 2]', w2],
    ];
    for (const [name, shape, parameter] of cases) {
      const traced = sent(name, shape);
      valuesOf(parameter.grad!).forEach((g, i) => expect(traced[i]).toBeCloseTo(g, 4));
    }
    expect(text).toContain('     to x [2, 3]: none (no gradient needed)');
  });

  test('incoming gradient of the mean is one over the count', () => {
    const text = traceBackward(mlp().loss);
    expect(text).toContain('1. loss [] = mean(t3): incoming grad 1.\n     to t3 [2, 1]: [0.5000, 0.5000]');
    expect(text).toContain('2. t3 [2, 1] = square(t2): incoming grad');
    expect(text).toContain('3. t2 [2, 1] = linear(h, w2): incoming grad');
  });

  test('leaves .grad untouched and keeps the graph', () => {
    const { w1, loss } = mlp();
    traceBackward(loss);
    expect(w1.grad).toBeNull();
    loss.backward();
    expect(w1.grad).not.toBeNull();
  });

  test('output without gradients is rejected', () => {
    expect(() => traceBackward(tensor([1]).sum())).toThrow('traceBackward: the output does not require gradients, so there is no backward pass to trace');
  });

  test('non-scalar output without a seed is rejected', () => {
    expect(() => traceBackward(tensor([1, 2], { requiresGrad: true }).mul(2))).toThrow(/^traceBackward: the output has shape \[2\], not one element/);
  });
});
