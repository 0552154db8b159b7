/**
 * A BERT-style sequence classifier: a Transformer encoder read out at a learned [CLS] position,
 * at the mean of the token positions, or at both.
 */
import { type Tensor, add, concat, expand, mul, slice, sum, tensor, zeros } from '@metagrad/autodiff';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from '../layers/common';
import { Dropout } from '../layers/dropout';
import { Embedding } from '../layers/embedding';
import { LayerNorm } from '../layers/layer-norm';
import { Linear } from '../layers/linear';
import { LearnedPositionalEmbedding } from '../layers/positional-encoding';
import { TransformerEncoder, TransformerEncoderLayer } from '../layers/transformer-encoder';
import { type TokenBatch, tokenRows } from './token-ids';

/** Sizes and settings of `transformerClassifier`. */
export interface TransformerClassifierOptions extends LayerOptions {
  vocabSize: number;
  dModel: number;
  nhead: number;
  numLayers: number;
  /** Hidden size of each feed-forward block. Default 4 * dModel. */
  dimFeedforward?: number;
  /** Maximum number of tokens in an input sequence, not counting the [CLS] position. */
  maxLen: number;
  numClasses: number;
  /** Token id of padding: its positions are masked out of attention. Default 0. */
  paddingIdx?: number;
  /** Dropout probability after the embeddings and inside every layer. Default 0.1. */
  dropout?: number;
  /**
   * Input of the head: 'cls' (default) the encoded [CLS] position, 'mean' the mean of the
   * encoded token positions that are not padding, 'cls+mean' the sum of the two.
   */
  readout?: TransformerReadout;
  /**
   * Normalise before each attention and feed-forward block (pre-norm) and once more after the
   * last layer, instead of after each residual sum. Default false, which keeps BERT's post-norm.
   */
  normFirst?: boolean;
}

/** Input of a TransformerClassifier's head, as described at TransformerClassifierOptions.readout. */
export type TransformerReadout = 'cls' | 'mean' | 'cls+mean';

/** The accepted values of TransformerClassifierOptions.readout. */
export const TRANSFORMER_READOUTS: readonly TransformerReadout[] = ['cls', 'mean', 'cls+mean'];

/**
 * Token ids [N, L] -> logits [N, numClasses]:
 *   x = [cls_token; token_embedding(ids)] + position_embedding   (L + 1 positions)
 *   x = encoder(dropout(x), padding masked);  logits = head(x[:, 0])   (readout 'cls')
 *   logits = head(mean of x over the token positions that are not padding)   (readout 'mean')
 *   logits = head(x[:, 0] + that mean)   (readout 'cls+mean')
 *
 * The [CLS] vector is a learned parameter `cls_token` [1, 1, dModel] put in front of every
 * sequence, rather than a reserved token id, so the vocabulary needs no extra entry. Positions
 * whose id is paddingIdx are masked out as keys, so padding changes no output. The encoder
 * layers are post-norm, as BERT's are, with ReLU where BERT uses GELU. With normFirst they are
 * pre-norm, and the encoder ends with a LayerNorm `encoder.norm`, as PyTorch's norm_first stacks do.
 */
export class TransformerClassifier extends Module {
  readonly tokenEmbedding: Embedding;
  readonly positionEmbedding: LearnedPositionalEmbedding;
  readonly dropout: Dropout;
  readonly encoder: TransformerEncoder;
  readonly head: Linear;
  readonly paddingIdx: number;

  constructor(readonly options: TransformerClassifierOptions) {
    super();
    const { vocabSize, dModel, nhead, numLayers, maxLen, numClasses } = options;
    this.paddingIdx = options.paddingIdx ?? 0;
    if (options.readout !== undefined && !TRANSFORMER_READOUTS.includes(options.readout)) {
      throw new Error(`TransformerClassifier: invalid readout '${String(options.readout)}'; use one of ${TRANSFORMER_READOUTS.join(', ')}`);
    }
    const generator = layerGenerator(options);
    const layer = { generator, dtype: options.dtype };
    const dropout = options.dropout ?? 0.1;
    const normFirst = options.normFirst ?? false;

    this.tokenEmbedding = this.registerModule('token_embedding', new Embedding(vocabSize, dModel, { ...layer, paddingIdx: this.paddingIdx }));
    this.registerParameter('cls_token', init.normal(zeros([1, 1, dModel], { dtype: options.dtype }), 0, 1, { generator }));
    this.positionEmbedding = this.registerModule('position_embedding', new LearnedPositionalEmbedding(maxLen + 1, dModel, { ...layer, batchFirst: true }));
    this.dropout = this.registerModule('dropout', new Dropout(dropout, layer));
    const encoderLayer = () =>
      new TransformerEncoderLayer(dModel, nhead, { ...layer, dimFeedforward: options.dimFeedforward ?? 4 * dModel, dropout, batchFirst: true, normFirst });
    const finalNorm = normFirst ? { norm: new LayerNorm(dModel, { dtype: options.dtype }) } : {};
    this.encoder = this.registerModule('encoder', new TransformerEncoder(encoderLayer, numLayers, finalNorm));
    this.head = this.registerModule('head', new Linear(dModel, numClasses, layer));
  }

  /** Classifies each sequence of token ids [N, L] (L <= maxLen), returning logits [N, numClasses]. */
  forward(tokens: TokenBatch): Tensor {
    const rows = tokenRows('TransformerClassifier', tokens, this.options.vocabSize, this.options.maxLen);
    const embedded = this.tokenEmbedding.forward(rows);
    const [batch, , dModel] = embedded.shape;

    const cls = expand(this.parameter('cls_token').to(embedded.dtype), [batch, 1, dModel]);
    const x = this.dropout.forward(this.positionEmbedding.forward(concat([cls, embedded], 1)));
    const padding = rows.map((row) => [false, ...row.map((id) => id === this.paddingIdx)]);
    const encoded = this.encoder.forward(x, { srcKeyPaddingMask: padding });
    const readout = this.options.readout ?? 'cls';
    if (readout === 'cls') return this.head.forward(slice(encoded, null, 0));

    // Weights [N, L + 1, 1]: 1 / (number of real tokens) at each real token, 0 at [CLS] and padding.
    const length = padding[0].length;
    const weights = encoded.dtype === 'float64' ? new Float64Array(batch * length) : new Float32Array(batch * length);
    padding.forEach((row, n) => {
      const count = Math.max(1, row.filter((isPadding, i) => i > 0 && !isPadding).length);
      row.forEach((isPadding, i) => {
        if (i > 0 && !isPadding) weights[n * length + i] = 1 / count;
      });
    });
    const pooled = sum(mul(encoded, tensor(weights, { shape: [batch, length, 1], dtype: encoded.dtype })), 1);
    return this.head.forward(readout === 'mean' ? pooled : add(pooled, slice(encoded, null, 0)));
  }

  override describe(): string {
    const { vocabSize, dModel, nhead, numLayers, maxLen, numClasses } = this.options;
    return `vocabSize=${vocabSize}, dModel=${dModel}, nhead=${nhead}, numLayers=${numLayers}, maxLen=${maxLen}, numClasses=${numClasses}, paddingIdx=${this.paddingIdx}, readout=${this.options.readout ?? 'cls'}, normFirst=${this.options.normFirst ?? false}`;
  }
}

/**
 * Builds a TransformerClassifier, initialised from `seed` (default 0).
 *
 * const model = transformerClassifier({ vocabSize: 20, dModel: 16, nhead: 2, numLayers: 2, maxLen: 8, numClasses: 3 });
 * model.forward([[5, 6, 7, 0], [8, 9, 0, 0]]).shape is [2, 3].
 */
export function transformerClassifier(options: TransformerClassifierOptions): TransformerClassifier {
  return new TransformerClassifier(options);
}
