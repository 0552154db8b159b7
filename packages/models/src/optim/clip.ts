/** Gradient clipping. */
import { type Tensor, noGrad } from '@metagrad/autodiff';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

/**
 * Scales the gradients of `params` in place so that their joint norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_, and returns the norm before clipping. `normType` is p of the
 * p-norm, or Infinity for the largest magnitude.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  let total = 0;
  for (const g of grads) {
    for (const v of g.toTypedArray()) total = normType === Infinity ? math.max(total, math.abs(v)) : total + math.abs(v) ** normType;
  }
  const norm = normType === Infinity ? total : total ** (1 / normType);

  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    noGrad(() => {
      for (const g of grads) {
        const end = g.offset + g.size;
        for (let i = g.offset; i < end; i++) g.data[i] *= scale;
      }
    });
  }
  return norm;
}
