/**
 * Recurrent layers RNN, LSTM and GRU, with PyTorch's parameter names, layouts, gate orders and
 * initialisation, so that a torch.nn.LSTM state dict loads unchanged.
 *
 * Each layer and direction projects the input of every time step at once with one `linear`
 * ([T, N, input] x W_ihᵀ). RNN and GRU then run one `linear` per step for the recurrent part,
 * h x W_hhᵀ, and a cell of differentiable ops. LSTM runs all its steps as one op,
 * `lstmSequence`, whose backward pass computes the recurrent weight's gradient once for the
 * whole sequence. Either way backpropagation runs through the whole sequence, and gradients of
 * gradients work as well.
 */
import {
  type Generator, type SliceSpec, type Tensor, add, concat, dropout, linear, lstmSequence, narrow, slice, squeeze, stack, transpose, unsqueeze,
  where, zeros,
} from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';
import { type RecurrentCell, elmanCell, gruCell, lstmCell } from './recurrent-cells';

/** Options shared by RNN, LSTM and GRU, with torch.nn.RNN's defaults. */
export interface RecurrentOptions extends LayerOptions {
  /** Number of stacked layers; layer k + 1 reads the output of layer k. Default 1. */
  numLayers?: number;
  /** Whether to add the biases bias_ih and bias_hh. Default true. */
  bias?: boolean;
  /** Whether input and output are [N, T, features] instead of [T, N, features]. Default false. */
  batchFirst?: boolean;
  /** Whether to run a second pass from the last step to the first and concatenate both outputs. Default false. */
  bidirectional?: boolean;
  /** Dropout probability on the output of every layer except the last, in training mode only. Default 0. */
  dropout?: number;
}

/** Options of `RNN`: those of every recurrent layer, plus the nonlinearity. */
export interface RNNOptions extends RecurrentOptions {
  /** Activation of the hidden state. Default 'tanh'. */
  nonlinearity?: 'tanh' | 'relu';
}

/** Per-call options of a recurrent layer's forward. */
export interface SequenceOptions {
  /**
   * Number of valid steps of each sequence in the batch, each in [1, T]. Steps at or after a
   * sequence's length are padding: they leave its state unchanged and get zeros in the output,
   * as PyTorch's packed sequences do.
   */
  lengths?: ArrayLike<number> | Tensor | null;
}

/** The result of RNN and GRU: every step's top-layer hidden state, and each layer's last state. */
export interface RecurrentOutput {
  /** [T, N, numDirections * hiddenSize], or [N, T, ...] with batchFirst; [T, ...] for unbatched input. */
  output: Tensor;
  /** Last hidden state of every layer and direction: [numLayers * numDirections, N, hiddenSize]. */
  hidden: Tensor;
}

/** An LSTM's state: hidden state h and cell state c, each [numLayers * numDirections, N, hiddenSize]. */
export interface LSTMState {
  hidden: Tensor;
  cell: Tensor;
}

/** The result of LSTM: the output, and the last hidden and cell states (PyTorch's h_n and c_n). */
export interface LSTMOutput extends LSTMState {
  output: Tensor;
}

/** The weights of one layer in one direction, read at call time so that functionalCall can replace them. */
interface DirectionWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

/** Options of one layer's run in one direction. */
interface DirectionOptions {
  /** 0 for [T, N, features], 1 for [N, T, features]. */
  timeAxis: number;
  /** Run from the last step to the first. */
  reverse: boolean;
  masks: StepMasks | null;
}

/** Masks of the batch rows that are still inside their sequence at each step, made from `lengths`. */
interface StepMasks {
  /** The number of valid steps of each row. */
  lengths: number[];
  /** The first step at which some sequence is padding; steps before it need no mask. */
  firstPadded: number;
  /** mask(t) is [N, 1], 1 where step t is inside the row's sequence and 0 where it is padding. */
  mask: (t: number) => Tensor;
}

/**
 * The machinery shared by RNN, LSTM and GRU, as torch.nn.RNNBase: parameters per layer and
 * direction, the loop over layers, directions and steps, and the checks of shapes.
 * A subclass gives the number of gates and the cell that computes one step.
 */
export abstract class RecurrentBase extends Module {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly bidirectional: boolean;
  readonly dropout: number;
  private readonly dropoutGenerator: Generator;

  /** `gates` is the number of [hidden]-sized gate blocks stacked in each weight: 1 for RNN, 4 for LSTM, 3 for GRU. */
  constructor(readonly inputSize: number, readonly hiddenSize: number, gates: number, options: RecurrentOptions) {
    super();
    this.numLayers = options.numLayers ?? 1;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.bidirectional = options.bidirectional ?? false;
    this.dropout = options.dropout ?? 0;
    checkSizes(this.constructor.name, inputSize, hiddenSize, this.numLayers, this.dropout);

    // PyTorch registers, layer by layer and direction by direction, weight_ih, weight_hh,
    // bias_ih, bias_hh, and draws every one from U(-1/sqrt(hidden), 1/sqrt(hidden)) in that order.
    const generator = layerGenerator(options);
    const dtype = options.dtype ?? 'float32';
    const bound = 1 / Math.sqrt(hiddenSize);
    const draw = (shape: number[]) => init.uniform(zeros(shape, { dtype }), -bound, bound, { generator });
    for (let layer = 0; layer < this.numLayers; layer++) {
      const layerInput = layer === 0 ? inputSize : hiddenSize * this.numDirections;
      for (let direction = 0; direction < this.numDirections; direction++) {
        const suffix = parameterSuffix(layer, direction);
        this.registerParameter(`weight_ih${suffix}`, draw([gates * hiddenSize, layerInput]));
        this.registerParameter(`weight_hh${suffix}`, draw([gates * hiddenSize, hiddenSize]));
        if (this.bias) {
          this.registerParameter(`bias_ih${suffix}`, draw([gates * hiddenSize]));
          this.registerParameter(`bias_hh${suffix}`, draw([gates * hiddenSize]));
        }
      }
    }
    this.dropoutGenerator = generator.fork();
  }

  /** 2 for a bidirectional layer, 1 otherwise. */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** The cell that computes one step of this layer. */
  protected abstract get cell(): RecurrentCell;

  override describe(): string {
    const extras = [
      this.numLayers !== 1 ? `numLayers=${this.numLayers}` : '',
      !this.bias ? 'bias=false' : '',
      this.batchFirst ? 'batchFirst=true' : '',
      this.dropout !== 0 ? `dropout=${this.dropout}` : '',
      this.bidirectional ? 'bidirectional=true' : '',
    ].filter(Boolean);
    return [`${this.inputSize}, ${this.hiddenSize}`, ...extras].join(', ');
  }

  /**
   * Runs every layer and direction over the sequence. `initial` has one tensor per state
   * component (h, or h and c), each [numLayers * numDirections, N, hidden], or null for zeros.
   * Returns the top layer's output and the last state of every layer and direction.
   */
  protected run(input: Tensor, initial: ReadonlyArray<Tensor | null>, options: SequenceOptions): { output: Tensor; finals: Tensor[] } {
    const unbatched = this.checkInput(input);
    if (unbatched && options.lengths != null) {
      throw new Error(`${this.constructor.name}: lengths need a batch axis, but the input ${formatShape(input.shape)} is unbatched`);
    }
    const batched = unbatched ? unsqueeze(input, 1) : input;
    const timeAxis = this.batchFirst && !unbatched ? 1 : 0;
    const steps = batched.shape[timeAxis];
    const batchSize = batched.shape[1 - timeAxis];
    const states = initial.map((state) => (state === null ? null : this.checkState(state, batchSize, unbatched)));
    const masks = options.lengths == null ? null : stepMasks(this.constructor.name, options.lengths, steps, batchSize, input);

    // Padded positions are zeroed before the input projection, which covers every step: a NaN there
    // would otherwise reach W_ih's gradient as 0 * NaN, though the step itself is skipped.
    let layerInput = masks ? where(paddingMask(masks.lengths, steps, batchSize, input, timeAxis), batched, 0) : batched;
    const finals: Tensor[][] = initial.map(() => []);
    for (let layer = 0; layer < this.numLayers; layer++) {
      const outputs: Tensor[] = [];
      for (let direction = 0; direction < this.numDirections; direction++) {
        const index = layer * this.numDirections + direction;
        const start = states.map((state) => (state === null ? zeros([batchSize, this.hiddenSize], { dtype: input.dtype }) : slice(state, index)));
        const result = this.runDirection(layerInput, this.weights(layer, direction), start, { timeAxis, reverse: direction === 1, masks });
        outputs.push(result.output);
        result.final.forEach((state, component) => finals[component].push(state));
      }

      layerInput = outputs.length === 1 ? outputs[0] : concat(outputs, 2);
      const isLast = layer === this.numLayers - 1;
      if (!isLast && this.dropout > 0) {
        layerInput = dropout(layerInput, this.dropout, { training: this.training, generator: this.dropoutGenerator });
      }
    }

    const stacked = finals.map((list) => stack(list, 0));
    if (!unbatched) return { output: layerInput, finals: stacked };
    return { output: squeeze(layerInput, 1), finals: stacked.map((state) => squeeze(state, 1)) };
  }

  /** Runs one layer in one direction and returns every step's hidden state, stacked on the time axis, and the last state. */
  protected runDirection(input: Tensor, weights: DirectionWeights, start: Tensor[], how: DirectionOptions): { output: Tensor; final: Tensor[] } {
    // One product for all steps; unstack splits it into the [N, gates * hidden] rows of each step.
    const projected = unstack(linear(input, weights.weightIh, weights.biasIh), how.timeAxis);
    const steps = projected.length;
    const outputs = new Array<Tensor>(steps);
    let state = start;

    for (let i = 0; i < steps; i++) {
      const t = how.reverse ? steps - 1 - i : i;
      let next = this.cell(projected[t], state, weights.weightHh, weights.biasHh);
      let output = next[0];

      // A padded step keeps the previous state and outputs zeros, so padding changes nothing.
      if (how.masks && t >= how.masks.firstPadded) {
        const mask = how.masks.mask(t);
        const previous = state;
        next = next.map((value, component) => where(mask, value, previous[component]));
        output = where(mask, output, 0);
      }
      outputs[t] = output;
      state = next;
    }
    return { output: stack(outputs, how.timeAxis), final: state };
  }

  /** Reads the parameters of one layer in one direction. */
  private weights(layer: number, direction: number): DirectionWeights {
    const suffix = parameterSuffix(layer, direction);
    return {
      weightIh: this.parameter(`weight_ih${suffix}`),
      weightHh: this.parameter(`weight_hh${suffix}`),
      biasIh: this.bias ? this.parameter(`bias_ih${suffix}`) : null,
      biasHh: this.bias ? this.parameter(`bias_hh${suffix}`) : null,
    };
  }

  /** Throws unless the input is [T, N, input] ([N, T, input] with batchFirst) or [T, input]; returns whether it is unbatched. */
  private checkInput(input: Tensor): boolean {
    const layout = this.batchFirst ? '[N, T, inputSize]' : '[T, N, inputSize]';
    if ((input.ndim !== 2 && input.ndim !== 3) || input.shape[input.ndim - 1] !== this.inputSize) {
      throw new Error(
        `${this.constructor.name}: input must be ${layout} or unbatched [T, inputSize] with inputSize ${this.inputSize}, got ${formatShape(input.shape)}`,
      );
    }
    if (input.size === 0) {
      throw new Error(`${this.constructor.name}: input ${formatShape(input.shape)} is empty; it needs at least one step and one sequence`);
    }
    const dtype = this.parameter(`weight_ih${parameterSuffix(0, 0)}`).dtype;
    if (input.dtype !== dtype) {
      throw new Error(`${this.constructor.name}: the input is ${input.dtype} but the weights are ${dtype}; convert it with .to('${dtype}')`);
    }
    return input.ndim === 2;
  }

  /** Throws unless an initial state has shape [numLayers * numDirections, N, hidden]; returns it with the batch axis. */
  private checkState(state: Tensor, batchSize: number, unbatched: boolean): Tensor {
    const layers = this.numLayers * this.numDirections;
    const expected = unbatched ? [layers, this.hiddenSize] : [layers, batchSize, this.hiddenSize];
    const fits = state.ndim === expected.length && state.shape.every((dim, i) => dim === expected[i]);
    if (!fits) {
      throw new Error(
        `${this.constructor.name}: the initial state must have shape ${formatShape(expected)} ` +
          `(numLayers * numDirections, batch, hiddenSize), got ${formatShape(state.shape)}`,
      );
    }
    return unbatched ? unsqueeze(state, 1) : state;
  }
}

/**
 * Elman RNN, as torch.nn.RNN: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) with act tanh or relu.
 * Weights [hidden, input] and [hidden, hidden].
 *
 * const rnn = new RNN(4, 8); const { output, hidden } = rnn.forward(x); // x [T, N, 4] -> output [T, N, 8], hidden [1, N, 8]
 */
export class RNN extends RecurrentBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    super(inputSize, hiddenSize, 1, options);
    this.nonlinearity = options.nonlinearity ?? 'tanh';
    if (this.nonlinearity !== 'tanh' && this.nonlinearity !== 'relu') {
      throw new Error(`RNN: nonlinearity must be 'tanh' or 'relu', got '${String(this.nonlinearity)}'`);
    }
  }

  protected get cell(): RecurrentCell {
    return elmanCell(this.nonlinearity);
  }

  /** Runs the sequence from `hidden` ([numLayers * numDirections, N, hidden], zeros when absent). */
  forward(input: Tensor, hidden?: Tensor | null, options: SequenceOptions = {}): RecurrentOutput {
    const { output, finals } = this.run(input, [hidden ?? null], options);
    return { output, hidden: finals[0] };
  }

  override describe(): string {
    return this.nonlinearity === 'tanh' ? super.describe() : `${super.describe()}, nonlinearity='relu'`;
  }
}

/**
 * Long short-term memory, as torch.nn.LSTM. The gates are stacked in PyTorch's order i, f, g, o
 * in weights [4 * hidden, input] and [4 * hidden, hidden]:
 * i, f, o = sigmoid(...), g = tanh(...), c' = f * c + i * g, h' = o * tanh(c').
 *
 * const lstm = new LSTM(4, 8, { numLayers: 2 });
 * const { output, hidden, cell } = lstm.forward(x); // x [T, N, 4] -> output [T, N, 8], hidden and cell [2, N, 8]
 */
export class LSTM extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 4, options);
  }

  protected get cell(): RecurrentCell {
    return lstmCell;
  }

  /**
   * Runs every step of one direction as one lstmSequence op instead of a loop of cells. The op
   * works time-first, so a batch-first input is projected through a transposed view.
   */
  protected override runDirection(input: Tensor, weights: DirectionWeights, start: Tensor[], how: DirectionOptions): { output: Tensor; final: Tensor[] } {
    // The input is transposed instead of the projection, because the input is usually much
    // narrower than 4H. The projection and its gradient are then contiguous [T, N, 4H] arrays.
    const timeFirst = linear(how.timeAxis === 0 ? input : transpose(input, 0, 1), weights.weightIh);

    // Both biases enter as one [4H] sum in the cell, instead of b_ih being added to every row of the
    // projection and its gradient summed over all of them again.
    const bias = weights.biasIh && weights.biasHh ? add(weights.biasIh, weights.biasHh) : null;
    const states = lstmSequence(timeFirst, weights.weightHh, bias, start[0], start[1], { lengths: how.masks?.lengths, reverse: how.reverse });
    const [steps, rows] = timeFirst.shape;
    const size = this.hiddenSize;

    // Padded steps output zeros; the state they carried through is still the final state.
    let output = narrow(states, 2, 0, size);
    if (how.masks) output = where(paddingMask(how.masks.lengths, steps, rows, input, 0), output, 0);
    const last = slice(states, how.reverse ? 0 : steps - 1);
    return {
      output: how.timeAxis === 0 ? output : transpose(output, 0, 1),
      final: [narrow(last, 1, 0, size), narrow(last, 1, size, size)],
    };
  }

  /** Runs the sequence from `state` (zeros when absent); the result can be passed back as the next state. */
  forward(input: Tensor, state?: LSTMState | null, options: SequenceOptions = {}): LSTMOutput {
    if (state != null && (state.hidden == null) !== (state.cell == null)) {
      const [present, missing] = state.hidden == null ? ['cell', 'hidden'] : ['hidden', 'cell'];
      throw new Error(`LSTM: the initial state has ${present} but no ${missing} state; pass both { hidden, cell } or neither`);
    }
    const { output, finals } = this.run(input, [state?.hidden ?? null, state?.cell ?? null], options);
    return { output, hidden: finals[0], cell: finals[1] };
  }
}

/**
 * Gated recurrent unit, as torch.nn.GRU. The gates are stacked in PyTorch's order r, z, n in
 * weights [3 * hidden, input] and [3 * hidden, hidden]:
 * r, z = sigmoid(...), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
 *
 * const gru = new GRU(4, 8); const { output, hidden } = gru.forward(x); // output [T, N, 8], hidden [1, N, 8]
 */
export class GRU extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 3, options);
  }

  protected get cell(): RecurrentCell {
    return gruCell;
  }

  /** Runs the sequence from `hidden` ([numLayers * numDirections, N, hidden], zeros when absent). */
  forward(input: Tensor, hidden?: Tensor | null, options: SequenceOptions = {}): RecurrentOutput {
    const { output, finals } = this.run(input, [hidden ?? null], options);
    return { output, hidden: finals[0] };
  }
}

/** PyTorch's parameter name suffix: `_l0`, `_l1`, ... and `_reverse` for the backward direction. */
function parameterSuffix(layer: number, direction: number): string {
  return `_l${layer}${direction === 1 ? '_reverse' : ''}`;
}

function checkSizes(layer: string, inputSize: number, hiddenSize: number, numLayers: number, dropoutProbability: number): void {
  for (const [name, value] of [['inputSize', inputSize], ['hiddenSize', hiddenSize], ['numLayers', numLayers]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${layer}: ${name} must be a positive integer, got ${value}`);
  }
  if (!(dropoutProbability >= 0 && dropoutProbability <= 1)) {
    throw new Error(`${layer}: dropout must be a probability in [0, 1], got ${dropoutProbability}`);
  }
}

/** Checks `lengths` and returns the per-step masks of the rows that are still inside their sequence. */
function stepMasks(layer: string, lengths: ArrayLike<number> | Tensor, steps: number, batchSize: number, like: Tensor): StepMasks {
  const values = Array.from('toTypedArray' in lengths ? lengths.toTypedArray() : lengths);
  if (values.length !== batchSize) {
    throw new Error(`${layer}: got ${values.length} lengths for a batch of ${batchSize} sequences; give one length per sequence`);
  }
  values.forEach((length, row) => {
    // PyTorch's pack_padded_sequence rejects empty sequences too.
    if (!Number.isInteger(length) || length < 1 || length > steps) {
      throw new Error(`${layer}: length ${length} of sequence ${row} must be an integer in [1, ${steps}], the number of steps`);
    }
  });

  return {
    lengths: values,
    firstPadded: Math.min(...values),
    mask: (t) => {
      const mask = zeros([batchSize, 1], { dtype: like.dtype });
      values.forEach((length, row) => {
        if (t < length) mask.data[row] = 1;
      });
      return mask;
    },
  };
}

/**
 * Returns a mask that is 1 where step t is inside row n's sequence and 0 where it is padding:
 * [T, N, 1] for timeAxis 0, [N, T, 1] for timeAxis 1.
 */
function paddingMask(lengths: readonly number[], steps: number, rows: number, like: Tensor, timeAxis: number): Tensor {
  const mask = zeros(timeAxis === 0 ? [steps, rows, 1] : [rows, steps, 1], { dtype: like.dtype });
  for (let t = 0; t < steps; t++) {
    for (let n = 0; n < rows; n++) {
      const at = timeAxis === 0 ? t * rows + n : n * steps + t;
      mask.data[at] = t < lengths[n] ? 1 : 0;
    }
  }
  return mask;
}

/**
 * Splits x along `axis` into its slices, with the axis removed. It halves x recursively
 * instead of slicing every step from x, because the VJP of a slice scatters the gradient into
 * zeros of the parent's shape. Slicing all T steps from x would move O(T²) elements in
 * backward, and halving moves O(T log T).
 */
function unstack(x: Tensor, axis: number): Tensor[] {
  const length = x.shape[axis];
  if (length === 1) {
    const specs: SliceSpec[] = x.shape.map((_, i) => (i === axis ? 0 : null));
    return [slice(x, ...specs)];
  }
  const half = Math.floor(length / 2);
  return [...unstack(narrow(x, axis, 0, half), axis), ...unstack(narrow(x, axis, half, length - half), axis)];
}
