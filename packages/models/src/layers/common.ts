/** Options that every layer with parameters accepts. */
import { type Dtype } from '@metagrad/kernels';
import { Generator, type RandomOptions } from '@metagrad/autodiff';

/** Where a layer's initial weights come from, and their dtype. */
export interface LayerOptions extends RandomOptions {
  /** Element type of the parameters. Default float32. */
  dtype?: Dtype;
}

/**
 * The generator a layer initialises from: the given one, a new one from `seed`, or a new one
 * from seed 0, so that an unseeded model is still the same on every run.
 */
export function layerGenerator(options: LayerOptions): Generator {
  if (options.generator && options.seed !== undefined) throw new Error('layer options: pass either a seed or a generator, not both');
  return options.generator ?? new Generator(options.seed ?? 0);
}
