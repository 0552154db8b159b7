/**
 * The two language models of the CLI, behind one interface: the GPT-style TransformerLM and the
 * LSTMLM of @metagrad/models, both predicting the next character.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type GenerateOptions, type LSTMState, type Module, lstmLM, transformerLM } from '@metagrad/models';

/** Architectures of `metagrad train lm --arch`. */
export type LanguageModelArchitecture = 'transformer' | 'lstm';

/** Sizes of a language model, saved with its weights so that it can be built again. */
export interface LanguageModelConfig {
  architecture: LanguageModelArchitecture;
  vocabSize: number;
  /** Number of tokens read at once: the Transformer's maximum, and the LSTM's training window. */
  contextLength: number;
  /** dModel of the Transformer, or hidden size of the LSTM. */
  width: number;
  /** Number of decoder blocks or LSTM layers. */
  layers: number;
  /** Attention heads of the Transformer, absent for the LSTM. */
  heads?: number;
  /** Dropout probability: inside the Transformer's blocks, or on the LSTM's output and between its layers. */
  dropout: number;
  seed: number;
}

/** A next-token model: logits for a batch, and sampling. */
export interface LanguageModel {
  module: Module;
  /** Returns next-token logits [N, T, vocabSize] for token ids [N, T]. */
  logits(tokens: number[][]): Tensor;
  /** Samples tokens after `prompt` and returns them without the prompt. */
  generate(prompt: readonly number[], options: GenerateOptions): number[];
  /**
   * Returns the logits of token ids [N, T] read after `state` (zeros when null), and the state after
   * them. Only recurrent models have it: they carry their state from window to window.
   */
  runWithState?(tokens: number[][], state: LSTMState | null): { logits: Tensor; state: LSTMState };
}

/** Builds the language model that `config` describes, initialised from config.seed. */
export function buildLanguageModel(config: LanguageModelConfig): LanguageModel {
  if (config.architecture === 'lstm') {
    // The embedding of a character model needs far fewer dimensions than the state.
    const model = lstmLM({ vocabSize: config.vocabSize, embedDim: Math.min(config.width, 64), hiddenSize: config.width, numLayers: config.layers, dropout: config.dropout, seed: config.seed });
    return {
      module: model,
      logits: (tokens) => model.forward(tokens),
      generate: (prompt, options) => model.generate(prompt, options),
      runWithState: (tokens, state) => model.run(tokens, state),
    };
  }

  if (config.heads === undefined) throw new Error("the config of a transformer language model lacks 'heads', its number of attention heads; save it again with metagrad train lm --arch transformer --save");
  const model = transformerLM({
    vocabSize: config.vocabSize,
    dModel: config.width,
    nhead: config.heads,
    numLayers: config.layers,
    contextLength: config.contextLength,
    dropout: config.dropout,
    seed: config.seed,
  });
  return { module: model, logits: (tokens) => model.forward(tokens), generate: (prompt, options) => model.generate(prompt, options) };
}
