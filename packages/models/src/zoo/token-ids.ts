/** Token id batches, as the Transformer models of the zoo take them. */
import { Tensor } from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';

/** A batch of token id sequences [N, L]: nested arrays or a tensor of integers. */
export type TokenBatch = readonly (readonly number[])[] | Tensor;

/**
 * Returns the ids of a batch as rows of equal length, checking that each is an integer in
 * [0, vocabSize) and that no row is longer than maxLength.
 */
export function tokenRows(caller: string, tokens: TokenBatch, vocabSize: number, maxLength: number): number[][] {
  let rows: number[][];
  if (tokens instanceof Tensor) {
    if (tokens.ndim !== 2) throw new Error(`${caller}: tokens must be [N, L], got shape ${formatShape(tokens.shape)}`);
    rows = tokens.toArray() as number[][];
  } else {
    rows = tokens.map((row) => Array.from(row));
  }

  if (rows.length === 0 || rows[0].length === 0) throw new Error(`${caller}: tokens must contain at least one sequence of at least one token`);
  const length = rows[0].length;
  rows.forEach((row, i) => {
    if (row.length !== length) throw new Error(`${caller}: sequence ${i} has ${row.length} tokens but sequence 0 has ${length}; pad them to one length`);
    const invalid = row.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (invalid >= 0) throw new Error(`${caller}: token ${row[invalid]} at [${i}, ${invalid}] is not an id in [0, ${vocabSize - 1}]`);
  });
  if (length > maxLength) throw new Error(`${caller}: sequences of ${length} tokens are longer than the model's maximum of ${maxLength}`);
  return rows;
}
