/** Embedding: a lookup table of learned vectors, one per token id. */
import { type IndexLike, type Tensor, embedding, zeros } from '@metagrad/autodiff';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';

/** Options of `Embedding`. */
export interface EmbeddingLayerOptions extends LayerOptions {
  /**
   * Id of the padding token, or negative to count from the end as in PyTorch. Its row starts
   * at zero and gets no gradient, so padding stays the zero vector through training.
   */
  paddingIdx?: number;
}

/**
 * A table of numEmbeddings vectors of size embeddingDim, as torch.nn.Embedding: weight
 * [numEmbeddings, embeddingDim] drawn from N(0, 1), with the padding row set to zero.
 *
 * const table = new Embedding(10, 3); table.forward([[1, 2], [4, 0]]).shape is [2, 2, 3].
 */
export class Embedding extends Module {
  readonly paddingIdx: number | undefined;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: EmbeddingLayerOptions = {}) {
    super();
    for (const [name, value] of [['numEmbeddings', numEmbeddings], ['embeddingDim', embeddingDim]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Embedding: ${name} must be a positive integer, got ${value}`);
    }
    this.paddingIdx = resolvePaddingIdx(options.paddingIdx, numEmbeddings);

    const generator = layerGenerator(options);
    const weight = init.normal(zeros([numEmbeddings, embeddingDim], { dtype: options.dtype ?? 'float32' }), 0, 1, { generator });
    if (this.paddingIdx !== undefined) weight.data.fill(0, this.paddingIdx * embeddingDim, (this.paddingIdx + 1) * embeddingDim);
    this.registerParameter('weight', weight);
  }

  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** Looks up the rows of `indices` (integers in [0, numEmbeddings)); the result has shape indices.shape + [embeddingDim]. */
  forward(indices: IndexLike | number[][]): Tensor {
    const ids = isNestedList(indices) ? nestedIndices(indices) : indices;
    return embedding(ids, this.weight, { paddingIdx: this.paddingIdx });
  }

  override describe(): string {
    const padding = this.paddingIdx === undefined ? '' : `, paddingIdx=${this.paddingIdx}`;
    return `${this.numEmbeddings}, ${this.embeddingDim}${padding}`;
  }
}

function resolvePaddingIdx(paddingIdx: number | undefined, numEmbeddings: number): number | undefined {
  if (paddingIdx === undefined) return undefined;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings) {
    throw new Error(`Embedding: paddingIdx ${paddingIdx} must be an integer in [-${numEmbeddings}, ${numEmbeddings - 1}], within the table`);
  }
  return paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
}

function isNestedList(indices: IndexLike | number[][]): indices is number[][] {
  return Array.isArray(indices) && indices.length > 0 && Array.isArray(indices[0]);
}

/** Converts a rectangular list of lists to a [rows, columns] index view. */
function nestedIndices(rows: number[][]): IndexLike {
  const columns = rows[0].length;
  rows.forEach((row, i) => {
    if (row.length !== columns) throw new Error(`Embedding: row ${i} of the indices has ${row.length} ids but row 0 has ${columns}; pad them to one length`);
  });
  return { data: rows.flat(), shape: [rows.length, columns], stride: [columns, 1], offset: 0 };
}
