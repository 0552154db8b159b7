/** Central finite differences of a scalar function of a module's parameters, in float64. */
import { type Tensor, noGrad } from '@metagrad/autodiff';

/**
 * Returns d f / d p for every element of every tensor in `parameters`, by central differences
 * with step `epsilon`, perturbing each element in place and restoring it.
 */
export function finiteDifferenceGradients(parameters: readonly Tensor[], f: () => number, epsilon = 1e-6): Float64Array[] {
  return noGrad(() =>
    parameters.map((parameter) => {
      const gradient = new Float64Array(parameter.size);
      for (let i = 0; i < parameter.size; i++) {
        const position = parameter.offset + i;
        const original = parameter.data[position];
        parameter.data[position] = original + epsilon;
        const above = f();
        parameter.data[position] = original - epsilon;
        const below = f();
        parameter.data[position] = original;
        gradient[i] = (above - below) / (2 * epsilon);
      }
      return gradient;
    }),
  );
}

/** Returns the largest |a - b| / max(1, |b|) over two lists of arrays. */
export function maxRelativeError(actual: ArrayLike<number>[], expected: ArrayLike<number>[]): number {
  let worst = 0;
  actual.forEach((values, k) => {
    for (let i = 0; i < values.length; i++) {
      const error = Math.abs(values[i] - expected[k][i]) / Math.max(1, Math.abs(expected[k][i]));
      worst = Math.max(worst, error);
    }
  });
  return worst;
}
