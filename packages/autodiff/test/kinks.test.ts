/**
 * The gradient each op takes at a point where it has no derivative, as its doc comment states.
 */
import { abs, clamp, leakyRelu, max, maxPool2d, maximum, min, minimum, relu, sign } from '@metagrad/autodiff';
import { leaf, valuesOf } from './helpers';

describe('gradients at kinks', () => {
  test('relu at 0 is 0', () => {
    const x = leaf([-1, 0, 1], [3]);
    relu(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 1]);
  });

  test('abs at 0 is 0', () => {
    const x = leaf([-2, 0, 2], [3]);
    abs(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([-1, 0, 1]);
  });

  test('leakyRelu at 0 is the slope', () => {
    const x = leaf([-1, 0, 1], [3]);
    leakyRelu(x, 0.2).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0.2, 0.2, 1]);
  });

  test('clamp passes the gradient at both bounds', () => {
    const x = leaf([-2, -1, 0, 1, 2], [5]);
    clamp(x, -1, 1).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 1, 1, 1, 0]);
  });

  test('maximum splits a tie in half', () => {
    const a = leaf([1, 2, 3], [3]);
    const b = leaf([1, 5, 0], [3]);
    maximum(a, b).sum().backward();
    expect(valuesOf(a.grad!)).toEqual([0.5, 0, 1]);
    expect(valuesOf(b.grad!)).toEqual([0.5, 1, 0]);
  });

  test('minimum splits a tie in half', () => {
    const a = leaf([1, 2, 3], [3]);
    const b = leaf([1, 5, 0], [3]);
    minimum(a, b).sum().backward();
    expect(valuesOf(a.grad!)).toEqual([0.5, 1, 0]);
    expect(valuesOf(b.grad!)).toEqual([0.5, 0, 1]);
  });

  test('maximum tie with a broadcast number', () => {
    const a = leaf([0, 0, 1], [3]);
    maximum(a, 0).sum().backward();
    expect(valuesOf(a.grad!)).toEqual([0.5, 0.5, 1]);
  });

  test('max reduction gives a tie to the first maximum', () => {
    const x = leaf([3, 1, 3, 2, 2, 2], [2, 3]);
    max(x, 1).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 0, 0, 1, 0, 0]);
  });

  test('max over all elements gives a tie to the first', () => {
    const x = leaf([1, 4, 4, 4], [2, 2]);
    max(x).backward();
    expect(valuesOf(x.grad!)).toEqual([0, 1, 0, 0]);
  });

  test('min reduction gives a tie to the first minimum', () => {
    const x = leaf([1, 3, 1, 2, 2, 0], [2, 3]);
    min(x, 1).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  test('maxPool2d gives a tie to the first maximum', () => {
    // One 2x2 window of equal values: row-major order makes the top-left element the first.
    const x = leaf([5, 5, 5, 5], [1, 1, 2, 2]);
    maxPool2d(x, 2).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([1, 0, 0, 0]);
  });

  test('maxPool2d tie inside overlapping windows', () => {
    const x = leaf([1, 7, 7, 7, 0, 7], [1, 1, 2, 3]);
    maxPool2d(x, { kernelSize: 2, stride: 1 }).sum().backward();
    // Both windows (columns 0-1 and columns 1-2) have their first maximum at row 0, column 1.
    expect(valuesOf(x.grad!)).toEqual([0, 2, 0, 0, 0, 0]);
  });

  test('sign has gradient 0 everywhere', () => {
    const x = leaf([-2, 0, 3], [3]);
    sign(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 0]);
  });
});
