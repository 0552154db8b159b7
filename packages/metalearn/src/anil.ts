/**
 * ANIL, "Almost No Inner Loop" (Raghu, Raghu, Bengio and Vinyals, "Rapid Learning or Feature
 * Reuse?", ICLR 2020): MAML whose inner loop adapts only the head, the last layer, while the
 * body is learned by the outer loop alone. Most of the network then needs no per-task weights
 * and no second derivatives through its inner steps.
 */
import type { Module } from '@metagrad/models';
import { MAML, type MamlOptions } from './maml';

/**
 * Returns the parameter names of the model's head: the last module without children that has
 * parameters.
 *
 * headParameterNames(new Sequential(new Linear(1, 40), new ReLU(), new Linear(40, 1))) is ['2.weight', '2.bias'].
 */
export function headParameterNames(module: Module): string[] {
  const leaves = module.namedModules().filter(([, child]) => child.children().length === 0 && child.parameters().length > 0);
  const last = leaves[leaves.length - 1];
  if (last === undefined) throw new Error(`headParameterNames: ${module.constructor.name} has no layer with parameters`);
  const [prefix, head] = last;
  return head.namedParameters(prefix).map(([name]) => name);
}

/**
 * MAML with the inner loop on the head only. `adapted` still overrides which parameters adapt.
 *
 * const anil = new ANIL(model, { innerLr: 0.1, innerSteps: 5 });
 * anil.adaptedNames; // the last layer's weight and bias
 */
export class ANIL<M extends Module = Module> extends MAML<M> {
  constructor(module: M, options: MamlOptions = {}) {
    super(module, { ...options, adapted: options.adapted ?? headParameterNames(module) });
  }
}
