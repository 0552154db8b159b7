/**
 * Loads the PyTorch reference numbers that reference/layers_reference.py writes for the
 * embedding, normalisation and recurrent layers, and compares tensors against them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, tensor } from '@metagrad/autodiff';

/** A tensor as the reference script writes it: its shape and its values in row-major order. */
export interface EncodedTensor {
  shape: number[];
  values: number[];
}

/** Reads the cases of reference/<file>. */
export function loadCases<Case>(file: string): Case[] {
  const text = readFileSync(join(__dirname, 'reference', file), 'utf8');
  return (JSON.parse(text) as { cases: Case[] }).cases;
}

/** Decodes a reference tensor into a float64 tensor. */
export function decode(encoded: EncodedTensor, requiresGrad = false): Tensor {
  return tensor(Float64Array.from(encoded.values), { shape: encoded.shape, dtype: 'float64', requiresGrad });
}

/** Decodes a state dict into float64 tensors, keeping PyTorch's names. */
export function decodeState(state: Record<string, EncodedTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(state).map(([name, encoded]) => [name, decode(encoded)]));
}

/**
 * Tolerance of the float64 comparison with PyTorch: |actual - expected| <= atol + rtol * |expected|.
 * Both sides compute in float64 but sum and fuse in different orders, so they differ by rounding only.
 */
export const TOLERANCE = { atol: 1e-12, rtol: 1e-10 };

/** Throws, naming `label`, the element and both values, unless `actual` has the reference's shape and values. */
export function expectMatches(actual: Tensor | null | undefined, expected: EncodedTensor, label: string): void {
  if (!actual) throw new Error(`${label}: got no tensor to compare with the reference`);
  expect({ label, shape: actual.shape }).toEqual({ label, shape: expected.shape });
  const values = actual.toTypedArray();
  expected.values.forEach((value, index) => {
    const allowed = TOLERANCE.atol + TOLERANCE.rtol * Math.abs(value);
    if (!(Math.abs(values[index] - value) <= allowed)) {
      throw new Error(`${label}: element ${index} is ${values[index]} but PyTorch gives ${value} (allowed difference ${allowed})`);
    }
  });
}

/** sum(output * cotangent) over every pair: the scalar whose gradients the reference stores. */
export function pairing(outputs: readonly Tensor[], cotangents: readonly EncodedTensor[]): Tensor {
  return outputs.map((output, i) => output.mul(decode(cotangents[i])).sum()).reduce((total, term) => total.add(term));
}
