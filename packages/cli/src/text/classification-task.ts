/** Resolves the --dataset option of the text classifier commands to tokenized train and test sets. */
import {
  type TextClassificationDataset, type Tokenizer, WordTokenizer, loadSpamAssassin, stratifiedSplit,
} from '@metagrad/data';

/** Names accepted by --dataset. */
export const TEXT_DATASETS = ['spam-assassin'] as const;

/** Share of each class that `train lstm|transformer` holds out for testing unless --test-fraction says otherwise. */
export const DEFAULT_TEST_FRACTION = 0.2;

/** Encoded texts and their labels. */
export interface EncodedTexts {
  sequences: number[][];
  labels: number[];
}

/** A text dataset ready for training: its split, encoded with a word tokenizer built from the training part. */
export interface TextClassificationTask {
  name: string;
  classNames: string[];
  tokenizer: Tokenizer;
  train: EncodedTexts;
  test: EncodedTexts;
}

/**
 * What decides which texts train and which test. The same values give the same split, so a
 * weights file that stores them can be evaluated on the texts its training run tested on.
 */
export interface TextSplitOptions {
  dataset: string;
  /** Share of each class held out for testing, in (0, 1). */
  testFraction: number;
  /** Seed of the split and of the subset. */
  seed: number;
  /** Uses a stratified random subset of this many e-mails before splitting, for quick runs. */
  limit?: number;
}

/** Options of `loadTextClassificationTask`. */
export interface TextTaskOptions extends TextSplitOptions {
  /** Number of words in the vocabulary, besides padding and unknown. */
  vocabularySize: number;
}

/**
 * Loads a text dataset, splits it into stratified train and test parts, builds the word
 * vocabulary from the training texts only (so test words the model never saw stay unknown),
 * and encodes both parts.
 */
export function loadTextClassificationTask(options: TextTaskOptions): TextClassificationTask {
  const { dataset, trainIndices, testIndices } = splitTextDataset(options);
  const tokenizer = WordTokenizer.fromTexts(trainIndices.map((index) => dataset.texts[index]), { maxWords: options.vocabularySize });
  return {
    name: dataset.name,
    classNames: dataset.classNames,
    tokenizer,
    train: encodeTexts(dataset, trainIndices, tokenizer),
    test: encodeTexts(dataset, testIndices, tokenizer),
  };
}

/**
 * Loads the test part of the split that `options` describe, as loadTextClassificationTask makes
 * it, and encodes it with `tokenizer`: the one saved with a classifier's weights.
 */
export function loadTextTestSet(options: TextSplitOptions, tokenizer: Tokenizer): { name: string; classNames: string[]; test: EncodedTexts } {
  const { dataset, testIndices } = splitTextDataset(options);
  return { name: dataset.name, classNames: dataset.classNames, test: encodeTexts(dataset, testIndices, tokenizer) };
}

/** Loads a dataset and returns the dataset indices of its training and test texts. */
function splitTextDataset(options: TextSplitOptions): { dataset: TextClassificationDataset; trainIndices: number[]; testIndices: number[] } {
  const dataset = loadTextDataset(options.dataset);
  const subset = options.limit === undefined ? allIndices(dataset) : subsetIndices(dataset, options.limit, options.seed);
  const split = stratifiedSplit(subset.map((index) => dataset.labels[index]), { testFraction: options.testFraction, seed: options.seed });
  const trainIndices = split.train.map((position) => subset[position]);
  const testIndices = split.test.map((position) => subset[position]);
  return { dataset, trainIndices, testIndices };
}

/** Returns the error for a split that leaves no texts for `part` ('training' or 'testing'). */
export function emptySplitError(split: TextSplitOptions, part: string): Error {
  const limit = split.limit ? ` with --limit ${split.limit}` : '';
  return new Error(`--test-fraction ${split.testFraction}${limit} leaves no texts for ${part}; choose a fraction nearer 0.5 or a larger --limit`);
}

function encodeTexts(dataset: TextClassificationDataset, indices: number[], tokenizer: Tokenizer): EncodedTexts {
  return {
    sequences: indices.map((index) => tokenizer.encode(dataset.texts[index])),
    labels: indices.map((index) => dataset.labels[index]),
  };
}

function loadTextDataset(name: string): TextClassificationDataset {
  if (name === 'spam-assassin') return loadSpamAssassin();
  throw new Error(`dataset '${name}' is not known; choose one of: ${TEXT_DATASETS.join(', ')}`);
}

function allIndices(dataset: TextClassificationDataset): number[] {
  return dataset.texts.map((_, index) => index);
}

/** Picks `limit` examples at random with the class shares of the whole dataset. */
function subsetIndices(dataset: TextClassificationDataset, limit: number, seed: number): number[] {
  if (limit >= dataset.texts.length) return allIndices(dataset);
  return stratifiedSplit(dataset.labels, { testFraction: limit / dataset.texts.length, seed: seed + 1 }).test;
}
