/**
 * A check that metagrad and its peer computed the same numbers, so that a table never
 * compares two different computations (a layout mix-up, say) as if they were one.
 */

/**
 * Throws unless every element of `actual` is within `tolerance` times the largest magnitude
 * in `expected` of the matching element of `expected`. Float32 sums of many products differ
 * between summation orders, so the bound is relative to the scale of the values.
 */
export function checkAgreement(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  if (actual.length !== expected.length) {
    throw new Error(`${name}: metagrad returned ${actual.length} values but the peer returned ${expected.length}`);
  }

  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));

  let worst = 0;
  let worstIndex = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(difference) || difference > worst) {
      worst = difference;
      worstIndex = i;
    }
    if (Number.isNaN(difference)) break;
  }

  if (!(worst <= tolerance * scale)) {
    throw new Error(
      `${name}: metagrad and the peer disagree at element ${worstIndex}: ${actual[worstIndex]} vs ${expected[worstIndex]} ` +
        `(difference ${worst}, allowed ${tolerance} x largest magnitude ${scale})`,
    );
  }
}
