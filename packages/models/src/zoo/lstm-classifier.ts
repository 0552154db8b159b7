/** A sequence classifier: token embedding, a stacked LSTM and a linear head on the last state. */
import { Generator, type Tensor, slice } from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';
import { Module } from '../module';
import type { LayerOptions } from '../layers/common';
import { Dropout } from '../layers/dropout';
import { Embedding } from '../layers/embedding';
import { Linear } from '../layers/linear';
import { LSTM } from '../layers/recurrent';

/** Options of `lstmClassifier`. */
export interface LSTMClassifierOptions extends LayerOptions {
  /** Number of token ids. Default 10000. */
  vocabSize?: number;
  /** Size of each token's embedding. Default 64. */
  embedDim?: number;
  /** Hidden size of every LSTM layer. Default 64. */
  hiddenSize?: number;
  /** Number of stacked LSTM layers. Default 2. */
  numLayers?: number;
  numClasses: number;
  /** Dropout probability on the embeddings, between stacked LSTM layers and before the head, in training mode. Default 0. */
  dropout?: number;
  /** Token id of padding, whose embedding stays zero. Default 0. */
  paddingIdx?: number;
}

/**
 * Tokens [N, T] -> embedding [N, T, embedDim] -> LSTM (numLayers, batch first) -> the top
 * layer's hidden state after each sequence's last real token -> linear -> logits [N, numClasses].
 * With `dropout`, the embeddings and the head's input pass through dropout in training mode.
 * Parameter names match a PyTorch module with attributes embedding, lstm and head.
 */
export class LSTMClassifier extends Module {
  readonly embedding: Embedding;
  readonly lstm: LSTM;
  readonly head: Linear;
  readonly dropout: Dropout;

  constructor(options: LSTMClassifierOptions) {
    super();
    const generator = options.generator ?? new Generator(options.seed ?? 0);
    const layer = { generator, dtype: options.dtype };
    const embedDim = options.embedDim ?? 64;
    const hiddenSize = options.hiddenSize ?? 64;
    this.embedding = this.registerModule('embedding', new Embedding(options.vocabSize ?? 10000, embedDim, { ...layer, paddingIdx: options.paddingIdx ?? 0 }));
    const dropout = options.dropout ?? 0;
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      throw new Error(`lstmClassifier: dropout must be a number of at least 0 and below 1 (1 would drop every input), got ${typeof dropout === 'string' ? JSON.stringify(dropout) : String(dropout)}`);
    }
    this.lstm = this.registerModule('lstm', new LSTM(embedDim, hiddenSize, { ...layer, numLayers: options.numLayers ?? 2, batchFirst: true, dropout }));
    this.head = this.registerModule('head', new Linear(hiddenSize, options.numClasses, layer));
    // Registered last, so that the weights are initialised as without it.
    this.dropout = this.registerModule('dropout', new Dropout(dropout, layer));
  }

  /**
   * Returns logits [N, numClasses] for token ids [N, T]. Sequences are right-padded: unless
   * `lengths` are given, each row's length ends at its last token that is not padding, and a
   * row of padding only is an error. Padding positions then change nothing.
   */
  forward(tokens: Tensor | number[][], options: { lengths?: ArrayLike<number> } = {}): Tensor {
    const lengths = options.lengths ?? this.trailingPaddingLengths(tokens);
    const embedded = this.dropout.forward(this.embedding.forward(tokens));
    const { hidden } = this.lstm.forward(embedded, null, { lengths });
    return this.head.forward(this.dropout.forward(slice(hidden, this.lstm.numLayers - 1)));
  }

  /** Measures each row up to and including its last non-padding token. */
  private trailingPaddingLengths(tokens: Tensor | number[][]): number[] {
    const rows = Array.isArray(tokens) ? tokens : tokenRows(tokens);
    const padding = this.embedding.paddingIdx;
    return rows.map((row, i) => {
      let length = row.length;
      while (length > 0 && row[length - 1] === padding) length--;
      if (length === 0) throw new Error(`LSTMClassifier: sequence ${i} contains only padding (id ${padding}); give it at least one token`);
      return length;
    });
  }
}

function tokenRows(tokens: Tensor): number[][] {
  if (tokens.ndim !== 2) throw new Error(`LSTMClassifier: tokens must be [N, T] ids, got shape ${formatShape(tokens.shape)}`);
  const values = Array.from(tokens.toTypedArray());
  const steps = tokens.shape[1];
  return Array.from({ length: tokens.shape[0] }, (_, row) => values.slice(row * steps, (row + 1) * steps));
}

/**
 * Builds an LSTMClassifier with the given sizes, initialised from `seed` (default 0).
 *
 * const model = lstmClassifier({ numClasses: 2, seed: 1 }); model.forward([[5, 9, 0], [7, 0, 0]]).shape is [2, 2].
 */
export function lstmClassifier(options: LSTMClassifierOptions): LSTMClassifier {
  return new LSTMClassifier(options);
}
