import fc from 'fast-check';
import { type AvgPoolArgs, type Conv2dArgs, type PoolArgs, type Tensor, avgPool2d, conv2d, maxPool2d } from '@metagrad/autodiff';
import { checkGradients, distinctValuesArb, expectClose, leaf, rangeArb, sizeOf, valuesArb, valuesOf } from './helpers';

/** Convolutions and pools cost many passes each, so fewer generated cases than elsewhere. */
const CONV_RUNS = { numRuns: 3 };

function leafArb(shape: number[]): fc.Arbitrary<Tensor> {
  return valuesArb(sizeOf(shape), rangeArb(-1, 1)).map((values) => leaf(values, shape));
}

describe('conv2d', () => {
  const cases: Array<{ name: string; input: number[]; weight: number[]; bias: boolean; options: Conv2dArgs }> = [
    { name: 'plain', input: [1, 1, 3, 3], weight: [2, 1, 2, 2], bias: false, options: {} },
    { name: 'bias', input: [2, 2, 2, 3], weight: [2, 2, 2, 2], bias: true, options: {} },
    { name: 'stride 2', input: [1, 1, 5, 4], weight: [2, 1, 2, 2], bias: true, options: { stride: 2 } },
    { name: 'stride pair', input: [1, 1, 4, 5], weight: [1, 1, 2, 2], bias: false, options: { stride: [1, 2] } },
    { name: 'padding 1', input: [1, 2, 3, 3], weight: [1, 2, 3, 3], bias: true, options: { padding: 1 } },
    { name: 'padding pair', input: [1, 1, 3, 3], weight: [2, 1, 2, 2], bias: false, options: { padding: [1, 0] } },
    { name: "padding 'same' odd kernel", input: [1, 1, 4, 4], weight: [1, 1, 3, 3], bias: false, options: { padding: 'same' } },
    { name: "padding 'same' even kernel", input: [1, 1, 3, 4], weight: [2, 1, 2, 2], bias: true, options: { padding: 'same' } },
    { name: "padding 'valid'", input: [1, 1, 3, 3], weight: [1, 1, 2, 2], bias: false, options: { padding: 'valid' } },
    { name: 'dilation 2', input: [1, 1, 5, 5], weight: [1, 1, 2, 2], bias: false, options: { dilation: 2 } },
    { name: 'dilation with padding', input: [1, 1, 4, 4], weight: [1, 1, 2, 2], bias: true, options: { dilation: 2, padding: 1, stride: 2 } },
    { name: 'groups 2', input: [1, 4, 3, 3], weight: [2, 2, 2, 2], bias: true, options: { groups: 2 } },
    { name: 'depthwise', input: [1, 2, 3, 3], weight: [4, 1, 2, 2], bias: false, options: { groups: 2 } },
  ];

  test.each(cases)('$name', ({ input, weight, bias, options }) => {
    const arb = fc.tuple(leafArb(input), leafArb(weight), bias ? leafArb([weight[0]]).map((b): Tensor | null => b) : fc.constant(null));
    fc.assert(
      fc.property(arb, ([x, w, b]) => {
        const inputs = b ? [x, w, b] : [x, w];
        checkGradients((...args) => conv2d(args[0], args[1], args[2], options), inputs);
      }),
      CONV_RUNS,
    );
  });

  test('output by hand', () => {
    const x = leaf([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = leaf([1, 0, 0, -1], [1, 1, 2, 2]);
    const result = conv2d(x, w, leaf([10], [1]));
    expect(result.shape).toEqual([1, 1, 2, 2]);
    expect(valuesOf(result)).toEqual([6, 6, 6, 6]);
    result.sum().backward();
    // Each input pixel collects the taps that touch it: +1 from the top-left tap, -1 from the bottom-right.
    expect(valuesOf(x.grad!)).toEqual([1, 1, 0, 1, 0, -1, 0, -1, -1]);
    expect(valuesOf(w.grad!)).toEqual([12, 16, 24, 28]);
  });

  test("padding 'same' keeps the spatial size", () => {
    const x = leaf(new Array(12).fill(1), [1, 1, 3, 4]);
    expect(conv2d(x, leaf([1, 1, 1, 1], [1, 1, 2, 2]), null, { padding: 'same' }).shape).toEqual([1, 1, 3, 4]);
  });

  test('channel mismatch is rejected', () => {
    expect(() => conv2d(leaf(new Array(18).fill(0), [1, 2, 3, 3]), leaf(new Array(12).fill(0), [1, 3, 2, 2]))).toThrow(/conv2d.*\[1, 2, 3, 3\].*\[1, 3, 2, 2\]/);
  });

  test('bias of the wrong size is rejected', () => {
    expect(() => conv2d(leaf(new Array(9).fill(0), [1, 1, 3, 3]), leaf([1, 1, 1, 1], [1, 1, 2, 2]), leaf([1, 2], [2]))).toThrow(
      'conv2d: bias must have shape [1] (one value per filter), got [2]',
    );
  });
});

describe('maxPool2d', () => {
  const cases: Array<{ name: string; input: number[]; options: PoolArgs }> = [
    { name: 'kernel 2', input: [1, 2, 4, 4], options: 2 },
    { name: 'overlapping windows', input: [1, 1, 4, 4], options: { kernelSize: 2, stride: 1 } },
    { name: 'padding', input: [2, 1, 3, 3], options: { kernelSize: 2, padding: 1 } },
    { name: 'dilation', input: [1, 1, 5, 5], options: { kernelSize: 2, dilation: 2, stride: 1 } },
    { name: 'ceilMode', input: [1, 1, 5, 5], options: { kernelSize: 2, ceilMode: true } },
    { name: 'rectangular kernel', input: [1, 1, 4, 3], options: { kernelSize: [2, 3], stride: [2, 1] } },
  ];

  test.each(cases)('$name with distinct values', ({ input, options }) => {
    const arb = distinctValuesArb(sizeOf(input)).map((values) => leaf(values, input));
    fc.assert(
      fc.property(arb, (x) => {
        checkGradients((t) => maxPool2d(t, options), [x]);
      }),
      CONV_RUNS,
    );
  });

  test('gradient goes to each window maximum', () => {
    const x = leaf([1, 5, 2, 0, 3, 4, 8, 7, 6, 9, 1, 2, 0, 3, 4, 5], [1, 1, 4, 4]);
    const result = maxPool2d(x, 2);
    expect(valuesOf(result)).toEqual([5, 8, 9, 5]);
    result.sum().backward();
    expect(valuesOf(x.grad!)).toEqual([0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  });
});

describe('avgPool2d', () => {
  const cases: Array<{ name: string; input: number[]; options: AvgPoolArgs }> = [
    { name: 'kernel 2', input: [1, 2, 4, 4], options: 2 },
    { name: 'overlapping windows', input: [1, 1, 3, 4], options: { kernelSize: 2, stride: 1 } },
    { name: 'padding counted', input: [1, 1, 3, 3], options: { kernelSize: 2, padding: 1 } },
    { name: 'padding not counted', input: [1, 1, 3, 3], options: { kernelSize: 2, padding: 1, countIncludePad: false } },
    { name: 'ceilMode', input: [1, 1, 5, 5], options: { kernelSize: 2, ceilMode: true } },
    { name: 'ceilMode with padding not counted', input: [1, 1, 4, 4], options: { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false } },
    { name: 'ceilMode with padding counted', input: [1, 1, 4, 4], options: { kernelSize: 3, stride: 2, padding: 1, ceilMode: true } },
  ];

  test.each(cases)('$name', ({ input, options }) => {
    fc.assert(
      fc.property(leafArb(input), (x) => {
        checkGradients((t) => avgPool2d(t, options), [x]);
      }),
      CONV_RUNS,
    );
  });

  test('countIncludePad divisor at the border', () => {
    const x = leaf([4, 4, 4, 4], [1, 1, 2, 2]);
    // With padding 1, kernel 2 and stride 2, each window covers one pixel and three padded zeros.
    expectClose(valuesOf(avgPool2d(x, { kernelSize: 2, padding: 1 })), [1, 1, 1, 1], 1e-15);
    expectClose(valuesOf(avgPool2d(x, { kernelSize: 2, padding: 1, countIncludePad: false })), [4, 4, 4, 4], 1e-15);
  });
});
