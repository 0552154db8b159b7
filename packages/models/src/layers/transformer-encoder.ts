/**
 * The Transformer encoder layer and a stack of them, as torch.nn.TransformerEncoderLayer and
 * torch.nn.TransformerEncoder: the same submodule names, so state dict names such as
 * `layers.1.self_attn.in_proj_weight` match PyTorch's.
 */
import { type Generator, type Tensor, add, gelu, relu } from '@metagrad/autodiff';
import { ModuleList } from '../container';
import { Module } from '../module';
import { type NestedMask } from './attention-mask';
import { MultiheadAttention } from './attention';
import { type LayerOptions, layerGenerator } from './common';
import { Dropout } from './dropout';
import { LayerNorm } from './layer-norm';
import { Linear } from './linear';

/** Options of `TransformerEncoderLayer`, with PyTorch's defaults. */
export interface TransformerEncoderLayerOptions extends LayerOptions {
  /** Hidden size of the feed-forward block. Default 2048. */
  dimFeedforward?: number;
  /** Dropout probability, in attention, after the activation and on both residual branches. Default 0.1. */
  dropout?: number;
  /** Activation of the feed-forward block: 'relu' (default), 'gelu' (exact) or a function. */
  activation?: 'relu' | 'gelu' | ((x: Tensor) => Tensor);
  /** Epsilon of both LayerNorms. Default 1e-5. */
  layerNormEps?: number;
  /** Inputs and outputs are [N, L, E] when true, [L, N, E] when false (the default). */
  batchFirst?: boolean;
  /** Normalise before each block (pre-norm) instead of after the residual sum (post-norm, the default). */
  normFirst?: boolean;
}

/** Masks of one encoder layer call, named as in PyTorch's forward. */
export interface EncoderLayerCallOptions {
  /** Attention mask [L, L] or [N * nhead, L, L], additive (a tensor) or boolean (nested arrays); see MultiheadAttention. */
  srcMask?: Tensor | NestedMask;
  /** Padding [N, L]: true or 1 marks a position that no query attends to. */
  srcKeyPaddingMask?: Tensor | NestedMask;
  /** Adds the causal mask, so that position i attends only to positions j <= i. */
  isCausal?: boolean;
}

/**
 * Self-attention followed by a feed-forward block, each with a residual connection and
 * LayerNorm. Post-norm (the default, as in "Attention Is All You Need"):
 *   x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(linear2(dropout(act(linear1(x))))))
 * Pre-norm (normFirst):
 *   x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(linear2(dropout(act(linear1(norm2(x))))))
 *
 * new TransformerEncoderLayer(8, 2, { dimFeedforward: 32, batchFirst: true }).forward(x) keeps x's shape [N, L, 8].
 */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly normFirst: boolean;
  readonly batchFirst: boolean;
  private readonly activation: (x: Tensor) => Tensor;
  private readonly generator: Generator;

  constructor(readonly dModel: number, readonly nhead: number, private readonly options: TransformerEncoderLayerOptions = {}) {
    super();
    const dimFeedforward = options.dimFeedforward ?? 2048;
    const p = options.dropout ?? 0.1;
    this.normFirst = options.normFirst ?? false;
    this.batchFirst = options.batchFirst ?? false;
    this.activation = activationFunction(options.activation ?? 'relu');

    // Every submodule draws its initial weights and dropout masks from one generator, in registration order.
    this.generator = layerGenerator(options);
    const layer = { generator: this.generator, dtype: options.dtype };
    const norm = { eps: options.layerNormEps ?? 1e-5, dtype: options.dtype };
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { ...layer, dropout: p, batchFirst: this.batchFirst }));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dimFeedforward, layer));
    this.dropout = this.registerModule('dropout', new Dropout(p, layer));
    this.linear2 = this.registerModule('linear2', new Linear(dimFeedforward, dModel, layer));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, norm));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, norm));
    this.dropout1 = this.registerModule('dropout1', new Dropout(p, layer));
    this.dropout2 = this.registerModule('dropout2', new Dropout(p, layer));
  }

  /** Encodes src [L, N, E] ([N, L, E] with batchFirst, or [L, E] unbatched) into a tensor of the same shape. */
  forward(src: Tensor, options: EncoderLayerCallOptions = {}): Tensor {
    let x = src;
    if (this.normFirst) {
      x = add(x, this.attentionBlock(this.norm1.forward(x), options));
      x = add(x, this.feedForwardBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(add(x, this.attentionBlock(x, options)));
      x = this.norm2.forward(add(x, this.feedForwardBlock(x)));
    }
    return x;
  }

  private attentionBlock(x: Tensor, options: EncoderLayerCallOptions): Tensor {
    const attended = this.selfAttn.forward(x, x, x, {
      attnMask: options.srcMask,
      keyPaddingMask: options.srcKeyPaddingMask,
      isCausal: options.isCausal,
      needWeights: false,
    });
    return this.dropout1.forward(attended.output);
  }

  private feedForwardBlock(x: Tensor): Tensor {
    const hidden = this.dropout.forward(this.activation(this.linear1.forward(x)));
    return this.dropout2.forward(this.linear2.forward(hidden));
  }

  /**
   * Returns a new layer of the same class and settings holding a copy of this layer's weights,
   * as PyTorch's TransformerEncoder deep-copies its layer. Its dropout draws from a generator
   * forked from this layer's, so copies do not share masks.
   */
  clone(): this {
    const LayerClass = this.constructor as new (dModel: number, nhead: number, options: TransformerEncoderLayerOptions) => this;
    const copy = new LayerClass(this.dModel, this.nhead, { ...this.options, seed: undefined, generator: this.generator.fork() });
    copy.loadStateDict(this.stateDict());
    return copy.train(this.training);
  }

  override describe(): string {
    const activation = typeof this.options.activation === 'function' ? 'custom' : this.options.activation ?? 'relu';
    return `dModel=${this.dModel}, nhead=${this.nhead}, activation=${activation}, normFirst=${this.normFirst}, batchFirst=${this.batchFirst}`;
  }
}

function activationFunction(activation: NonNullable<TransformerEncoderLayerOptions['activation']>): (x: Tensor) => Tensor {
  if (typeof activation === 'function') return activation;
  if (activation === 'relu') return relu;
  if (activation === 'gelu') return gelu;
  throw new Error(`TransformerEncoderLayer: activation must be 'relu', 'gelu' or a function, got '${String(activation)}'`);
}

/** Options of `TransformerEncoder`. */
export interface TransformerEncoderOptions {
  /** A final normalisation applied after the last layer, registered as `norm`. Pre-norm stacks usually end with a LayerNorm here. */
  norm?: Module & { forward(x: Tensor): Tensor };
}

/** Masks of one encoder call, named as in PyTorch's TransformerEncoder.forward. */
export interface EncoderCallOptions {
  mask?: Tensor | NestedMask;
  srcKeyPaddingMask?: Tensor | NestedMask;
  isCausal?: boolean;
}

/**
 * A stack of encoder layers in a ModuleList named `layers`, and an optional final `norm`.
 * Given a layer, it contains numLayers copies with the same initial weights, as PyTorch does.
 * Given a factory, it calls it for each index, so that each layer is initialised on its own.
 *
 * new TransformerEncoder((i) => new TransformerEncoderLayer(8, 2, { seed: i }), 3) has parameters
 * named layers.0.self_attn.in_proj_weight ... layers.2.norm2.bias.
 */
export class TransformerEncoder<L extends TransformerEncoderLayer = TransformerEncoderLayer> extends Module {
  readonly layers: ModuleList<L>;
  readonly norm: (Module & { forward(x: Tensor): Tensor }) | null;

  constructor(layer: L | ((index: number) => L), readonly numLayers: number, options: TransformerEncoderOptions = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new Error(`TransformerEncoder: numLayers must be a positive integer, got ${numLayers}`);
    const make = typeof layer === 'function' ? layer : () => layer.clone();
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: numLayers }, (_, index) => make(index))));
    this.norm = options.norm ? this.registerModule('norm', options.norm) : null;
  }

  /** Runs src through every layer with the same masks, then through `norm` if there is one. */
  forward(src: Tensor, options: EncoderCallOptions = {}): Tensor {
    const layerOptions = { srcMask: options.mask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.isCausal };
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, layerOptions);
    return this.norm ? this.norm.forward(x) : x;
  }

  override describe(): string {
    return `numLayers=${this.numLayers}`;
  }
}
