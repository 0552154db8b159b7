/**
 * Loads the PyTorch reference cases of reference/attention_reference.json (made by
 * reference/attention_reference.py) and compares tensors against them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, tensor } from '@metagrad/autodiff';

/** A tensor as the reference script writes it: its shape and its values in row-major order. */
export interface PackedTensor {
  shape: number[];
  data: number[];
}

/** One reference case: configuration, weights, inputs, masks, output gradients and expected results. */
export interface ReferenceCase {
  config: Record<string, number | string | boolean | null>;
  state: Record<string, PackedTensor>;
  inputs: Record<string, PackedTensor>;
  keyPaddingMask: boolean[][] | null;
  boolAttnMask?: boolean[][][] | null;
  causal: boolean;
  averageAttnWeights?: boolean;
  gradOutput: PackedTensor;
  gradWeights?: PackedTensor;
  output: PackedTensor;
  weights?: PackedTensor;
  grads: Record<string, PackedTensor>;
}

/** Reads every reference case, by name. */
export function referenceCases(): Record<string, ReferenceCase> {
  const text = readFileSync(join(__dirname, 'reference', 'attention_reference.json'), 'utf8');
  return (JSON.parse(text) as { cases: Record<string, ReferenceCase> }).cases;
}

/** Unpacks a reference tensor into a float64 tensor. */
export function unpack(packed: PackedTensor, requiresGrad = false): Tensor {
  return tensor(Float64Array.from(packed.data), { shape: packed.shape, dtype: 'float64', requiresGrad });
}

/** Unpacks the state dict of a case into float64 tensors. */
export function unpackState(state: Record<string, PackedTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(state).map(([name, packed]) => [name, unpack(packed)]));
}

/** Tolerances of the float64 comparison with PyTorch: |actual - expected| <= atol + rtol * |expected|. */
export const REFERENCE_TOLERANCE = { atol: 1e-12, rtol: 1e-10 };

/** Throws, naming `label`, the flat index and both values, unless `actual` matches the packed reference. */
export function expectMatches(actual: Tensor | null | undefined, expected: PackedTensor, label: string): void {
  if (!actual) throw new Error(`${label}: no tensor to compare with the reference`);
  expect({ label, shape: actual.shape }).toEqual({ label, shape: expected.shape });
  const values = actual.toTypedArray();
  const { atol, rtol } = REFERENCE_TOLERANCE;
  let worst = { index: -1, actual: 0, expected: 0, excess: 0 };
  expected.data.forEach((value, index) => {
    const excess = Math.abs(values[index] - value) - (atol + rtol * Math.abs(value));
    if (excess > worst.excess || Number.isNaN(values[index])) worst = { index, actual: values[index], expected: value, excess };
  });
  if (worst.index >= 0) {
    throw new Error(`${label}: element ${worst.index} is ${worst.actual} but PyTorch gives ${worst.expected}`);
  }
}
