/** Dropout with a seedable mask. */
import { type RandomOptions, resolveGenerator } from '../random';
import { Tensor } from '../tensor';
import { mul } from './arithmetic';
import { filledLike } from './operands';

/** Options of `dropout`: whether it is active, and where its mask's random numbers come from. */
export interface DropoutOptions extends RandomOptions {
  /** When false, dropout returns x unchanged (evaluation). Default true. */
  training?: boolean;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p), so the expected
 * value is unchanged. The mask is a constant, so the gradient is the same mask times the
 * incoming gradient.
 */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability p must be in [0, 1], got ${p}`);
  if (options.training === false || p === 0) return x;
  if (p === 1) return mul(x, 0);

  const generator = resolveGenerator(options);
  const mask = filledLike(0, x);
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = generator.uniform() < p ? 0 : keepScale;
  return mul(x, mask);
}
