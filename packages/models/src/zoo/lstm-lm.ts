/** A recurrent language model: token embedding, a stacked LSTM and a linear head over the vocabulary. */
import { Generator, type Tensor, noGrad } from '@metagrad/autodiff';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from '../layers/common';
import { Dropout } from '../layers/dropout';
import { Embedding } from '../layers/embedding';
import { Linear } from '../layers/linear';
import { LSTM, type LSTMState } from '../layers/recurrent';
import { type TokenBatch, tokenRows } from './token-ids';
import { sampleToken } from './token-sampling';
import type { GenerateOptions } from './transformer-lm';

/** Sizes of `lstmLM`. */
export interface LSTMLMOptions extends LayerOptions {
  vocabSize: number;
  /** Size of each token's embedding. Default 64. */
  embedDim?: number;
  /** Hidden size of every LSTM layer. */
  hiddenSize: number;
  /** Number of stacked LSTM layers. Default 1. */
  numLayers?: number;
  /** Dropout probability on the LSTM's output before the head and between stacked layers, in training mode. Default 0. */
  dropout?: number;
}

/**
 * Token ids [N, T] -> next-token logits [N, T, vocabSize]:
 *   x = embedding(ids);  h = LSTM(x) (batch first);  logits = head(h)
 * Step t reads tokens 0..t only, so logits[:, t] predict token t + 1, as in TransformerLM, and
 * the model has no maximum length. Parameter names match a PyTorch module with attributes
 * embedding, lstm and head.
 *
 * const model = lstmLM({ vocabSize: 30, hiddenSize: 64 });
 * crossEntropy(model.forward(inputs).reshape([-1, 30]), targets.flat()) is the training loss.
 */
export class LSTMLM extends Module {
  readonly embedding: Embedding;
  readonly lstm: LSTM;
  readonly dropout: Dropout;
  readonly head: Linear;

  constructor(readonly options: LSTMLMOptions) {
    super();
    const generator = layerGenerator(options);
    const layer = { generator, dtype: options.dtype };
    const embedDim = options.embedDim ?? 64;
    this.embedding = this.registerModule('embedding', new Embedding(options.vocabSize, embedDim, layer));
    const dropout = options.dropout ?? 0;
    this.lstm = this.registerModule('lstm', new LSTM(embedDim, options.hiddenSize, { ...layer, numLayers: options.numLayers ?? 1, batchFirst: true, dropout }));
    this.dropout = this.registerModule('dropout', new Dropout(dropout, layer));
    this.head = this.registerModule('head', new Linear(options.hiddenSize, options.vocabSize, layer));
  }

  /** Returns the next-token logits [N, T, vocabSize] of token ids [N, T]. */
  forward(tokens: TokenBatch): Tensor {
    return this.run(tokens, null).logits;
  }

  /** Runs token ids [N, T] from `state` (zeros when null) and returns the logits and the state after the last step. */
  run(tokens: TokenBatch, state: LSTMState | null): { logits: Tensor; state: LSTMState } {
    const rows = tokenRows('LSTMLM', tokens, this.options.vocabSize, Infinity);
    const { output, hidden, cell } = this.lstm.forward(this.embedding.forward(rows), state);
    return { logits: this.head.forward(this.dropout.forward(output)), state: { hidden, cell } };
  }

  /**
   * Samples `maxTokens` tokens after `prompt` and returns them (without the prompt). The prompt
   * is read once, then each new token is fed back one step at a time with the LSTM state, so a
   * token costs the same however long the text grows. Runs in evaluation mode without recording
   * the graph, then restores each module's mode. The same seed gives the same tokens.
   *
   * model.generate([3, 1, 4], { maxTokens: 5, temperature: 0.8, topK: 10, seed: 1 }) returns 5 ids.
   */
  generate(prompt: readonly number[], options: GenerateOptions): number[] {
    const { maxTokens, temperature = 1, topK } = options;
    if (prompt.length === 0) throw new Error('LSTMLM.generate: the prompt needs at least one token');
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`LSTMLM.generate: maxTokens must be a non-negative integer, got ${maxTokens}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`LSTMLM.generate: temperature must be a finite number >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new Error(`LSTMLM.generate: topK must be a positive integer, got ${topK}`);

    const generator = new Generator(options.seed ?? 0);
    const modes = this.modules().map((module) => [module, module.training] as const);
    this.eval();
    try {
      return noGrad(() => {
        const generated: number[] = [];
        let step = this.run([prompt.slice()], null);
        for (let count = 0; count < maxTokens; count++) {
          const lastLogits = step.logits.slice(0, -1).toTypedArray();
          const next = sampleToken(lastLogits, temperature, topK, generator);
          generated.push(next);
          if (count + 1 < maxTokens) step = this.run([[next]], step.state);
        }
        return generated;
      });
    } finally {
      for (const [module, training] of modes) module.training = training;
    }
  }

  override describe(): string {
    const { vocabSize, hiddenSize } = this.options;
    return `vocabSize=${vocabSize}, embedDim=${this.embedding.embeddingDim}, hiddenSize=${hiddenSize}, numLayers=${this.lstm.numLayers}`;
  }
}

/**
 * Builds an LSTMLM, initialised from `seed` (default 0).
 *
 * lstmLM({ vocabSize: 30, hiddenSize: 64, numLayers: 2, seed: 1 })
 */
export function lstmLM(options: LSTMLMOptions): LSTMLM {
  return new LSTMLM(options);
}
