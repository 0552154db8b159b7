/** Test-set evaluation of an image classifier: accuracy and confusion matrix. */
import { type ImageDataset, imageLoader } from '@metagrad/data';
import type { Module } from '@metagrad/models';
import type { Tensor } from '@metagrad/autodiff';
import { evaluating } from '../evaluation-mode';

export interface Evaluation {
  correct: number;
  total: number;
  accuracy: number;
  /** confusion[actual][predicted] = number of test images. */
  confusion: number[][];
}

/** Runs the model in eval mode over `dataset` (the first `limit` images) and counts correct predictions. */
export function evaluateClassifier(
  model: Module & { forward(x: Tensor): Tensor },
  dataset: ImageDataset,
  options: { normalize: { mean: number; std: number }; numClasses: number; limit?: number; batchSize?: number },
): Evaluation {
  const loader = imageLoader(dataset, { batchSize: options.batchSize ?? 500, normalize: options.normalize, limit: options.limit });
  const confusion = Array.from({ length: options.numClasses }, () => new Array<number>(options.numClasses).fill(0));
  let correct = 0;
  let total = 0;
  evaluating(model, () => {
    for (const { x, y } of loader) {
      const predicted = model.forward(x).argmax(1).toTypedArray();
      const actual = y.toTypedArray();
      for (let i = 0; i < actual.length; i++) {
        confusion[actual[i]][predicted[i]]++;
        if (actual[i] === predicted[i]) correct++;
      }
      total += actual.length;
    }
  });
  return { correct, total, accuracy: total > 0 ? correct / total : NaN, confusion };
}
