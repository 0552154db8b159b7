/** Dropout layer with its own seeded generator. */
import { type Generator, type Tensor, dropout } from '@metagrad/autodiff';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';

/** Zeroes elements with probability p in training mode and scales the rest by 1 / (1 - p); identity in eval mode. */
export class Dropout extends Module {
  private readonly generator: Generator;

  constructor(readonly p = 0.5, options: LayerOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability p must be in [0, 1], got ${p}`);
    this.generator = layerGenerator(options);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }

  override describe(): string {
    return `p=${this.p}`;
  }
}
