/** Containers: Sequential and ModuleList. */
import type { Tensor } from '@metagrad/autodiff';
import { Module } from './module';

/**
 * Applies its layers in order. Layers are named 0, 1, 2, ... as in torch.nn.Sequential, so
 * parameter names such as `0.weight` match PyTorch's.
 */
export class Sequential extends Module {
  private readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  /** Number of layers. */
  get length(): number {
    return this.layers.length;
  }

  /** The layer at `index`. */
  at(index: number): Module {
    const layer = this.layers[index < 0 ? index + this.layers.length : index];
    if (!layer) throw new Error(`Sequential: no layer at index ${index}; it has ${this.layers.length}`);
    return layer;
  }

  forward(x: Tensor): Tensor {
    let value = x;
    for (const layer of this.layers) value = (layer.forward as (input: Tensor) => Tensor)(value);
    return value;
  }
}

/** A list of modules registered as 0, 1, 2, ...; it has no forward of its own. */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const module of modules) this.append(module);
  }

  /** Adds a module at the end and returns this list. */
  append(module: M): this {
    this.registerModule(String(this.items.length), module);
    this.items.push(module);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const item = this.items[index < 0 ? index + this.items.length : index];
    if (!item) throw new Error(`ModuleList: no module at index ${index}; it has ${this.items.length}`);
    return item;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    throw new Error('ModuleList has no forward; iterate over its modules instead');
  }
}
