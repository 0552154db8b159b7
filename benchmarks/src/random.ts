/**
 * Seeded random inputs, so that metagrad and its peer see the same numbers in every run.
 */

/**
 * Returns `size` floats drawn uniformly from [-1, 1) by the mulberry32 generator started at
 * `seed`. The same seed always gives the same array.
 */
export function randomFloat32(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0;

  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    const unit = ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
    values[i] = 2 * unit - 1;
  }
  return values;
}

/**
 * Returns `count` values in [-1, 1) from the Park-Miller generator started at `seed`. Its
 * products stay below 2^53, so a Python twin that reimplements it computes the same numbers.
 */
export function parkMiller(count: number, seed: number): number[] {
  let state = seed;
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state * 16807) % 2147483647;
    values.push((2 * state) / 2147483647 - 1);
  }
  return values;
}
