/** A check of loaded weights: every value must be a finite number. */
import type { Tensor } from '@metagrad/autodiff';

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
