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
  const withGrads = [...params].filter((p) => p.grad !== null);
  let total = 0;
  for (const p of withGrads) {
    const g = p.grad!.contiguous();
    total = accumulateNorm(total, g.data, g.offset, g.offset + g.size, normType);
  }
  const norm = normType === Infinity ? total : total ** (1 / normType);

  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    noGrad(() => {
      for (const p of withGrads) {
        const g = p.grad!;
        // A strided gradient (a broadcast view, for one) may share elements, so it gets a scaled copy.
        if (g.contiguous() !== g) {
          p.grad = g.mul(scale);
          continue;
        }
        const end = g.offset + g.size;
        for (let i = g.offset; i < end; i++) g.data[i] *= scale;
      }
    });
  }
  return norm;
}

/** Adds the p-th powers of |values[start..end)| to `total`, or takes their maximum for p = Infinity. */
function accumulateNorm(total: number, values: ArrayLike<number>, start: number, end: number, normType: number): number {
  if (normType === Infinity) {
    for (let i = start; i < end; i++) total = math.max(total, math.abs(values[i]));
  } else if (normType === 2) {
    for (let i = start; i < end; i++) total += values[i] * values[i];
  } else {
    for (let i = start; i < end; i++) total += math.abs(values[i]) ** normType;
  }
  return total;
}
