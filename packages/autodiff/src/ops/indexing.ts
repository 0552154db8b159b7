/**
 * Indexing ops and their adjoints. indexSelect and indexAdd are each other's VJP, and so are
 * gather and scatterAdd; so their gradients of gradients are exact as well.
 */
import * as k from '@metagrad/kernels';
import { record } from '../graph';
import { Tensor } from '../tensor';
import { filledLike } from './operands';
import { reshape } from './shape';

/** Indices: a tensor (of any float dtype holding integers), an ndarray, or a flat list. */
export type IndexLike = Tensor | k.StridedView<ArrayLike<number>> | ArrayLike<number>;

function toIndexView(indices: IndexLike): k.StridedView<ArrayLike<number>> {
  if (indices instanceof Tensor) return indices;
  if ('shape' in indices && 'stride' in indices) return indices as k.StridedView<ArrayLike<number>>;
  const list = indices as ArrayLike<number>;
  return { data: list, shape: [list.length], stride: [1], offset: 0 };
}

/**
 * Takes slices of x along `axis` at `indices` (PyTorch's index_select, NumPy's take). The
 * result has shape x.shape[:axis] + indices.shape + x.shape[axis + 1:].
 *
 * indexSelect(tensor([[1, 2], [3, 4]]), 0, [1, 1]) is [[3, 4], [3, 4]].
 */
export function indexSelect(x: Tensor, axis: number, indices: IndexLike): Tensor {
  const view = toIndexView(indices);
  const result = Tensor.fromView(k.gather(x, view, axis));
  return record('indexSelect', result, [x], (grad) => [indexAdd(filledLike(0, grad, x.shape), axis, view, grad)]);
}

/**
 * Returns target with the slices of `src` added at `indices` along `axis`; repeated indices add
 * up. `src` has the shape `indexSelect(target, axis, indices)` would have.
 */
export function indexAdd(target: Tensor, axis: number, indices: IndexLike, src: Tensor): Tensor {
  const view = toIndexView(indices);
  const result = Tensor.fromView(k.scatterAdd(k.copy(target), view, src, axis));
  return record('indexAdd', result, [target, src], (grad) => [
    target.requiresGrad ? grad : null,
    src.requiresGrad ? indexSelect(grad, axis, view) : null,
  ]);
}

/**
 * Picks one element of x per index along `axis`, as torch.gather: for axis 1,
 * result[i][j] = x[i][index[i][j]]. `index` has x's number of axes; the result has its shape.
 *
 * gather(tensor([[1, 2], [3, 4]]), 1, tensor([[1], [0]])) is [[2], [3]].
 */
export function gather(x: Tensor, axis: number, index: IndexLike): Tensor {
  const view = toIndexView(index);
  const result = Tensor.fromView(k.gatherAlongAxis(x, view, axis));
  return record('gather', result, [x], (grad) => [scatterAdd(filledLike(0, grad, x.shape), axis, view, grad)]);
}

/**
 * Returns target with `src` added at the positions `gather` would read, as torch.scatter_add:
 * for axis 1, result[i][index[i][j]] += src[i][j]. Repeated positions add up.
 */
export function scatterAdd(target: Tensor, axis: number, index: IndexLike, src: Tensor): Tensor {
  const view = toIndexView(index);
  const result = Tensor.fromView(k.scatterAddAlongAxis(k.copy(target), view, src, axis));
  return record('scatterAdd', result, [target, src], (grad) => [
    target.requiresGrad ? grad : null,
    src.requiresGrad ? gather(grad, axis, view) : null,
  ]);
}

/** Options of `embedding`. */
export interface EmbeddingOptions {
  /**
   * Index whose row gets no gradient, as in PyTorch: padding tokens leave their vector unchanged.
   * A negative index counts back from the end, so -1 is the last row.
   */
  paddingIdx?: number;
}

/**
 * Looks up rows of `weight` [numEmbeddings, dim]: the result has shape indices.shape + [dim].
 * The gradient of a row is the sum over every position that looked it up.
 */
export function embedding(indices: IndexLike, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  const view = toIndexView(indices);
  if (weight.ndim !== 2) {
    throw new Error(`embedding: weight must be 2-D [numEmbeddings, dim], got shape ${k.formatShape(weight.shape)}`);
  }
  const flatIds = Array.from(k.elementOffsets(view), (offset) => view.data[offset]);
  const flat = { data: flatIds, shape: [flatIds.length], stride: [1], offset: 0 };
  const rows = Tensor.fromView(k.gather(weight, flat, 0));
  const result = new Tensor(rows.data, [...view.shape, weight.shape[1]]);

  const paddingIdx = resolvePaddingIdx(options.paddingIdx, weight.shape[0]);
  return record('embedding', result, [weight], (grad) => {
    const gradRows = reshape(grad, [flatIds.length, weight.shape[1]]);
    const zeros = filledLike(0, grad, weight.shape);
    if (paddingIdx === undefined) return [indexAdd(zeros, 0, flat, gradRows)];

    const kept = flatIds.map((id, position) => (id === paddingIdx ? -1 : position)).filter((position) => position >= 0);
    const keptIds = kept.map((position) => flatIds[position]);
    return [indexAdd(zeros, 0, keptIds, indexSelect(gradRows, 0, kept))];
  });
}

function resolvePaddingIdx(paddingIdx: number | undefined, rows: number): number | undefined {
  if (paddingIdx === undefined) return undefined;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -rows || paddingIdx >= rows) {
    throw new Error(`embedding: paddingIdx ${paddingIdx} is out of range for a weight with ${rows} rows; use an index in [${-rows}, ${rows - 1}]`);
  }
  return paddingIdx < 0 ? paddingIdx + rows : paddingIdx;
}
