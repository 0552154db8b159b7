/**
 * Weight files of the text commands: the model's state dict in a safetensors file, with what it
 * takes to use it again in the metadata. That is the model kind, its sizes, the tokenizer (as
 * its JSON) and the class names, so a saved file is all that `generate` needs.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type Tokenizer, tokenizerFromJson } from '@metagrad/data';
import { type Module, loadSafetensors, saveSafetensors } from '@metagrad/models';
import { rejectMismatchedNames, rejectNonFiniteWeights } from '../weights-checks';

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
  if (!kinds.includes(metadata.model as TextModelKind)) {
    throw new Error(`weights file ${path} does not contain a text model: its 'model' metadata is ${JSON.stringify(metadata.model)}, expected one of ${kinds.join(', ')}`);
  }
  if (metadata.config === undefined || metadata.tokenizer === undefined) {
    throw new Error(`weights file ${path} lacks the 'config' or 'tokenizer' metadata; save it with metagrad train --save`);
  }

  let config: Record<string, number | string | boolean>;
  let tokenizer: Tokenizer;
  try {
    config = JSON.parse(metadata.config) as Record<string, number | string | boolean>;
    tokenizer = tokenizerFromJson(metadata.tokenizer);
  } catch (error) {
    throw new Error(`weights file ${path} has invalid metadata: ${(error as Error).message}`);
  }
  const classNames = metadata.classNames === undefined ? undefined : (JSON.parse(metadata.classNames) as string[]);
  return { info: { model: metadata.model as TextModelKind, config, tokenizer, classNames }, tensors };
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
