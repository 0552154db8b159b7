/** A GPT-style causal language model, small enough to train on characters in a test. */
import { Generator, type Tensor, noGrad } from '@metagrad/autodiff';
import { ModuleList } from '../container';
import { Module } from '../module';
import { CausalDecoderBlock } from '../layers/causal-decoder';
import { type LayerOptions, layerGenerator } from '../layers/common';
import { Dropout } from '../layers/dropout';
import { Embedding } from '../layers/embedding';
import { LayerNorm } from '../layers/layer-norm';
import { Linear } from '../layers/linear';
import { LearnedPositionalEmbedding } from '../layers/positional-encoding';
import { type TokenBatch, tokenRows } from './token-ids';
import { sampleToken } from './token-sampling';

/** Sizes and settings of `transformerLM`. */
export interface TransformerLMOptions extends LayerOptions {
  vocabSize: number;
  dModel: number;
  nhead: number;
  numLayers: number;
  /** Maximum number of tokens the model reads at once. generate crops its input to the last contextLength tokens. */
  contextLength: number;
  /** Hidden size of each feed-forward block. Default 4 * dModel. */
  dimFeedforward?: number;
  /** Dropout probability after the embeddings and inside every block. Default 0.1. */
  dropout?: number;
}

/** Options of `TransformerLM.generate`. */
export interface GenerateOptions {
  /** Number of tokens to generate. */
  maxTokens: number;
  /** Divides the logits before sampling: below 1 sharpens, above 1 flattens, 0 picks the most likely token. Default 1. */
  temperature?: number;
  /** Samples only among the topK most likely tokens (and any tied with the last of them). Default: all tokens. */
  topK?: number;
  /** Seed of the sampling generator. Default 0. */
  seed?: number;
}

/**
 * Token ids [N, T] -> next-token logits [N, T, vocabSize]:
 *   x = dropout(token_embedding(ids) + position_embedding)
 *   x = blocks(x) (CausalDecoderBlocks);  logits = head(norm(x))
 * Position t attends to tokens 0..t only, so logits[:, t] predict token t + 1.
 *
 * const model = transformerLM({ vocabSize: 30, dModel: 16, nhead: 2, numLayers: 2, contextLength: 16 });
 * crossEntropy(model.forward(inputs).reshape([-1, 30]), targets.flat()) is the training loss.
 */
export class TransformerLM extends Module {
  readonly tokenEmbedding: Embedding;
  readonly positionEmbedding: LearnedPositionalEmbedding;
  readonly dropout: Dropout;
  readonly blocks: ModuleList<CausalDecoderBlock>;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(readonly options: TransformerLMOptions) {
    super();
    const { vocabSize, dModel, nhead, numLayers, contextLength } = options;
    const generator = layerGenerator(options);
    const layer = { generator, dtype: options.dtype };
    const dropout = options.dropout ?? 0.1;
    const blockOptions = { ...layer, dimFeedforward: options.dimFeedforward ?? 4 * dModel, dropout, batchFirst: true };

    this.tokenEmbedding = this.registerModule('token_embedding', new Embedding(vocabSize, dModel, layer));
    this.positionEmbedding = this.registerModule('position_embedding', new LearnedPositionalEmbedding(contextLength, dModel, { ...layer, batchFirst: true }));
    this.dropout = this.registerModule('dropout', new Dropout(dropout, layer));
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: numLayers }, () => new CausalDecoderBlock(dModel, nhead, blockOptions))));
    this.norm = this.registerModule('norm', new LayerNorm(dModel, { dtype: options.dtype }));
    this.head = this.registerModule('head', new Linear(dModel, vocabSize, layer));
  }

  /** Returns the next-token logits [N, T, vocabSize] of token ids [N, T] (T <= contextLength). */
  forward(tokens: TokenBatch): Tensor {
    const rows = tokenRows('TransformerLM', tokens, this.options.vocabSize, this.options.contextLength);
    let x = this.dropout.forward(this.positionEmbedding.forward(this.tokenEmbedding.forward(rows)));
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.norm.forward(x));
  }

  /**
   * Samples `maxTokens` tokens after `prompt`, each from the model's distribution given the
   * last contextLength tokens, and returns the new tokens (without the prompt). Runs in
   * evaluation mode (no dropout) and without recording the graph, then restores each module's
   * mode. The same seed gives the same tokens.
   *
   * model.generate([3, 1, 4], { maxTokens: 5, temperature: 0.8, topK: 10, seed: 1 }) returns 5 ids.
   */
  generate(prompt: readonly number[], options: GenerateOptions): number[] {
    const { maxTokens, temperature = 1, topK } = options;
    if (prompt.length === 0) throw new Error('TransformerLM.generate: the prompt needs at least one token');
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`TransformerLM.generate: maxTokens must be a non-negative integer, got ${maxTokens}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`TransformerLM.generate: temperature must be a finite number >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new Error(`TransformerLM.generate: topK must be a positive integer, got ${topK}`);

    const generator = new Generator(options.seed ?? 0);
    const modes = this.modules().map((module) => [module, module.training] as const);
    this.eval();
    try {
      return noGrad(() => {
        const tokens = prompt.slice();
        const generated: number[] = [];
        for (let step = 0; step < maxTokens; step++) {
          const context = tokens.slice(-this.options.contextLength);
          const logits = this.forward([context]).slice(0, -1).toTypedArray();
          const next = sampleToken(logits, temperature, topK, generator);
          tokens.push(next);
          generated.push(next);
        }
        return generated;
      });
    } finally {
      for (const [module, training] of modes) module.training = training;
    }
  }

  override describe(): string {
    const { vocabSize, dModel, nhead, numLayers, contextLength } = this.options;
    return `vocabSize=${vocabSize}, dModel=${dModel}, nhead=${nhead}, numLayers=${numLayers}, contextLength=${contextLength}`;
  }
}

/**
 * Builds a TransformerLM, initialised from `seed` (default 0).
 *
 * transformerLM({ vocabSize: 30, dModel: 16, nhead: 2, numLayers: 2, contextLength: 16, seed: 1 })
 */
export function transformerLM(options: TransformerLMOptions): TransformerLM {
  return new TransformerLM(options);
}
