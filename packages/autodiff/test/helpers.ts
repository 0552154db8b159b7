/**
 * Shared test helpers: float64 leaves, a check that runs gradcheck and gradgradcheck together,
 * and fast-check generators of shapes and of values kept away from the kinks of the ops.
 */
import fc from 'fast-check';
import { type GradcheckOptions, type Tensor, gradcheck, gradgradcheck, tensor } from '@metagrad/autodiff';

/** Number of generated cases per property. gradgradcheck is costly, so each property runs a few small cases. */
export const RUNS = { numRuns: 12 };

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Creates a float64 leaf that requires gradients, with `values` in row-major order. */
export function leaf(values: number | readonly number[], shape?: readonly number[]): Tensor {
  return constant(values, shape).requiresGrad_(true);
}

/** Creates a float64 tensor that does not require gradients. */
export function constant(values: number | readonly number[], shape?: readonly number[]): Tensor {
  if (typeof values === 'number') return tensor(values, { dtype: 'float64', shape });
  return tensor(Float64Array.from(values), { shape: shape ?? [values.length] });
}

/** Asserts that `f` passes both gradcheck (first derivatives) and gradgradcheck (second derivatives). */
export function checkGradients(f: (...inputs: Tensor[]) => Tensor | Tensor[], inputs: readonly Tensor[], options?: GradcheckOptions): void {
  expect(gradcheck(f, inputs, options)).toBe(true);
  expect(gradgradcheck(f, inputs, options)).toBe(true);
}

/** Reads a tensor's elements as a plain array of numbers, row-major. */
export function valuesOf(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

/** Asserts that two lists of numbers agree elementwise within `atol + rtol * |expected|`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-9, atol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const allowed = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= allowed)) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (allowed difference ${allowed})`);
    }
  }
}

/** Shapes with minNdim..maxNdim axes of 1..maxDim elements. */
export function shapeArb(minNdim: number, maxNdim: number, maxDim = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minNdim, maxLength: maxNdim });
}

/** Values in [min, max]. */
export function rangeArb(min: number, max: number): fc.Arbitrary<number> {
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** Values with min <= |v| <= max and either sign, so that a kink at 0 is at least `min` away. */
export function awayFromZeroArb(min = 0.1, max = 2): fc.Arbitrary<number> {
  return fc.tuple(rangeArb(min, max), fc.boolean()).map(([magnitude, negative]) => (negative ? -magnitude : magnitude));
}

/** `size` values from `element`. */
export function valuesArb(size: number, element: fc.Arbitrary<number>): fc.Arbitrary<number[]> {
  return fc.array(element, { minLength: size, maxLength: size });
}

/**
 * `size` values that differ pairwise by at least 0.05, far more than a finite-difference step,
 * so that comparisons (max, min, maximum) do not flip while gradcheck perturbs them.
 */
export function distinctValuesArb(size: number): fc.Arbitrary<number[]> {
  const bound = Math.max(40, size);
  return fc.uniqueArray(fc.integer({ min: -bound, max: bound }), { minLength: size, maxLength: size }).map((ints) => ints.map((i) => i / 20));
}

/** Generates a shape together with a value from `element` for each of its elements. */
export function tensorArb(shape: fc.Arbitrary<number[]>, element: fc.Arbitrary<number>): fc.Arbitrary<{ shape: number[]; values: number[] }> {
  return shape.chain((s) => valuesArb(sizeOf(s), element).map((values) => ({ shape: s, values })));
}

/** Shapes that broadcast to `shape`: some leading axes dropped and some axes set to 1. */
export function broadcastOperandArb(shape: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }))
    .map(([dropped, ones]) => shape.map((dim, axis) => (ones[axis] ? 1 : dim)).slice(dropped));
}

/** Two shapes that broadcast together, each derived from a common result shape. */
export function broadcastPairArb(maxNdim = 3, maxDim = 3): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(0, maxNdim, maxDim).chain((shape) => fc.tuple(broadcastOperandArb(shape), broadcastOperandArb(shape)));
}
