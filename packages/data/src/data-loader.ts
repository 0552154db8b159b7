/**
 * A DataLoader splits the examples of a dataset into batches, in order or in a seeded random
 * order that changes every epoch. It never looks inside an example, so any source with a `length`
 * and a `batch(indices)` function can be loaded, and images and text share it.
 */
import { Generator } from '@metagrad/autodiff';

/** Examples that can be gathered into a batch of type B by their indices. */
export interface BatchSource<B> {
  /** Number of examples. */
  readonly length: number;
  /** Builds one batch from the examples at `indices`, in that order. */
  batch(indices: readonly number[]): B;
}

export interface DataLoaderOptions {
  /** Number of examples per batch (default 1, as in PyTorch). */
  batchSize?: number;
  /** Whether each epoch visits the examples in a new random order (default false). */
  shuffle?: boolean;
  /** Seed of the shuffling orders. Without a seed or a generator, shuffling uses seed 0. */
  seed?: number;
  /** Generator that shuffling orders are drawn from, shared with the caller. Give it or `seed`, not both. */
  generator?: Generator;
  /** Whether to skip the last batch when it has fewer than batchSize examples (default false). */
  dropLast?: boolean;
  /** Number of leading examples of the source to use (all of them when it has fewer), for quick runs. */
  limit?: number;
}

/**
 * Iterates a BatchSource in batches. Each `for...of` loop over the loader is one epoch, and with
 * `shuffle` each epoch draws a new order from the generator, so a loader built with the same seed
 * gives the same sequence of epochs.
 *
 * const loader = new DataLoader(source, { batchSize: 64, shuffle: true, seed: 1 });
 * loader.length // number of batches in an epoch
 * for (const batch of loader) { ... }
 */
export class DataLoader<B> implements Iterable<B> {
  readonly source: BatchSource<B>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Number of examples an epoch visits: the source's length, or `limit` when that is smaller. */
  readonly size: number;
  private readonly generator: Generator;

  constructor(source: BatchSource<B>, options: DataLoaderOptions = {}) {
    const batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    const limit = options.limit ?? Infinity;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) {
      throw new Error(`DataLoader: limit must be a non-negative integer, got ${limit}`);
    }
    if (options.seed !== undefined && options.generator !== undefined) {
      throw new Error('DataLoader: pass either seed or generator, not both');
    }

    this.source = source;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.size = Math.min(source.length, limit);
    this.generator = options.generator ?? new Generator(options.seed ?? 0);
  }

  /** Number of batches in an epoch. */
  get length(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** Starts an epoch: draws its order, then builds each batch only when the loop reaches it. */
  *[Symbol.iterator](): Iterator<B> {
    const order = this.shuffle ? this.generator.permutation(this.size) : Array.from({ length: this.size }, (_, i) => i);

    for (let batch = 0; batch < this.length; batch++) {
      const start = batch * this.batchSize;
      const indices = order.slice(start, Math.min(start + this.batchSize, this.size));
      yield this.source.batch(indices);
    }
  }
}
