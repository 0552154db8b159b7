/**
 * Meta-SGD (Li, Zhou, Chen and Li, "Meta-SGD: Learning to Learn Quickly for Few-Shot
 * Learning", 2017): MAML with a learned inner learning rate for every parameter element,
 * theta' = theta - alpha ⊙ grad L(theta), where alpha has each parameter's shape, starts at
 * `innerLr` and is meta-learned together with theta.
 */
import type { Module } from '@metagrad/models';
import { MAML, type MamlOptions } from './maml';

/** Options of Meta-SGD: those of MAML except `learnInnerLr`, since every rate is learned. */
export type MetaSgdOptions = Omit<MamlOptions, 'learnInnerLr'>;

/**
 * const metaSgd = new MetaSGD(model, { innerLr: 0.01 });
 * metaSgd.parameters(); // the model's parameters, then one rate tensor per parameter, of its shape
 */
export class MetaSGD<M extends Module = Module> extends MAML<M> {
  constructor(module: M, options: MetaSgdOptions = {}) {
    super(module, options, 'perElement');
  }
}
