/**
 * Weight files of the text commands: the model's state dict in a safetensors file, with what it
 * takes to use it again in the metadata. That is the model kind, its sizes, the tokenizer (as
 * its JSON), and for a classifier its class names and train/test split, so a saved file is all
 * that `generate`, `eval lstm|transformer` and `predict lstm|transformer` need.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type Tokenizer, tokenizerFromJson } from '@metagrad/data';
import { type Module, loadSafetensors, saveSafetensors } from '@metagrad/models';
import { rejectMismatchedNames, rejectNonFiniteWeights } from '../weights-checks';
import type { TextSplitOptions } from './classification-task';

/** Kinds of text models, as written in the `model` metadata entry. */
export type TextModelKind = 'lstm-classifier' | 'transformer-classifier' | 'lstm-lm' | 'transformer-lm';

/** The settings stored in a text weights file besides the weights. */
export interface TextCheckpointInfo {
  model: TextModelKind;
  /** The sizes and switches the model was built with, as given to its constructor. */
  config: Record<string, number | string | boolean>;
  tokenizer: Tokenizer;
  /** Class names of a classifier, by label. */
  classNames?: string[];
  /** The train/test split of a classifier's training run, so that `eval` tests on the same texts. */
  split?: TextSplitOptions;
}

/** Saves the model's weights with `info` in the metadata. */
export function saveTextCheckpoint(path: string, model: Module, info: TextCheckpointInfo): void {
  const metadata: Record<string, string> = {
    format: 'metagrad',
    model: info.model,
    config: JSON.stringify(info.config),
    tokenizer: JSON.stringify(info.tokenizer),
  };
  if (info.classNames) metadata.classNames = JSON.stringify(info.classNames);
  if (info.split) metadata.split = JSON.stringify(info.split);
  saveSafetensors(model.stateDict(), path, metadata);
}

/**
 * Reads a weights file written by saveTextCheckpoint and returns its settings with the tensors,
 * for the caller to build the model and load them. Throws naming the path when an entry is
 * missing or invalid.
 */
export function readTextCheckpoint(path: string): { info: TextCheckpointInfo; tensors: Record<string, Tensor> } {
  const { tensors, metadata } = loadSafetensors(path);
  const kinds: TextModelKind[] = ['lstm-classifier', 'transformer-classifier', 'lstm-lm', 'transformer-lm'];
  if (metadata.model === 'reference-cnn') {
    throw new Error(`weights file ${path} contains a reference-cnn, an image classifier, not a text model; use it with metagrad eval cnn or metagrad predict cnn`);
  }
  if (!kinds.includes(metadata.model as TextModelKind)) {
    throw new Error(`weights file ${path} does not contain a text model: its 'model' metadata is ${JSON.stringify(metadata.model)}, expected one of ${kinds.join(', ')}`);
  }
  if (metadata.config === undefined || metadata.tokenizer === undefined) {
    throw new Error(`weights file ${path} lacks the 'config' or 'tokenizer' metadata; save it with metagrad train --save`);
  }

  let config: Record<string, number | string | boolean>;
  let tokenizer: Tokenizer;
  let split: TextSplitOptions | undefined;
  try {
    config = JSON.parse(metadata.config) as Record<string, number | string | boolean>;
    tokenizer = tokenizerFromJson(metadata.tokenizer);
    split = metadata.split === undefined ? undefined : parseSplit(metadata.split);
  } catch (error) {
    throw new Error(`weights file ${path} has invalid metadata: ${(error as Error).message}`);
  }
  const classNames = metadata.classNames === undefined ? undefined : (JSON.parse(metadata.classNames) as string[]);
  return { info: { model: metadata.model as TextModelKind, config, tokenizer, classNames, split }, tensors };
}

/** Parses the `split` metadata entry, throwing when a field is missing or out of range. */
function parseSplit(json: string): TextSplitOptions {
  const split = JSON.parse(json) as Partial<TextSplitOptions>;
  const valid =
    typeof split.dataset === 'string' &&
    typeof split.testFraction === 'number' && split.testFraction > 0 && split.testFraction < 1 &&
    Number.isSafeInteger(split.seed) && (split.seed as number) >= 0 &&
    (split.limit === undefined || (Number.isSafeInteger(split.limit) && split.limit > 0));
  if (!valid) {
    throw new Error(`invalid 'split' entry ${json}: expected a dataset name, a testFraction between 0 and 1, a whole seed of at least 0 and an optional whole limit of at least 1`);
  }
  return split as TextSplitOptions;
}

/** Loads `tensors` into `model`, naming the file when they do not fit. */
export function loadTextWeights(path: string, model: Module, tensors: Record<string, Tensor>): void {
  rejectNonFiniteWeights(path, tensors);
  rejectMismatchedNames(path, model, 'its model', tensors);
  try {
    model.loadStateDict(tensors);
  } catch (error) {
    throw new Error(`weights file ${path} does not fit its model: ${(error as Error).message}`);
  }
}
