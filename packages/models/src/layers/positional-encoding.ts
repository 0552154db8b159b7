/**
 * Positional encodings: attention itself ignores the order of its inputs, so a Transformer adds
 * a vector that depends on each position to the token embeddings.
 */
import { type Tensor, add, narrow, reshape, zeros } from '@metagrad/autodiff';
import { type Dtype, formatShape } from '@metagrad/kernels';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';

/** Options of the positional encodings. */
export interface PositionalEncodingOptions {
  /** Inputs are [N, L, dModel] when true, [L, N, dModel] when false (the default, as PyTorch's Transformer layers). */
  batchFirst?: boolean;
}

function checkSizes(caller: string, maxLen: number, dModel: number): void {
  for (const [name, value] of [['maxLen', maxLen], ['dModel', dModel]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${caller}: ${name} must be a positive integer, got ${value}`);
  }
}

/** Adds the first L rows of a [maxLen, dModel] table to x, with L the sequence length of x. */
function addPositions(caller: string, x: Tensor, table: Tensor, batchFirst: boolean): Tensor {
  const [maxLen, dModel] = table.shape;
  if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== dModel) {
    const layout = batchFirst ? '[N, L, dModel]' : '[L, N, dModel]';
    throw new Error(`${caller}: input ${formatShape(x.shape)} must be ${layout} or [L, dModel] with dModel ${dModel}`);
  }
  const sequenceAxis = x.ndim === 3 && batchFirst ? 1 : 0;
  const length = x.shape[sequenceAxis];
  if (length > maxLen) throw new Error(`${caller}: sequence length ${length} exceeds maxLen ${maxLen}; build the layer with a larger maxLen`);

  const rows = narrow(table, 0, 0, length);
  const positions = x.ndim === 3 && !batchFirst ? reshape(rows, [length, 1, dModel]) : rows;
  return add(x, positions.to(x.dtype));
}

/**
 * The fixed encoding of "Attention Is All You Need" (Vaswani et al., 2017), stored as the
 * buffer `pe` [maxLen, dModel]: pe[pos, 2i] = sin(pos / 10000^(2i / dModel)) and
 * pe[pos, 2i + 1] = cos(pos / 10000^(2i / dModel)). It has no parameters.
 *
 * new SinusoidalPositionalEncoding(4, 10).forward(zeros([3, 4])) is rows 0..2 of the table:
 * row 0 is [0, 1, 0, 1].
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly batchFirst: boolean;

  constructor(readonly dModel: number, readonly maxLen = 5000, options: PositionalEncodingOptions & { dtype?: Dtype } = {}) {
    super();
    checkSizes('SinusoidalPositionalEncoding', maxLen, dModel);
    this.batchFirst = options.batchFirst ?? false;

    const table = zeros([maxLen, dModel], { dtype: options.dtype ?? 'float32' });
    for (let position = 0; position < maxLen; position++) {
      for (let i = 0; i < dModel; i += 2) {
        const angle = position / Math.pow(10000, i / dModel);
        table.data[position * dModel + i] = Math.sin(angle);
        if (i + 1 < dModel) table.data[position * dModel + i + 1] = Math.cos(angle);
      }
    }
    this.registerBuffer('pe', table);
  }

  /** Returns x plus the encoding of each position along its sequence axis. */
  forward(x: Tensor): Tensor {
    return addPositions('SinusoidalPositionalEncoding', x, this.buffer('pe'), this.batchFirst);
  }

  override describe(): string {
    return `dModel=${this.dModel}, maxLen=${this.maxLen}, batchFirst=${this.batchFirst}`;
  }
}

/**
 * A learned vector per position, stored as the parameter `weight` [maxLen, dModel] and drawn
 * from N(0, 1) like torch.nn.Embedding, whose state dict it matches (GPT-2's position table is
 * such an embedding).
 *
 * new LearnedPositionalEmbedding(16, 8, { batchFirst: true }).forward(x) adds weight[0..L-1] to x [N, L, 8].
 */
export class LearnedPositionalEmbedding extends Module {
  readonly batchFirst: boolean;

  constructor(readonly maxLen: number, readonly dModel: number, options: PositionalEncodingOptions & LayerOptions = {}) {
    super();
    checkSizes('LearnedPositionalEmbedding', maxLen, dModel);
    this.batchFirst = options.batchFirst ?? false;
    const generator = layerGenerator(options);
    const weight = init.normal(zeros([maxLen, dModel], { dtype: options.dtype ?? 'float32' }), 0, 1, { generator });
    this.registerParameter('weight', weight);
  }

  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** Returns x plus the learned vector of each position along its sequence axis. */
  forward(x: Tensor): Tensor {
    return addPositions('LearnedPositionalEmbedding', x, this.weight, this.batchFirst);
  }

  override describe(): string {
    return `maxLen=${this.maxLen}, dModel=${this.dModel}, batchFirst=${this.batchFirst}`;
  }
}
