/**
 * The two text classifiers of the CLI, behind one interface: the LSTM classifier and the
 * BERT-style Transformer encoder of @metagrad/models.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type Module, type TransformerReadout, lstmClassifier, transformerClassifier } from '@metagrad/models';

/** Architectures of `metagrad train lstm` and `metagrad train transformer`. */
export type ClassifierArchitecture = 'lstm' | 'transformer';

/** Sizes of a text classifier, saved with its weights so that it can be built again. */
export interface ClassifierConfig {
  architecture: ClassifierArchitecture;
  vocabSize: number;
  numClasses: number;
  /** Embedding and hidden size of the LSTM, or dModel of the Transformer. */
  width: number;
  /** Number of LSTM or encoder layers. */
  layers: number;
  /** Attention heads of the Transformer, absent for the LSTM. */
  heads?: number;
  /** Maximum number of tokens per text. */
  maxLength: number;
  /** Dropout probability: inside the Transformer, or on the LSTM's embeddings, between its layers and before its head. */
  dropout: number;
  /** Input of the Transformer's head (Transformer only). Default 'cls'. */
  readout?: TransformerReadout;
  /** Pre-norm encoder layers with a final LayerNorm (Transformer only). Default false, post-norm. */
  normFirst?: boolean;
  seed: number;
}

/** A classifier module that maps a padded batch to logits [N, numClasses]. */
export interface TextClassifier {
  module: Module;
  /** Returns logits for right-padded token ids [N, L] with their lengths. */
  logits(tokens: number[][], lengths: number[]): Tensor;
}

/** Builds the classifier that `config` describes, initialised from config.seed. */
export function buildTextClassifier(config: ClassifierConfig): TextClassifier {
  if (config.architecture === 'lstm') {
    const model = lstmClassifier({
      vocabSize: config.vocabSize,
      embedDim: config.width,
      hiddenSize: config.width,
      numLayers: config.layers,
      numClasses: config.numClasses,
      dropout: config.dropout,
      seed: config.seed,
    });
    return { module: model, logits: (tokens, lengths) => model.forward(tokens, { lengths }) };
  }

  if (config.heads === undefined) throw new Error("the config of a transformer classifier lacks 'heads', its number of attention heads");
  const model = transformerClassifier({
    vocabSize: config.vocabSize,
    dModel: config.width,
    nhead: config.heads,
    numLayers: config.layers,
    dimFeedforward: 2 * config.width,
    maxLen: config.maxLength,
    numClasses: config.numClasses,
    dropout: config.dropout,
    readout: config.readout ?? 'cls',
    normFirst: config.normFirst ?? false,
    seed: config.seed,
  });
  // The Transformer masks every position whose id is padding, so it needs no lengths.
  return { module: model, logits: (tokens) => model.forward(tokens) };
}
