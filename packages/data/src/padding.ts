/** Padding variable-length token sequences into one rectangular batch, with lengths and a mask. */
import { PADDING_ID } from './vocabulary';

/** A batch of sequences padded on the right to one length. */
export interface PaddedBatch {
  /** Token ids [N, L]: each sequence, cut to maxLength, then padded with paddingId. */
  ids: number[][];
  /** Number of real tokens in each row, in [0, L]. */
  lengths: number[];
  /** [N, L]: 1 at real tokens and 0 at padding. */
  mask: number[][];
}

/** Options of `padSequences`. */
export interface PaddingOptions {
  /** Maximum number of tokens kept per sequence; longer sequences are truncated. Default: no limit. */
  maxLength?: number;
  /** Id written into padded positions. Default 0, the padding id of every tokenizer here. */
  paddingId?: number;
  /**
   * End of a long sequence that is cut: 'end' keeps the first maxLength tokens (for an e-mail, its
   * subject and opening), 'start' keeps the last ones. Default 'end'.
   */
  truncate?: 'end' | 'start';
}

/**
 * Truncates each sequence to maxLength and pads all of them on the right to the longest
 * remaining length L (at least 1), so a batch of short sequences stays short.
 *
 * padSequences([[5, 6, 7], [8]], { maxLength: 2 })
 * // { ids: [[5, 6], [8, 0]], lengths: [2, 1], mask: [[1, 1], [1, 0]] }
 */
export function padSequences(sequences: readonly (readonly number[])[], options: PaddingOptions = {}): PaddedBatch {
  const maxLength = options.maxLength ?? Infinity;
  if (maxLength !== Infinity && (!Number.isInteger(maxLength) || maxLength < 1)) {
    throw new Error(`padSequences: maxLength must be a positive integer, got ${maxLength}`);
  }
  const paddingId = options.paddingId ?? PADDING_ID;
  const truncate = options.truncate ?? 'end';

  const kept = sequences.map((sequence) => {
    if (sequence.length <= maxLength) return sequence;
    return truncate === 'end' ? sequence.slice(0, maxLength) : sequence.slice(sequence.length - maxLength);
  });
  const width = Math.max(1, ...kept.map((sequence) => sequence.length));

  const ids = kept.map((sequence) => {
    const row = new Array<number>(width).fill(paddingId);
    for (let position = 0; position < sequence.length; position++) row[position] = sequence[position];
    return row;
  });
  const lengths = kept.map((sequence) => sequence.length);
  const mask = lengths.map((length) => Array.from({ length: width }, (_, position) => (position < length ? 1 : 0)));
  return { ids, lengths, mask };
}
