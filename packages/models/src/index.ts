/**
 * @metagrad/models: modules, layers, losses, optimizers and ready-made models, with PyTorch's
 * names, layouts and defaults so that weights move between the two unchanged.
 */
export { Module, functionalCall } from './module';
export { ModuleList, Sequential } from './container';
export * as init from './init';
export { type LayerOptions } from './layers/common';
export { Flatten, Identity, Linear, type LinearOptions } from './layers/linear';
export { AvgPool2d, Conv2d, type Conv2dLayerOptions, MaxPool2d } from './layers/conv';
export { Embedding, type EmbeddingLayerOptions } from './layers/embedding';
export { LayerNorm, type LayerNormOptions } from './layers/layer-norm';
export { BatchNorm, BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './layers/batch-norm';
export {
  GRU, LSTM, type LSTMOutput, type LSTMState, RecurrentBase, type RecurrentOptions, type RecurrentOutput, RNN, type RNNOptions,
  type SequenceOptions,
} from './layers/recurrent';
export { GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from './layers/activation';
export { Dropout } from './layers/dropout';
export { causalMask, type NestedMask } from './layers/attention-mask';
export { type AttentionOptions, type AttentionResult, MultiheadAttention, type MultiheadAttentionOptions } from './layers/attention';
export {
  type EncoderCallOptions, type EncoderLayerCallOptions, TransformerEncoder, TransformerEncoderLayer, type TransformerEncoderLayerOptions,
  type TransformerEncoderOptions,
} from './layers/transformer-encoder';
export { CausalDecoderBlock, type CausalDecoderBlockOptions } from './layers/causal-decoder';
export { LearnedPositionalEmbedding, type PositionalEncodingOptions, SinusoidalPositionalEncoding } from './layers/positional-encoding';
export {
  type BceOptions, type CrossEntropyOptions, type NllOptions, type Reduction, type Targets,
  binaryCrossEntropyWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, nllLoss,
} from './losses';
export { Optimizer, type OptimizerState } from './optim/optimizer';
export { SGD, type SgdOptions } from './optim/sgd';
export { Adam, AdamW, type AdamOptions } from './optim/adam';
export { RMSprop, type RmspropOptions } from './optim/rmsprop';
export { CosineAnnealingLR, LinearWarmupLR, LRScheduler, StepLR } from './optim/schedulers';
export { clipGradNorm } from './optim/clip';
export { referenceCnn } from './zoo/reference-cnn';
export { type TokenBatch } from './zoo/token-ids';
export { TRANSFORMER_READOUTS, TransformerClassifier, type TransformerClassifierOptions, type TransformerReadout, transformerClassifier } from './zoo/transformer-classifier';
export { type GenerateOptions, TransformerLM, type TransformerLMOptions, transformerLM } from './zoo/transformer-lm';
export {
  MAX_HEADER_BYTES, type ParseSafetensorsOptions, type SafetensorsContent, SafetensorsError, parseSafetensors, serializeSafetensors,
} from './safetensors';
export { loadSafetensors, saveSafetensors } from './safetensors-node';
export { LSTMClassifier, type LSTMClassifierOptions, lstmClassifier } from './zoo/lstm-classifier';
export { LSTMLM, type LSTMLMOptions, lstmLM } from './zoo/lstm-lm';
