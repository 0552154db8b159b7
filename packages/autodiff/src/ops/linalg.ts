/**
 * Matrix product. VJP for C = A·B: dA = grad·Bᵀ and dB = Aᵀ·grad, each summed back over the
 * batch axes that broadcasting added. The transposes are views, read in place by the GEMM.
 */
import * as k from '@metagrad/kernels';
import { SourceGradient, broadcastSource, record } from '../graph';
import { Tensor } from '../tensor';
import { requireTensor } from './operands';
import { sum } from './reduction';
import { reshape, sumToShape, transpose } from './shape';


/**
 * Matrix product with NumPy's matmul rules: [..., M, K] x [..., K, N] -> [..., M, N] with
 * broadcast batch axes; a 1-D operand is a vector and its axis is removed from the result.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireTensor('matmul', a, 'first operand');
  requireTensor('matmul', b, 'second operand');
  if (a.dtype !== b.dtype) {
    throw new Error(`matmul: dtypes differ: a is ${a.dtype} ${k.formatShape(a.shape)} and b is ${b.dtype} ${k.formatShape(b.shape)}; convert one with .to()`);
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: operands must have at least one axis, got a ${k.formatShape(a.shape)} and b ${k.formatShape(b.shape)}; use mul for scalars`);
  }

  // Vectors become matrices here, so that the VJP below only deals with matrices.
  if (a.ndim === 1 || b.ndim === 1) {
    const left = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const right = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const product = matmul(left, right);
    const shape = product.shape.slice();
    if (b.ndim === 1) shape.pop();
    if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1);
    return reshape(product, shape);
  }

  const result = Tensor.fromView(k.matmul(a, b));
  return record('matmul', result, [a, b], (grad) => [
    a.requiresGrad ? sumToShape(leftGradient(grad, b, isTransposed(a)), a.shape) : null,
    b.requiresGrad ? (summedOverBatch(a, grad, b) ?? sumToShape(rightGradient(a, grad, isTransposed(b)), b.shape)) : null,
  ]);
}

/**
 * Tells whether the last two axes of x are stored column by column, as in a transposed view of
 * a row-major matrix. Such an operand gets its gradient in the same layout: the transpose's VJP
 * then passes on a row-major gradient, which adds to the tensor's other gradients in one flat pass.
 */
function isTransposed(x: Tensor): boolean {
  const n = x.ndim;
  return x.shape[n - 2] > 1 && x.shape[n - 1] > 1 && x.stride[n - 2] === 1 && x.stride[n - 1] !== 1;
}

/** Computes dA = grad·Bᵀ, as the transpose of a row-major B·gradᵀ when `transposed`. */
function leftGradient(grad: Tensor, b: Tensor, transposed: boolean): Tensor {
  return transposed ? transpose(matmul(b, transpose(grad))) : matmul(grad, transpose(b));
}

/** Computes dB = Aᵀ·grad, as the transpose of a row-major gradᵀ·A when `transposed`. */
function rightGradient(a: Tensor, grad: Tensor, transposed: boolean): Tensor {
  return transposed ? transpose(matmul(transpose(grad), a)) : matmul(transpose(a), grad);
}

/**
 * Computes Σ_t L_tᵀ·R_t, the gradient of an operand b that broadcasts one matrix to every batch
 * index t, as the single product [L_1; ...; L_T]ᵀ·[R_1; ...; R_T]. The batch axes of `left`
 * [..., M, K] and `right` [..., M, N] are flattened into the rows. Returns undefined unless the
 * backward pass needs only that sum (see broadcastSource) and `left` has the batch axes of `right`.
 */
function summedOverBatch(left: Tensor, right: Tensor, b: Tensor): SourceGradient | undefined {
  const source = broadcastSource(b);
  if (source === undefined || !repeatsLastAxes(source, b, 2) || !sameBatch(left, right)) return undefined;

  const product = matmul(transpose(reshape(left, [-1, left.shape[left.ndim - 1]])), reshape(right, [-1, right.shape[right.ndim - 1]]));
  return new SourceGradient(source, reshape(product, source.shape));
}

/**
 * Tells whether `source` has the last `count` axes of `target` and size 1 on any axis before
 * them, so that `target` repeats it whole: a matrix [K, N] under b [..., K, N], or a row [out]
 * under a bias [B, out]. A column [B, 1] expanded to [B, out] does not pass, even when B equals out.
 */
function repeatsLastAxes(source: Tensor, target: Tensor, count: number): boolean {
  const lead = source.ndim - count;
  if (lead < 0) return false;
  const lastAxesMatch = source.shape.slice(lead).every((dim, i) => dim === target.shape[target.ndim - count + i]);
  return lastAxesMatch && source.shape.slice(0, lead).every((dim) => dim === 1);
}

/** Tells whether two tensors of at least two axes have the same axes before their last two. */
function sameBatch(x: Tensor, y: Tensor): boolean {
  return x.ndim === y.ndim && x.shape.slice(0, -2).every((dim, axis) => dim === y.shape[axis]);
}

/**
 * Affine map x·Wᵀ + b over the last axis, as PyTorch's F.linear: x [..., in], weight
 * [out, in], bias [out] or none; returns [..., out]. One op instead of three (transpose, matmul,
 * add), which matters for small layers where per-op overhead dominates.
 * VJP: dx = grad·W, dW = gradᵀ·x and db = sum of grad, with leading axes flattened.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  requireTensor('linear', x, 'input');
  requireTensor('linear', weight, 'weight');
  const inFeatures = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== inFeatures || x.ndim === 0) {
    throw new Error(
      `linear: weight ${k.formatShape(weight.shape)} does not fit input ${k.formatShape(x.shape)}; ` +
        'weight must be [outFeatures, inFeatures] with inFeatures equal to the last axis of the input',
    );
  }
  const outFeatures = weight.shape[0];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias must have shape [${outFeatures}], got ${k.formatShape(bias.shape)}`);
  }

  const weightT = { data: weight.data, shape: [inFeatures, outFeatures], stride: [weight.stride[1], weight.stride[0]], offset: weight.offset };
  const product = k.matmul(x, weightT);
  if (bias) k.add(product, bias, product);
  const result = Tensor.fromView(product);

  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', result, inputs, (grad) => {
    const rows = reshape(grad, [-1, outFeatures]);
    return [
      x.requiresGrad ? matmul(grad, weight) : null,
      weight.requiresGrad ? matmul(transpose(rows), reshape(x, [-1, inFeatures])) : null,
      bias?.requiresGrad ? sum(rows, 0) : null,
    ];
  });
}

/**
 * A batch of affine maps, one per leading index, as torch.baddbmm(bias, x, Wᵀ): x [B, N, in],
 * weight [B, out, in] and bias [B, out] or none; returns [B, N, out] with
 * result[b] = x[b]·weight[b]ᵀ + bias[b]. MAML's task-batched inner loop runs every task's
 * adapted layer with it. One op instead of four (transpose, matmul, unsqueeze, add), so the
 * graphs that second-order MAML records and differentiates again are smaller.
 * VJP: dx = grad·W, dW = gradᵀ·x and db = the sum of grad over N, each per batch index.
 */
export function batchedLinear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  requireTensor('batchedLinear', x, 'input');
  requireTensor('batchedLinear', weight, 'weight');
  if (bias) requireTensor('batchedLinear', bias, 'bias');
  if (x.dtype !== weight.dtype || (bias && bias.dtype !== x.dtype)) {
    throw new Error(`batchedLinear: dtypes differ: input ${x.dtype}, weight ${weight.dtype}${bias ? `, bias ${bias.dtype}` : ''}; convert them with .to()`);
  }
  const fits = x.ndim === 3 && weight.ndim === 3 && weight.shape[0] === x.shape[0] && weight.shape[2] === x.shape[2];
  if (!fits) {
    throw new Error(
      `batchedLinear: weight ${k.formatShape(weight.shape)} does not fit input ${k.formatShape(x.shape)}; ` +
        'the input must be [B, N, inFeatures] and the weight [B, outFeatures, inFeatures]',
    );
  }
  const [batch, , inFeatures] = x.shape;
  const outFeatures = weight.shape[1];
  if (bias && (bias.ndim !== 2 || bias.shape[0] !== batch || bias.shape[1] !== outFeatures)) {
    throw new Error(`batchedLinear: bias must have shape [${batch}, ${outFeatures}], got ${k.formatShape(bias.shape)}`);
  }

  const [batchStride, rowStride, columnStride] = weight.stride;
  const weightT = { data: weight.data, shape: [batch, inFeatures, outFeatures], stride: [batchStride, columnStride, rowStride], offset: weight.offset };
  const product = k.matmul(x, weightT);
  if (bias) k.add(product, { data: bias.data, shape: [batch, 1, outFeatures], stride: [bias.stride[0], 0, bias.stride[1]], offset: bias.offset }, product);
  const result = Tensor.fromView(product);

  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('batchedLinear', result, inputs, (grad) => [
    x.requiresGrad ? matmul(grad, weight) : null,
    weight.requiresGrad ? (summedOverBatch(grad, x, weight) ?? matmul(transpose(grad), x)) : null,
    bias?.requiresGrad ? (summedBias(grad, bias) ?? sum(grad, 1)) : null,
  ]);
}

/**
 * Sums grad over its batch and rows at once. This is the gradient of batchedLinear's bias
 * [B, out] when it broadcasts one bias to every batch index and the backward pass needs only
 * the sum (see broadcastSource). Returns undefined otherwise.
 */
function summedBias(grad: Tensor, bias: Tensor): SourceGradient | undefined {
  const source = broadcastSource(bias);
  if (source === undefined || !repeatsLastAxes(source, bias, 1)) return undefined;
  return new SourceGradient(source, reshape(sum(grad, [0, 1]), source.shape));
}
