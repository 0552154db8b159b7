/**
 * Special functions that JavaScript's Math lacks, computed in float64 to about 1e-15
 * relative accuracy so that float64 gradient checks of the ops built on them stay exact.
 */

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

const TWO_OVER_SQRT_PI = 2 / math.sqrt(math.PI);
const ONE_OVER_SQRT_PI = 1 / math.sqrt(math.PI);

/**
 * The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt.
 *
 * erf(0) is 0, erf(1) is 0.8427007929497149, erf(Infinity) is 1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const magnitude = math.abs(x);
  if (magnitude < 3) return erfSeries(x);
  const value = 1 - erfcContinuedFraction(magnitude);
  return x < 0 ? -value : value;
}

/** The complementary error function erfc(x) = 1 - erf(x), accurate in its tail. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  // Below 1, erfc(x) > 0.15, so the subtraction loses no relative accuracy, and erf covers every
  // negative x. From 1 on, the continued fraction converges within 200 terms.
  if (x < 1) return 1 - erf(x);
  return erfcContinuedFraction(x);
}

/**
 * erf(x) = 2/sqrt(pi) * e^(-x^2) * sum over n >= 0 of x * (2x^2)^n / (1 * 3 * ... * (2n + 1)).
 * Every term has the sign of x, so the sum has no cancellation; for |x| < 3 it needs at most
 * about 90 terms.
 */
function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
    if (math.abs(term) <= 1e-17 * math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * math.exp(-x * x) * sum;
}

/**
 * erfc(x) for x >= 1 from its continued fraction
 * erfc(x) = e^(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
 * evaluated with the modified Lentz algorithm.
 */
function erfcContinuedFraction(x: number): number {
  if (x > 27) return 0;
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * math.exp(-x * x)) / f;
}
