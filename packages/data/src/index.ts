/**
 * @metagrad/data: readers for IDX files (MNIST, Fashion-MNIST), text corpora with character and
 * word tokenizers, and seeded loaders that turn any indexable dataset into batches.
 */
export {
  type IdxArray, type IdxDataTypes, type IdxDtype, MAX_IDX_DIMENSIONS, decodeIdx, encodeIdx, readIdx, writeIdx,
} from './idx';
export { type IdxDatasetOptions, type ImageDataset, type Split, loadIdxDataset } from './image-dataset';
export {
  DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FASHION_MNIST_NORMALIZATION, MNIST_NORMALIZATION, type MnistOptions,
  loadFashionMnist, loadMnist,
} from './mnist';
export { type BatchSource, DataLoader, type DataLoaderOptions } from './data-loader';
export {
  type ImageBatch, type ImageBatchOptions, type ImageTransform, type TransformContext, imageBatches, imageLoader,
} from './image-batches';
export { PADDING_ID, PADDING_TOKEN, UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary, countTokens } from './vocabulary';
export {
  CharacterTokenizer, type CharacterTokenizerOptions, type Tokenizer, type TokenizerJson, WordTokenizer, type WordTokenizerOptions, splitWords,
  tokenizerFromJson,
} from './tokenizers';
export { type SpamAssassinOptions, type TextClassificationDataset, loadMobyDick, loadSpamAssassin, readTextFile, senderSubjectAndBody } from './text-corpora';
export { type SplitIndices, type StratifiedSplitOptions, stratifiedSplit } from './stratified-split';
export { type PaddedBatch, type PaddingOptions, padSequences } from './padding';
export { BucketedLoader, type BucketedLoaderOptions } from './bucketed-loader';
export { type TextBatch, type TextBatchOptions, textBatches, textLoader } from './text-batches';
export { type LanguageModelBatch, type StreamBatch, consecutiveWindows, randomWindows, splitHeldOut, streamWindows } from './language-model-windows';
