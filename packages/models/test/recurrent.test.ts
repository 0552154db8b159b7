import { type Tensor, grad, gradcheck, gradgradcheck, noGrad, randn, slice, tensor, transpose } from '@metagrad/autodiff';
import { GRU, LSTM, RNN, type RecurrentBase, type RNNOptions, type SequenceOptions, functionalCall } from '@metagrad/models';
import { type EncodedTensor, decode, decodeState, expectMatches, loadCases, pairing } from './layers-reference';

interface RecurrentCase {
  name: string;
  kind: 'RNN' | 'LSTM' | 'GRU';
  numLayers?: number;
  nonlinearity?: 'tanh' | 'relu';
  bias?: boolean;
  batchFirst?: boolean;
  bidirectional?: boolean;
  lengths?: number[];
  inputSize: number;
  hiddenSize: number;
  state: Record<string, EncodedTensor>;
  input: EncodedTensor;
  initial: EncodedTensor[];
  outputs: EncodedTensor[];
  cotangents: EncodedTensor[];
  grads: { input: EncodedTensor; initial: EncodedTensor[]; parameters: Record<string, EncodedTensor> };
}

type Kind = RecurrentCase['kind'];

function build(kind: Kind, inputSize: number, hiddenSize: number, options: RNNOptions = {}): RecurrentBase {
  const settings: RNNOptions = { dtype: 'float64', ...options };
  if (kind === 'RNN') return new RNN(inputSize, hiddenSize, settings);
  if (kind === 'LSTM') return new LSTM(inputSize, hiddenSize, settings);
  return new GRU(inputSize, hiddenSize, settings);
}

/**
 * Runs any of the three layers, with `weights` in place of its parameters through
 * functionalCall, and returns [output, h_n] or [output, h_n, c_n] as the reference stores them.
 */
function run(layer: RecurrentBase, input: Tensor, initial: readonly Tensor[] = [], options: SequenceOptions = {}, weights: Record<string, Tensor> = {}): Tensor[] {
  if (layer instanceof LSTM) {
    const state = initial.length > 0 ? { hidden: initial[0], cell: initial[1] } : null;
    const { output, hidden, cell } = functionalCall(layer, weights, input, state, options);
    return [output, hidden, cell];
  }
  const { output, hidden } = functionalCall(layer as RNN, weights, input, initial[0] ?? null, options);
  return [output, hidden];
}

describe('recurrent layers against PyTorch', () => {
  const cases = loadCases<RecurrentCase>('recurrent.json');

  test.each(cases)('$name', (reference) => {
    const { kind, inputSize, hiddenSize, numLayers, nonlinearity, bias, batchFirst, bidirectional, lengths } = reference;
    const layer = build(kind, inputSize, hiddenSize, { numLayers, nonlinearity, bias, batchFirst, bidirectional });
    expect(layer.namedParameters().map(([name]) => name)).toEqual(Object.keys(reference.state));
    layer.loadStateDict(decodeState(reference.state));

    const input = decode(reference.input, true);
    const initial = reference.initial.map((encoded) => decode(encoded, true));
    const outputs = run(layer, input, initial, { lengths });
    outputs.forEach((output, i) => expectMatches(output, reference.outputs[i], `output ${i}`));

    pairing(outputs, reference.cotangents).backward();
    expectMatches(input.grad, reference.grads.input, 'input gradient');
    initial.forEach((state, i) => expectMatches(state.grad, reference.grads.initial[i], `initial state ${i} gradient`));
    for (const [name, parameter] of layer.namedParameters()) expectMatches(parameter.grad, reference.grads.parameters[name], `${name} gradient`);
  });
});

describe('recurrent parameters', () => {
  test('names and shapes follow PyTorch', () => {
    const lstm = new LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const shapes = Object.fromEntries(lstm.namedParameters().map(([name, p]) => [name, p.shape]));
    expect(shapes).toEqual({
      weight_ih_l0: [16, 3], weight_hh_l0: [16, 4], bias_ih_l0: [16], bias_hh_l0: [16],
      weight_ih_l0_reverse: [16, 3], weight_hh_l0_reverse: [16, 4], bias_ih_l0_reverse: [16], bias_hh_l0_reverse: [16],
      weight_ih_l1: [16, 8], weight_hh_l1: [16, 4], bias_ih_l1: [16], bias_hh_l1: [16],
      weight_ih_l1_reverse: [16, 8], weight_hh_l1_reverse: [16, 4], bias_ih_l1_reverse: [16], bias_hh_l1_reverse: [16],
    });
  });

  test.each<[Kind, number]>([['RNN', 1], ['LSTM', 4], ['GRU', 3]])('%s stacks %i gate blocks', (kind, gates) => {
    const layer = build(kind, 5, 2, { bias: false });
    expect(layer.namedParameters().map(([name, p]) => [name, p.shape])).toEqual([['weight_ih_l0', [2 * gates, 5]], ['weight_hh_l0', [2 * gates, 2]]]);
  });

  test('initial values lie in U(-1/sqrt(hidden), 1/sqrt(hidden))', () => {
    const lstm = new LSTM(6, 16, { numLayers: 2, seed: 3 });
    const values = lstm.parameters().flatMap((p) => Array.from(p.toTypedArray()));
    const bound = 1 / Math.sqrt(16);
    expect(Math.max(...values)).toBeLessThanOrEqual(bound);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...values)).toBeGreaterThan(0.9 * bound);
    expect(Math.min(...values)).toBeLessThan(-0.9 * bound);
  });

  test('same seed gives the same weights', () => {
    const first = new GRU(3, 4, { seed: 7 }).parameters().map((p) => Array.from(p.toTypedArray()));
    const second = new GRU(3, 4, { seed: 7 }).parameters().map((p) => Array.from(p.toTypedArray()));
    const other = new GRU(3, 4, { seed: 8 }).parameters().map((p) => Array.from(p.toTypedArray()));
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
  });

  test('describe lists the settings that differ from the defaults', () => {
    expect(new LSTM(3, 4).describe()).toBe('3, 4');
    expect(new RNN(3, 4, { numLayers: 2, nonlinearity: 'relu', batchFirst: true, bidirectional: true, dropout: 0.5 }).describe()).toBe(
      "3, 4, numLayers=2, batchFirst=true, dropout=0.5, bidirectional=true, nonlinearity='relu'",
    );
  });
});

/** Draws a float64 tensor of standard normal values from `seed`. */
function normal(shape: number[], seed: number, requiresGrad = false): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad });
}

/** Tiny inputs for finite differences: batch 2, 3 steps, input 2, hidden 3, and a random initial state. */
function tinyProblem(kind: Kind, options: RNNOptions) {
  const layer = build(kind, 2, 3, { seed: 1, ...options });
  const names = layer.namedParameters().map(([name]) => name);
  const weights = layer.parameters();
  const states = layer.numLayers * layer.numDirections;
  const input = normal(options.batchFirst ? [2, 3, 2] : [3, 2, 2], 2, true);
  const components = kind === 'LSTM' ? 2 : 1;
  const initial = Array.from({ length: components }, (_, i) => normal([states, 2, 3], 3 + i, true));

  /** The layer as a function of (input, ...initial state, ...parameters), for gradcheck. */
  const f = (x: Tensor, ...rest: Tensor[]): Tensor[] => {
    const replaced = Object.fromEntries(names.map((name, i) => [name, rest[components + i]]));
    return run(layer, x, rest.slice(0, components), {}, replaced);
  };
  return { layer, f, inputs: [input, ...initial, ...weights] };
}

describe('recurrent gradients', () => {
  const cases: Array<[string, Kind, RNNOptions]> = [
    ['LSTM, 2 bidirectional layers', 'LSTM', { numLayers: 2, bidirectional: true }],
    ['GRU, 2 bidirectional layers', 'GRU', { numLayers: 2, bidirectional: true }],
    ['RNN relu, batch first', 'RNN', { nonlinearity: 'relu', batchFirst: true }],
    ['RNN tanh, 2 layers without bias', 'RNN', { numLayers: 2, bias: false }],
  ];

  test.each(cases)('gradcheck: %s', (_name, kind, options) => {
    const { f, inputs } = tinyProblem(kind, options);
    expect(gradcheck(f, inputs)).toBe(true);
  });

  // Second derivatives are what MAML differentiates through; one layer keeps the check quick.
  test.each<Kind>(['LSTM', 'GRU'])('gradgradcheck: %s', (kind) => {
    const { f, inputs } = tinyProblem(kind, {});
    expect(gradgradcheck(f, inputs)).toBe(true);
  });

  test('gradients reach the first step of a long sequence', () => {
    const lstm = new LSTM(2, 3, { dtype: 'float64', seed: 5 });
    const input = normal([40, 1, 2], 6, true);
    lstm.forward(input).hidden.sum().backward();
    const first = Array.from(slice(input.grad!, 0).toTypedArray());
    expect(first.some((value) => value !== 0)).toBe(true);
  });
});

describe('recurrent functionalCall', () => {
  test.each<Kind>(['RNN', 'LSTM', 'GRU'])('%s matches the module and differentiates the passed tensors', (kind) => {
    const layer = build(kind, 2, 3, { seed: 4, numLayers: 2 });
    const input = normal([3, 2, 2], 5);
    const replaced = Object.fromEntries(layer.namedParameters().map(([name, p]) => [name, noGrad(() => p.mul(1.5)).detach().requiresGrad_(true)]));

    const functional = run(layer, input, [], {}, replaced);
    const twin = build(kind, 2, 3, { numLayers: 2 });
    twin.loadStateDict(replaced);
    const direct = run(twin, input);
    functional.forEach((value, i) => expect(Array.from(value.toTypedArray())).toEqual(Array.from(direct[i].toTypedArray())));

    const names = Object.keys(replaced);
    const loss = (outputs: Tensor[]) => outputs.map((value) => value.square().sum()).reduce((a, b) => a.add(b));
    const passedGrads = grad(loss(functional), names.map((name) => replaced[name]));
    loss(direct).backward();
    twin.namedParameters().forEach(([name, p], i) => {
      expect(names[i]).toBe(name);
      expect(Array.from(passedGrads[i].toTypedArray())).toEqual(Array.from(p.grad!.toTypedArray()));
    });
    expect(layer.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('recurrent layouts', () => {
  test.each<Kind>(['RNN', 'LSTM', 'GRU'])('%s batch first is the transposed time-major result', (kind) => {
    const timeMajor = build(kind, 2, 3, { seed: 9, bidirectional: true });
    const batchFirst = build(kind, 2, 3, { seed: 9, bidirectional: true, batchFirst: true });
    const input = normal([4, 3, 2], 1);
    const [expected, expectedHidden] = run(timeMajor, input);
    const [output, hidden] = run(batchFirst, transpose(input, 0, 1));
    expect(output.shape).toEqual([3, 4, 6]);
    expect(Array.from(output.toTypedArray())).toEqual(Array.from(transpose(expected, 0, 1).toTypedArray()));
    expect(Array.from(hidden.toTypedArray())).toEqual(Array.from(expectedHidden.toTypedArray()));
  });

  test('unbatched input equals a batch of one', () => {
    const lstm = new LSTM(2, 3, { dtype: 'float64', numLayers: 2, seed: 2 });
    const input = normal([5, 2], 3);
    const unbatched = lstm.forward(input);
    const batched = lstm.forward(input.unsqueeze(1));
    expect(unbatched.output.shape).toEqual([5, 3]);
    expect(unbatched.hidden.shape).toEqual([2, 3]);
    expect(Array.from(unbatched.output.toTypedArray())).toEqual(Array.from(batched.output.toTypedArray()));
    expect(Array.from(unbatched.cell.toTypedArray())).toEqual(Array.from(batched.cell.toTypedArray()));
  });

  test('the final state continues the sequence', () => {
    const gru = new GRU(2, 3, { dtype: 'float64', seed: 4 });
    const input = normal([6, 2, 2], 5);
    const whole = gru.forward(input);
    const firstHalf = gru.forward(input.narrow(0, 0, 3));
    const secondHalf = gru.forward(input.narrow(0, 3, 3), firstHalf.hidden);
    expect(Array.from(secondHalf.hidden.toTypedArray())).toEqual(Array.from(whole.hidden.toTypedArray()));
  });
});

describe('recurrent lengths', () => {
  const lengths = [5, 2, 3];

  test.each<[Kind, RNNOptions]>([
    ['LSTM', { numLayers: 2, bidirectional: true }],
    ['GRU', { batchFirst: true }],
    ['RNN', { bidirectional: true }],
  ])('%s ignores padding', (kind, options) => {
    const layer = build(kind, 2, 3, { seed: 3, ...options });
    const shape = options.batchFirst ? [3, 5, 2] : [5, 3, 2];
    const input = normal(shape, 1, true);
    const [output, ...finals] = run(layer, input, [], { lengths });

    lengths.forEach((length, row) => {
      // Each sequence alone, cut to its length, gives the same states.
      const alone = options.batchFirst ? input.narrow(0, row, 1).narrow(1, 0, length) : input.narrow(1, row, 1).narrow(0, 0, length);
      const [aloneOutput, ...aloneFinals] = run(layer, alone);
      const rowOutput = options.batchFirst ? output.narrow(0, row, 1) : output.narrow(1, row, 1);
      const valid = options.batchFirst ? rowOutput.narrow(1, 0, length) : rowOutput.narrow(0, 0, length);
      expectCloseValues(valid, aloneOutput);
      finals.forEach((final, i) => expectCloseValues(final.narrow(1, row, 1), aloneFinals[i]));

      const padded = options.batchFirst ? rowOutput.narrow(1, length, 5 - length) : rowOutput.narrow(0, length, 5 - length);
      expect(Array.from(padded.toTypedArray()).every((value) => value === 0)).toBe(true);
    });

    [output, ...finals].map((value) => value.sum()).reduce((a, b) => a.add(b)).backward();
    lengths.forEach((length, row) => {
      const rowGrad = options.batchFirst ? input.grad!.narrow(0, row, 1) : input.grad!.narrow(1, row, 1);
      const padded = options.batchFirst ? rowGrad.narrow(1, length, 5 - length) : rowGrad.narrow(0, length, 5 - length);
      expect(Array.from(padded.toTypedArray()).every((value) => value === 0)).toBe(true);
    });
  });

  test.each<[Kind, RNNOptions]>([
    ['LSTM', { numLayers: 2, bidirectional: true }],
    ['GRU', { batchFirst: true }],
  ])('%s: NaN in padding reaches no gradient', (kind, options) => {
    const layer = build(kind, 2, 3, { seed: 4, ...options });
    const values = normal(options.batchFirst ? [3, 5, 2] : [5, 3, 2], 5).toTypedArray();
    lengths.forEach((length, row) => {
      for (let t = length; t < 5; t++) {
        const at = options.batchFirst ? (row * 5 + t) * 2 : (t * 3 + row) * 2;
        values[at] = NaN;
      }
    });
    const input = tensor(values, { shape: options.batchFirst ? [3, 5, 2] : [5, 3, 2], requiresGrad: true });

    const [output] = run(layer, input, [], { lengths });
    output.sum().backward();

    for (const parameter of layer.parameters()) expect(Array.from(parameter.grad!.toTypedArray()).every(Number.isFinite)).toBe(true);
    expect(Array.from(output.toTypedArray()).every(Number.isFinite)).toBe(true);
  });

  test('null lengths mean no padding', () => {
    const lstm = new LSTM(2, 3, { dtype: 'float64', seed: 8 });
    const input = normal([4, 2, 2], 2);

    expect(Array.from(lstm.forward(input, null, { lengths: null }).output.toTypedArray())).toEqual(Array.from(lstm.forward(input).output.toTypedArray()));
  });

  test('full lengths change nothing', () => {
    const lstm = new LSTM(2, 3, { dtype: 'float64', seed: 8, bidirectional: true });
    const input = normal([4, 2, 2], 2);
    const plain = lstm.forward(input);
    const masked = lstm.forward(input, null, { lengths: [4, 4] });
    expect(Array.from(masked.output.toTypedArray())).toEqual(Array.from(plain.output.toTypedArray()));
    expect(Array.from(masked.hidden.toTypedArray())).toEqual(Array.from(plain.hidden.toTypedArray()));
  });

  test('lengths as a tensor', () => {
    const gru = new GRU(2, 3, { dtype: 'float64', seed: 8 });
    const input = normal([4, 2, 2], 2);
    const fromList = gru.forward(input, null, { lengths: [3, 1] });
    const fromTensor = gru.forward(input, null, { lengths: tensor([3, 1]) });
    expect(Array.from(fromTensor.hidden.toTypedArray())).toEqual(Array.from(fromList.hidden.toTypedArray()));
  });

  test.each([
    [[4, 0], /length 0 of sequence 1 must be an integer in \[1, 4\]/],
    [[5, 1], /length 5 of sequence 0/],
    [[2.5, 1], /length 2.5/],
    [[1, 2, 3], /got 3 lengths for a batch of 2 sequences/],
  ])('lengths %j are rejected', (bad, message) => {
    const rnn = new RNN(2, 3, { dtype: 'float64' });
    expect(() => rnn.forward(normal([4, 2, 2], 1), null, { lengths: bad })).toThrow(message);
  });
});

describe('recurrent dropout', () => {
  test('applies between layers in training mode only', () => {
    const withDropout = new LSTM(2, 3, { dtype: 'float64', numLayers: 2, dropout: 0.5, seed: 1 });
    const without = new LSTM(2, 3, { dtype: 'float64', numLayers: 2, seed: 1 });
    const input = normal([4, 2, 2], 3);
    const reference = Array.from(without.forward(input).output.toTypedArray());
    expect(Array.from(withDropout.forward(input).output.toTypedArray())).not.toEqual(reference);
    withDropout.eval();
    expect(Array.from(withDropout.forward(input).output.toTypedArray())).toEqual(reference);
  });
});

describe('recurrent input checks', () => {
  const lstm = new LSTM(2, 3, { dtype: 'float64', numLayers: 2 });

  test('wrong feature size', () => {
    expect(() => lstm.forward(normal([4, 2, 5], 1))).toThrow('LSTM: input must be [T, N, inputSize] or unbatched [T, inputSize] with inputSize 2, got [4, 2, 5]');
  });

  test('empty sequence', () => {
    expect(() => lstm.forward(normal([0, 2, 2], 1))).toThrow('LSTM: input [0, 2, 2] is empty; it needs at least one step and one sequence');
  });

  test('wrong initial state shape', () => {
    const state = { hidden: normal([1, 2, 3], 1), cell: normal([2, 2, 3], 2) };
    expect(() => lstm.forward(normal([4, 2, 2], 1), state)).toThrow(/initial state must have shape \[2, 2, 3\].*got \[1, 2, 3\]/);
  });

  test('initial state with one part', () => {
    const hidden = normal([2, 2, 3], 1);
    expect(() => lstm.forward(normal([4, 2, 2], 1), { hidden } as never)).toThrow('LSTM: the initial state has hidden but no cell state; pass both { hidden, cell } or neither');
    expect(() => lstm.forward(normal([4, 2, 2], 1), { cell: hidden } as never)).toThrow('LSTM: the initial state has cell but no hidden state; pass both { hidden, cell } or neither');
  });

  test('input dtype differs from the weights', () => {
    expect(() => lstm.forward(randn([4, 2, 2]))).toThrow("LSTM: the input is float32 but the weights are float64; convert it with .to('float64')");
  });

  test.each([
    [{ numLayers: 0 }, /numLayers must be a positive integer, got 0/],
    [{ dropout: 1.5 }, /dropout must be a probability in \[0, 1\], got 1.5/],
    [{ nonlinearity: 'sigmoid' }, /nonlinearity must be 'tanh' or 'relu', got 'sigmoid'/],
  ])('options %j are rejected', (options, message) => {
    expect(() => new RNN(2, 3, options as RNNOptions)).toThrow(message);
  });
});

/** Asserts that two tensors of the same size agree to float64 rounding. */
function expectCloseValues(actual: Tensor, expected: Tensor): void {
  const a = actual.toTypedArray();
  const e = expected.toTypedArray();
  expect(a.length).toBe(e.length);
  e.forEach((value, i) => expect(Math.abs(a[i] - value)).toBeLessThanOrEqual(1e-12 + 1e-10 * Math.abs(value)));
}
