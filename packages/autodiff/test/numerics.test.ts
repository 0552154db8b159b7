/**
 * Numerical edge cases: logits far apart, masked softmax rows, the NaN that `where` lets through
 * from an unpicked branch, and the variance of equal values.
 */
import { type Tensor, div, gather, logSoftmax, softmax, sqrt, where } from '@metagrad/autodiff';
import { constant, leaf, valuesOf } from './helpers';

/** Mean negative log-likelihood of `targets` ([N, 1] class indices) under softmax(logits). */
function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  return gather(logSoftmax(logits, -1), 1, targets).neg().mean();
}

describe('logits far apart', () => {
  const logits = [1e4, 0, -1e4, 0, 1e4, 2e4];

  test('logSoftmax values are finite and exact', () => {
    const x = leaf(logits, [2, 3]);
    expect(valuesOf(logSoftmax(x))).toEqual([0, -1e4, -2e4, -2e4, -1e4, 0]);
  });

  test('logSoftmax gradient is exact', () => {
    const x = leaf(logits, [2, 3]);
    logSoftmax(x).mul(constant([1, 2, 3, 1, 1, 1], [2, 3])).sum().backward();
    // d/dx sum(w * logSoftmax(x)) = w - softmax(x) * sum(w), and softmax is one-hot on each row here.
    expect(valuesOf(x.grad!)).toEqual([1 - 6, 2, 3, 1, 1, 1 - 3]);
  });

  test('cross-entropy value and gradient are exact', () => {
    const x = leaf(logits, [2, 3]);
    const loss = crossEntropy(x, constant([1, 2], [2, 1]));
    // Row 0 puts all mass on class 0 but the target is 1, which costs 1e4. Row 1 is right and costs 0.
    expect(loss.item()).toBe(5e3);
    loss.backward();
    // (softmax - one-hot) / N.
    expect(valuesOf(x.grad!)).toEqual([0.5, -0.5, 0, 0, 0, 0]);
  });
});

describe('masked softmax', () => {
  const masked = [1, 2, 3, -Infinity, -Infinity, -Infinity, 0, -Infinity, 0];
  const weights = constant([1, -2, 3, 4, 5, 6, 0.5, 7, -1], [3, 3]);

  test('fully masked row gives zeros', () => {
    const y = softmax(leaf(masked, [3, 3]));
    expect(valuesOf(y).slice(3, 6)).toEqual([0, 0, 0]);
    expect(valuesOf(y).slice(6)).toEqual([0.5, 0, 0.5]);
  });

  test('gradient has no NaN in any row', () => {
    const x = leaf(masked, [3, 3]);
    softmax(x).mul(weights).sum().backward();
    const g = valuesOf(x.grad!);

    expect(g.some(Number.isNaN)).toBe(false);
    expect(g.slice(3, 6)).toEqual([0, 0, 0]);
    expect(g[7]).toBe(0);
    // Row 2 is softmax([0, 0]) over its unmasked entries, so p = 0.5 each and sum(p w) = 0.25 - 0.5.
    // Its gradient p * (w - sum(p w)) is 0.5 * (0.5 + 0.25) at column 0.
    expect(g[6]).toBeCloseTo(0.375, 15);
    expect(g[8]).toBeCloseTo(0.5 * (-1 + 0.25), 15);
  });

  test('mask applied with where', () => {
    const x = leaf([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    const keep = constant([1, 1, 1, 0, 0, 0, 1, 0, 1], [3, 3]);
    softmax(where(keep, x, -Infinity)).mul(weights).sum().backward();
    const g = valuesOf(x.grad!);

    expect(g.some(Number.isNaN)).toBe(false);
    expect(g.slice(3, 6)).toEqual([0, 0, 0]);
    expect(g[7]).toBe(0);
  });

  test('logSoftmax of a masked row has a finite gradient', () => {
    const x = leaf(masked, [3, 3]);
    logSoftmax(x).slice(0).sum().backward();
    expect(valuesOf(x.grad!).some(Number.isNaN)).toBe(false);
  });
});

describe('where with an unsafe unpicked branch', () => {
  test('sqrt at 0 gives a NaN gradient', () => {
    // Known behaviour: the unpicked branch still runs its VJP, and 0 * (1 / sqrt(0)) is NaN.
    const x = leaf([0, 4], [2]);
    where(x.gt(0), sqrt(x), 0).sum().backward();
    expect(x.grad!.toArray()).toEqual([Number.NaN, 0.25]);
  });

  test('sqrt of a safe input gives 0', () => {
    const x = leaf([0, 4], [2]);
    const positive = x.gt(0);
    where(positive, sqrt(where(positive, x, 1)), 0).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0.25]);
  });

  test('reciprocal at 0 gives a NaN gradient', () => {
    // 1 / x is Infinity at 0, and the VJP of div multiplies the zero gradient by it.
    const x = leaf([0, 2], [2]);
    const y = where(x.ne(0), div(1, x), 0);
    expect(valuesOf(y)).toEqual([0, 0.5]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([Number.NaN, -0.25]);
  });

  test('reciprocal of a safe input gives 0', () => {
    const x = leaf([0, 2], [2]);
    const nonzero = x.ne(0);
    where(nonzero, div(1, where(nonzero, x, 1)), 0).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, -0.25]);
  });
});

describe('variance of equal values', () => {
  test.each([0.1, 1 / 3, -7.25, 1e8 + 0.1])('variance of constant %p is exactly 0', (value) => {
    const x = leaf(new Array(6).fill(value), [2, 3]);
    const v = x.var(1);
    expect(valuesOf(v)).toEqual([0, 0]);
    v.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('population variance of a constant over all axes', () => {
    const x = leaf(new Array(5).fill(0.3), [5]);
    const v = x.var(undefined, false, 0);
    expect(v.item()).toBe(0);
    v.backward();
    expect(valuesOf(x.grad!)).toEqual([0, 0, 0, 0, 0]);
  });

  test('std of a constant has a NaN gradient', () => {
    // The derivative of sqrt at 0 is infinite, and the VJP of var sends 0 * Infinity = NaN on.
    const x = leaf([2, 2, 2], [3]);
    const s = x.std();
    expect(s.item()).toBe(0);
    s.backward();
    expect(valuesOf(x.grad!).every(Number.isNaN)).toBe(true);
  });
});
