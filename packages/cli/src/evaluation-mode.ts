/** Evaluation of a model in the middle of training. */
import { noGrad } from '@metagrad/autodiff';
import type { Module } from '@metagrad/models';

/**
 * Runs `fn` with `module` in evaluation mode (dropout off) and without recording a graph, then
 * puts the module back in the mode it was in, even when `fn` throws.
 */
export function evaluating<T>(module: Module, fn: () => T): T {
  const wasTraining = module.training;
  module.eval();
  try {
    return noGrad(fn);
  } finally {
    module.train(wasTraining);
  }
}
