/**
 * A loader that batches sequences of similar length together, so that little of each batch is
 * padding. Training on length-sorted data would give batches in a fixed order, so the loader
 * sorts only within pools of consecutive examples of a shuffled order ("bucketing"), then
 * shuffles the order of the batches.
 */
import { Generator } from '@metagrad/autodiff';
import type { BatchSource } from './data-loader';

/** Options of `BucketedLoader`. */
export interface BucketedLoaderOptions {
  /** Number of examples per batch. */
  batchSize: number;
  /**
   * Whether each epoch draws a new random order (default true). Without shuffling, every epoch
   * visits the examples sorted by length, shortest first, which suits evaluation.
   */
  shuffle?: boolean;
  /** Batches per pool: each pool of batchSize * poolBatches examples is sorted by length. Default 50. */
  poolBatches?: number;
  /** Seed of the shuffling. Default 0. Give it or `generator`, not both. */
  seed?: number;
  /** Generator to draw orders from, shared with the caller. */
  generator?: Generator;
}

/**
 * Iterates a BatchSource in batches of examples of similar length. Each `for...of` loop is one
 * epoch. The same seed gives the same sequence of epochs.
 *
 * const loader = new BucketedLoader(source, lengths, { batchSize: 32, seed: 1 });
 * for (const batch of loader) { ... } // loader.length batches per epoch
 */
export class BucketedLoader<B> implements Iterable<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly poolBatches: number;
  private readonly generator: Generator;

  /** `lengths[i]` is the length of example i of `source`, the key that batches are grouped by. */
  constructor(readonly source: BatchSource<B>, readonly lengths: readonly number[], options: BucketedLoaderOptions) {
    const { batchSize } = options;
    const poolBatches = options.poolBatches ?? 50;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`BucketedLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(poolBatches) || poolBatches < 1) throw new Error(`BucketedLoader: poolBatches must be a positive integer, got ${poolBatches}`);
    if (lengths.length !== source.length) {
      throw new Error(`BucketedLoader: got ${lengths.length} lengths for a source of ${source.length} examples; give one length per example`);
    }
    if (options.seed !== undefined && options.generator !== undefined) throw new Error('BucketedLoader: pass either seed or generator, not both');

    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.poolBatches = poolBatches;
    this.generator = options.generator ?? new Generator(options.seed ?? 0);
  }

  /** Number of batches in an epoch. */
  get length(): number {
    return Math.ceil(this.source.length / this.batchSize);
  }

  /** Number of examples in an epoch. */
  get size(): number {
    return this.source.length;
  }

  /** Returns the example indices of every batch of the next epoch, in the order they will be visited. */
  epochBatches(): number[][] {
    const byLength = (a: number, b: number) => this.lengths[a] - this.lengths[b];
    if (!this.shuffle) {
      const sorted = Array.from({ length: this.source.length }, (_, i) => i).sort(byLength);
      return chunk(sorted, this.batchSize);
    }

    // The sort is stable, so examples of equal length stay in shuffled order. Breaking ties by
    // index instead would put neighbours in the dataset, often of one class, into one batch.
    const order = this.generator.permutation(this.source.length);
    const poolSize = this.batchSize * this.poolBatches;
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += poolSize) {
      const pool = order.slice(start, start + poolSize).sort(byLength);
      batches.push(...chunk(pool, this.batchSize));
    }
    return this.generator.shuffle(batches);
  }

  /** Starts an epoch: draws its batches, then builds each one only when the loop reaches it. */
  *[Symbol.iterator](): Iterator<B> {
    for (const indices of this.epochBatches()) yield this.source.batch(indices);
  }
}

function chunk(items: number[], size: number): number[][] {
  const chunks: number[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
