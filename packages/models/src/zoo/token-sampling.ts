/** Drawing the next token of a language model from its logits. */
import type { Generator } from '@metagrad/autodiff';

/**
 * Draws a token id from softmax(logits / temperature), restricted to the topK largest logits
 * and any tied with the last of them. Temperature 0 returns the index of the first largest
 * logit. Sampling is not differentiated, so it works on plain numbers.
 *
 * sampleToken([0, 5, 1], 0, undefined, generator) // 1
 */
export function sampleToken(logits: ArrayLike<number>, temperature: number, topK: number | undefined, generator: Generator): number {
  const values = Array.from(logits);
  if (temperature === 0) return values.indexOf(Math.max(...values));

  const threshold = topK === undefined || topK >= values.length ? -Infinity : values.slice().sort((a, b) => b - a)[topK - 1];
  const peak = Math.max(...values);
  const weights = values.map((value) => (value >= threshold ? Math.exp((value - peak) / temperature) : 0));
  const total = weights.reduce((sum, weight) => sum + weight, 0);

  let remaining = generator.uniform() * total;
  for (let id = 0; id < weights.length; id++) {
    remaining -= weights[id];
    if (remaining < 0) return id;
  }
  // Rounding can leave a sliver of the total unassigned, which belongs to the last kept token.
  return weights.map((weight, id) => (weight > 0 ? id : -1)).reduce((last, id) => Math.max(last, id));
}
