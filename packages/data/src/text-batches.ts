/**
 * The adapter between tokenized, labelled texts and the loaders: it pads the sequences at some
 * indices into one batch with their lengths, mask and labels.
 */
import { Tensor } from '@metagrad/autodiff';
import { BucketedLoader, type BucketedLoaderOptions } from './bucketed-loader';
import type { BatchSource } from './data-loader';
import { type PaddingOptions, padSequences } from './padding';
import { UNKNOWN_ID } from './vocabulary';

/** A batch of token sequences and their labels. */
export interface TextBatch {
  /** Token ids [N, L], right-padded. */
  tokens: number[][];
  /** Number of real tokens in each row, each in [1, L]. */
  lengths: number[];
  /** [N, L]: 1 at real tokens, 0 at padding. */
  mask: number[][];
  /** Class indices as float32 of shape [N]. */
  y: Tensor;
  /** The dataset index of each example, in batch order. */
  indices: number[];
}

/** Options of `textBatches`: how sequences are cut and padded. */
export interface TextBatchOptions extends PaddingOptions {
  /** Maximum number of tokens kept per sequence. */
  maxLength: number;
}

/**
 * Wraps encoded texts and their labels as a BatchSource of TextBatch. An empty text becomes the
 * single unknown token, because recurrent layers and attention need at least one real position.
 *
 * const source = textBatches([[4, 5, 6], [7]], [1, 0], { maxLength: 2 });
 * source.batch([0, 1]).tokens // [[4, 5], [7, 0]]
 */
export function textBatches(sequences: readonly (readonly number[])[], labels: ArrayLike<number>, options: TextBatchOptions): BatchSource<TextBatch> {
  if (labels.length !== sequences.length) {
    throw new Error(`textBatches: got ${labels.length} labels for ${sequences.length} sequences; give one label per sequence`);
  }
  const nonEmpty = sequences.map((sequence) => (sequence.length === 0 ? [UNKNOWN_ID] : sequence));

  const batch = (indices: readonly number[]): TextBatch => {
    indices.forEach((index) => {
      if (!Number.isInteger(index) || index < 0 || index >= nonEmpty.length) {
        throw new Error(`textBatches: index ${index} is out of range for ${nonEmpty.length} sequences`);
      }
    });
    const padded = padSequences(indices.map((index) => nonEmpty[index]), options);
    const y = new Tensor(Float32Array.from(indices, (index) => labels[index]), [indices.length]);
    return { tokens: padded.ids, lengths: padded.lengths, mask: padded.mask, y, indices: [...indices] };
  };
  return { length: nonEmpty.length, batch };
}

/**
 * Creates a BucketedLoader over encoded texts: textBatches and BucketedLoader in one call, with
 * each text's length (capped at maxLength) as its bucketing key.
 *
 * const loader = textLoader(trainIds, trainLabels, { maxLength: 200, batchSize: 32, seed: 0 });
 * for (const { tokens, lengths, y } of loader) { ... }
 */
export function textLoader(
  sequences: readonly (readonly number[])[],
  labels: ArrayLike<number>,
  options: TextBatchOptions & BucketedLoaderOptions,
): BucketedLoader<TextBatch> {
  const lengths = sequences.map((sequence) => Math.max(1, Math.min(sequence.length, options.maxLength)));
  return new BucketedLoader(textBatches(sequences, labels, options), lengths, options);
}
