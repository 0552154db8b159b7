/** Checks of a loaded weights file before a model takes it, with messages for the command line. */
import type { Tensor } from '@metagrad/autodiff';
import type { Module } from '@metagrad/models';

/**
 * Throws naming the weights file, the tensors that `model` expects but the file lacks, and those
 * the file has but the model does not. Module.loadStateDict reports the same names, with advice
 * meant for library code.
 */
export function rejectMismatchedNames(path: string, model: Module, description: string, tensors: Record<string, Tensor>): void {
  const own = Object.keys(model.stateDict());
  const missing = own.filter((name) => !(name in tensors));
  const unexpected = Object.keys(tensors).filter((name) => !own.includes(name));
  if (missing.length === 0 && unexpected.length === 0) return;

  const list = (names: string[]) => (names.length > 0 ? names.join(', ') : 'none');
  throw new Error(
    `weights file ${path} does not fit ${description}: missing ${list(missing)}; unexpected ${list(unexpected)}. ` +
      'It was saved from another model or changed afterwards; use a file that the matching train command wrote with --save',
  );
}

/**
 * Throws naming the weights file, the first tensor with a NaN or infinite value, and how many it
 * has. Such weights load and run, but every prediction from them is NaN or meaningless. They come
 * from a training run that diverged, or from a file changed after it was saved. `tensors` are as
 * a safetensors file loads them: contiguous, from their offset.
 */
export function rejectNonFiniteWeights(path: string, tensors: Record<string, Tensor>): void {
  for (const [name, tensor] of Object.entries(tensors)) {
    const values: ArrayLike<number> = tensor.data.subarray(tensor.offset, tensor.offset + tensor.size);
    let first = -1;
    let count = 0;
    for (let i = 0; i < values.length; i++) {
      if (Number.isFinite(values[i])) continue;
      if (first < 0) first = i;
      count++;
    }
    if (count === 0) continue;

    throw new Error(
      `weights file ${path}: tensor '${name}' has ${count} value(s) that are NaN or infinite, the first ${values[first]} at index ${first}; ` +
        'the run that saved it diverged or the file was changed, so train again or use an earlier weights file',
    );
  }
}
