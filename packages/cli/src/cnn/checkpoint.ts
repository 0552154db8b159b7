/**
 * Weight files of the image commands: the model's state dict in a safetensors file that PyTorch
 * loads as it is, with the settings needed to use it again (architecture, class names,
 * normalisation) in its metadata, and the optimizer's state in a second file beside it.
 */
import { loadSafetensors, saveSafetensors, type Module, type Optimizer } from '@metagrad/models';
import { rejectMismatchedNames, rejectNonFiniteWeights } from '../weights-checks';

/** What eval and predict need besides the weights. */
export interface CheckpointInfo {
  model: string;
  dataset: string;
  classNames: string[];
  normalize: { mean: number; std: number };
}

/** The optimizer state file that goes with a weights file: `model.safetensors` -> `model.optimizer.safetensors`. */
export function optimizerPath(path: string): string {
  return path.replace(/(\.safetensors)?$/, '.optimizer.safetensors');
}

/** Saves the model's weights with `info` in the metadata, and the optimizer's state beside them. */
export function saveCheckpoint(path: string, model: Module, info: CheckpointInfo, optimizer?: Optimizer): void {
  saveSafetensors(model.stateDict(), path, {
    format: 'metagrad',
    model: info.model,
    dataset: info.dataset,
    classNames: JSON.stringify(info.classNames),
    normalizeMean: String(info.normalize.mean),
    normalizeStd: String(info.normalize.std),
  });
  if (optimizer) {
    const { tensors, metadata } = optimizer.stateDict();
    saveSafetensors(tensors, optimizerPath(path), metadata);
  }
}

/**
 * Loads a weights file into `model` and returns its settings. Files written by PyTorch lack the
 * metadata, so `fallback` supplies it (for example MNIST's normalisation).
 */
export function loadCheckpoint(path: string, model: Module, fallback: CheckpointInfo): CheckpointInfo {
  const { tensors, metadata } = loadSafetensors(path);
  if (metadata.model && metadata.model !== fallback.model) {
    throw new Error(`weights file ${path} holds a '${metadata.model}' model, not '${fallback.model}'`);
  }
  rejectNonFiniteWeights(path, tensors);
  rejectMismatchedNames(path, model, `the ${fallback.model} model`, tensors);
  try {
    model.loadStateDict(tensors);
  } catch (error) {
    throw new Error(`weights file ${path} does not fit the ${fallback.model} model: ${(error as Error).message}`);
  }
  const mean = Number(metadata.normalizeMean);
  const std = Number(metadata.normalizeStd);
  return {
    model: fallback.model,
    dataset: metadata.dataset ?? fallback.dataset,
    classNames: metadata.classNames ? (JSON.parse(metadata.classNames) as string[]) : fallback.classNames,
    normalize: Number.isFinite(mean) && std > 0 ? { mean, std } : fallback.normalize,
  };
}
