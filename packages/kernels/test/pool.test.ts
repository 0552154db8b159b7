import fc from 'fast-check';
import ndarray from 'ndarray';
import {
  type AvgPool2dOptions, type Dtype, KernelError, type Pool2dOptions, avgPool2d, avgPool2dBackward, cast, maxPool2d,
  maxPool2dBackward, sizeOf,
} from '@metagrad/kernels';
import {
  SENTINEL, changedOutside, dot, dtypeArb, expectClose, inputLayoutArb, inputView, type InputLayout, makeView,
  outKindArb, outView, pseudoRandom, toFlat, tolerance,
} from './helpers';

/** Sizes of one pooling problem along one spatial axis. */
interface AxisGeometry {
  input: number;
  kernel: number;
  stride: number;
  padding: number;
  dilation: number;
  output: number;
}

/**
 * Computes the output size by the formula of PyTorch's MaxPool2d and AvgPool2d documentation:
 *   out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1), or ceil with ceilMode.
 * As the same pages document, a ceil-mode window that would start in the right padding is dropped.
 */
function outputSize(input: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode: boolean): number {
  const exact = (input + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
  let size = ceilMode ? Math.ceil(exact) : Math.floor(exact);
  while (ceilMode && (size - 1) * stride - padding >= input) size--;
  return size;
}

function axisGeometry(input: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode: boolean): AxisGeometry {
  return { input, kernel, stride, padding, dilation, output: outputSize(input, kernel, stride, padding, dilation, ceilMode) };
}

/** Input positions of window `o` along one axis, in window order, with -1 for a tap in the padding or past it. */
function windowTaps(axis: AxisGeometry, o: number): number[] {
  return Array.from({ length: axis.kernel }, (_, k) => {
    const position = o * axis.stride - axis.padding + k * axis.dilation;
    return position >= 0 && position < axis.input ? position : -1;
  });
}

/** Number of taps of window `o` inside the zero-padded input (input plus padding on both sides). */
function paddedTapCount(axis: AxisGeometry, o: number): number {
  let count = 0;
  for (let k = 0; k < axis.kernel; k++) {
    const position = o * axis.stride - axis.padding + k * axis.dilation;
    if (position >= -axis.padding && position < axis.input + axis.padding) count++;
  }
  return count;
}

/**
 * Computes max pooling and its gradient by reference loops. Each window takes the first of its
 * largest inputs in row-major window order, or its first NaN. A window with no input position
 * gives -Infinity and index -1. dx adds each dy to the input position its window chose.
 */
function referenceMaxPool(x: number[], dy: number[], shape: number[], rows: AxisGeometry, cols: AxisGeometry) {
  const [batch, channels, height, width] = shape;
  const values: number[] = [];
  const indices: number[] = [];
  const dx = new Array<number>(x.length).fill(0);
  let o = 0;
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let oh = 0; oh < rows.output; oh++) {
      for (let ow = 0; ow < cols.output; ow++, o++) {
        let best = -Infinity;
        let bestIndex = -1;
        for (const ih of windowTaps(rows, oh)) {
          for (const iw of windowTaps(cols, ow)) {
            if (ih < 0 || iw < 0) continue;
            const v = x[plane * height * width + ih * width + iw];
            if (Number.isNaN(best)) continue;
            if (bestIndex < 0 || v > best || Number.isNaN(v)) {
              best = v;
              bestIndex = ih * width + iw;
            }
          }
        }
        values.push(best);
        indices.push(bestIndex);
        if (bestIndex >= 0) dx[plane * height * width + bestIndex] += dy[o];
      }
    }
  }
  return { values, indices, dx };
}

/**
 * Computes average pooling and its gradient by reference loops. The sum covers the taps inside the
 * input. With countIncludePad the divisor counts every tap inside the zero-padded input, and
 * otherwise only the taps inside the input. Taps past the padding (ceil-mode overhang) never count.
 */
function referenceAvgPool(x: number[], dy: number[], shape: number[], rows: AxisGeometry, cols: AxisGeometry, countIncludePad: boolean) {
  const [batch, channels, height, width] = shape;
  const values: number[] = [];
  const dx = new Array<number>(x.length).fill(0);
  let o = 0;
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let oh = 0; oh < rows.output; oh++) {
      for (let ow = 0; ow < cols.output; ow++, o++) {
        const inside: number[] = [];
        for (const ih of windowTaps(rows, oh)) {
          for (const iw of windowTaps(cols, ow)) {
            if (ih >= 0 && iw >= 0) inside.push(plane * height * width + ih * width + iw);
          }
        }
        const divisor = countIncludePad ? paddedTapCount(rows, oh) * paddedTapCount(cols, ow) : inside.length;
        let total = 0;
        for (const p of inside) total += x[p];
        values.push(total / divisor);
        for (const p of inside) dx[p] += dy[o] / divisor;
      }
    }
  }
  return { values, dx };
}

/** A generated pooling problem: input shape, options in number or pair form, dtype and layouts. */
interface PoolProblem {
  shape: number[];
  options: AvgPool2dOptions & Pool2dOptions;
  rows: AxisGeometry;
  cols: AxisGeometry;
  dtype: Dtype;
  layouts: [InputLayout, InputLayout];
  mask: number;
  ties: boolean;
  seed: number;
}

function poolProblemArb(withDilation: boolean): fc.Arbitrary<PoolProblem> {
  return fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      channels: fc.integer({ min: 1, max: 3 }),
      kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
      stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), { nil: undefined }),
      padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      dilation: withDilation ? fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })) : fc.constant<[number, number]>([1, 1]),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
      extra: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
      asNumbers: fc.boolean(),
      dtype: dtypeArb,
      layouts: fc.tuple(inputLayoutArb, inputLayoutArb),
      mask: fc.nat(15),
      ties: fc.boolean(),
      seed: fc.integer(),
    })
    .map((p) => {
      const padding = p.padding.map((v, axis) => Math.min(v, Math.floor(p.kernel[axis] / 2)));
      const stride = p.stride ?? p.kernel;
      const span = [0, 1].map((axis) => p.dilation[axis] * (p.kernel[axis] - 1) + 1);
      const [height, width] = [0, 1].map((axis) => Math.max(1, span[axis] - 2 * padding[axis]) + p.extra[axis]);

      // Pass each option as one number when both axes agree and `asNumbers` is set, else as a pair.
      const form = (pair: readonly number[]): number | [number, number] => (p.asNumbers && pair[0] === pair[1] ? pair[0] : [pair[0], pair[1]]);
      const options: AvgPool2dOptions & Pool2dOptions = { kernelSize: form(p.kernel), padding: form(padding), ceilMode: p.ceilMode, countIncludePad: p.countIncludePad };
      if (p.stride) options.stride = form(p.stride);
      if (withDilation) options.dilation = form(p.dilation);

      return {
        shape: [p.batch, p.channels, height, width],
        options,
        rows: axisGeometry(height, p.kernel[0], stride[0], padding[0], p.dilation[0], p.ceilMode),
        cols: axisGeometry(width, p.kernel[1], stride[1], padding[1], p.dilation[1], p.ceilMode),
        dtype: p.dtype,
        layouts: p.layouts,
        mask: p.mask,
        ties: p.ties,
        seed: p.seed,
      };
    });
}

/** Builds x and dy of a problem in its layouts. With `ties`, x takes only five distinct values, so windows tie often. */
function buildViews(problem: PoolProblem) {
  const outShape = [problem.shape[0], problem.shape[1], problem.rows.output, problem.cols.output];
  const raw = pseudoRandom(sizeOf(problem.shape), problem.seed);
  const values = problem.ties ? raw.map((v) => Math.round(v * 2)) : raw;
  const x = inputView(problem.dtype, problem.shape, values, problem.layouts[0], problem.mask);
  const dy = inputView(problem.dtype, outShape, pseudoRandom(sizeOf(outShape), problem.seed + 1), problem.layouts[1], problem.mask);
  return { outShape, x, dy };
}

describe('maxPool2d', () => {
  test('agrees with reference loops on generated geometry', () => {
    fc.assert(
      fc.property(poolProblemArb(true), outKindArb, (problem, outKind) => {
        const { outShape, x, dy } = buildViews(problem);
        const expected = referenceMaxPool(toFlat(x), toFlat(dy), problem.shape, problem.rows, problem.cols);

        const { values, indices } = maxPool2d(x, problem.options);
        expect(values.shape).toEqual(outShape);
        expect(indices.shape).toEqual(outShape);
        expect(toFlat(values)).toEqual(expected.values);
        expect(toFlat(indices)).toEqual(expected.indices);

        const out = outView(problem.dtype, problem.shape, outKind);
        const dx = maxPool2dBackward(dy, indices, problem.shape, problem.options, out);
        if (out) expect(dx).toBe(out);
        expectClose(toFlat(dx), expected.dx, tolerance(problem.dtype));
        if (out) expect(changedOutside(out)).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  test('backward satisfies the adjoint identity', () => {
    // For fixed indices, max pooling is linear: <values, dy> = <x, maxPool2dBackward(dy)>.
    fc.assert(
      fc.property(poolProblemArb(true), (problem) => {
        const { x, dy } = buildViews({ ...problem, dtype: 'float64' });
        const { values, indices } = maxPool2d(x, problem.options);
        const chosen = toFlat(indices).map((index) => index >= 0);
        const left = dot(toFlat(values).map((v, i) => (chosen[i] ? v : 0)), toFlat(dy));
        const right = dot(toFlat(x), toFlat(maxPool2dBackward(dy, indices, problem.shape, problem.options)));
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * (1 + sizeOf(problem.shape)));
      }),
      { numRuns: 60 },
    );
  });

  test('ties go to the first element in window order', () => {
    const x = makeView('float64', [1, 1, 2, 4], [1, 5, 5, 2, 5, 5, 3, 3]);
    const { values, indices } = maxPool2d(x, { kernelSize: 2 });
    expect(toFlat(values)).toEqual([5, 5]);
    expect(toFlat(indices)).toEqual([1, 2]);

    const dx = maxPool2dBackward(makeView('float64', [1, 1, 1, 2], [1, 1]), indices, [1, 1, 2, 4], { kernelSize: 2 });
    expect(toFlat(dx)).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
  });

  test('overlapping windows add their gradients', () => {
    const x = makeView('float64', [1, 1, 1, 3], [0, 9, 0]);
    const options: Pool2dOptions = { kernelSize: [1, 2], stride: 1 };
    const { indices } = maxPool2d(x, options);
    expect(toFlat(indices)).toEqual([1, 1]);
    expect(toFlat(maxPool2dBackward(makeView('float64', [1, 1, 1, 2], [2, 3]), indices, [1, 1, 1, 3], options))).toEqual([0, 5, 0]);
  });

  test('NaN wins its window', () => {
    const x = makeView('float32', [1, 1, 2, 2], [1, NaN, 7, NaN]);
    const { values, indices } = maxPool2d(x, { kernelSize: 2 });
    expect(toFlat(values)).toEqual([NaN]);
    expect(toFlat(indices)).toEqual([1]);
  });

  test('padding never wins', () => {
    const x = makeView('float64', [1, 1, 2, 2], [-5, -6, -7, -8]);
    const { values, indices } = maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 });
    expect(toFlat(values)).toEqual([-5, -5, -6, -5, -5, -6, -7, -7, -8]);
    expect(toFlat(indices)).toEqual([0, 0, 1, 0, 0, 1, 2, 2, 3]);
  });

  test('dilation skips between taps', () => {
    const x = makeView('float64', [1, 1, 1, 5], [1, 9, 2, 8, 3]);
    const { values, indices } = maxPool2d(x, { kernelSize: [1, 2], stride: 1, dilation: [1, 2] });
    expect(toFlat(values)).toEqual([2, 9, 3]);
    expect(toFlat(indices)).toEqual([2, 1, 4]);
  });

  test('ceilMode drops a window that starts in the padding', () => {
    // Width 5, kernel 2, stride 2, padding 1: ceil gives 4 windows, but the 4th would start at
    // column 5, inside the right padding, so 3 remain (starting at -1, 1 and 3).
    const x = makeView('float64', [1, 1, 1, 5], [1, 2, 3, 4, 5]);
    const { values } = maxPool2d(x, { kernelSize: [1, 2], stride: [1, 2], padding: [0, 1], ceilMode: true });
    expect(values.shape).toEqual([1, 1, 1, 3]);
    expect(toFlat(values)).toEqual([1, 3, 5]);
  });

  test('ceilMode keeps a window that starts inside the input', () => {
    // Width 6, kernel 3, stride 2: floor gives 2 windows, ceil adds a third over columns 4 and 5.
    const x = makeView('float64', [1, 1, 1, 6], [1, 2, 3, 4, 6, 5]);
    expect(toFlat(maxPool2d(x, { kernelSize: [1, 3], stride: [1, 2] }).values)).toEqual([3, 6]);
    expect(toFlat(maxPool2d(x, { kernelSize: [1, 3], stride: [1, 2], ceilMode: true }).values)).toEqual([3, 6, 6]);
  });

  test('window with no input position gives -Infinity and index -1', () => {
    // Width 1, kernel 2, dilation 2, padding 1: the taps are columns -1 and 1, both outside.
    const x = makeView('float64', [1, 1, 1, 1], [4]);
    const options: Pool2dOptions = { kernelSize: [1, 2], dilation: [1, 2], padding: [0, 1] };
    const { values, indices } = maxPool2d(x, options);
    expect(toFlat(values)).toEqual([-Infinity]);
    expect(toFlat(indices)).toEqual([-1]);
    expect(toFlat(maxPool2dBackward(makeView('float64', [1, 1, 1, 1], [1]), indices, [1, 1, 1, 1], options))).toEqual([0]);
  });
});

describe('avgPool2d', () => {
  test('agrees with reference loops on generated geometry', () => {
    fc.assert(
      fc.property(poolProblemArb(false), outKindArb, (problem, outKind) => {
        const { outShape, x, dy } = buildViews(problem);
        const countIncludePad = problem.options.countIncludePad ?? true;
        const expected = referenceAvgPool(toFlat(x), toFlat(dy), problem.shape, problem.rows, problem.cols, countIncludePad);

        const out = outView(problem.dtype, outShape, outKind);
        const y = avgPool2d(x, problem.options, out);
        if (out) expect(y).toBe(out);
        expect(y.shape).toEqual(outShape);
        expectClose(toFlat(y), expected.values, tolerance(problem.dtype));
        if (out) expect(changedOutside(out)).toBe(0);

        const dxOut = outView(problem.dtype, problem.shape, outKind);
        const dx = avgPool2dBackward(dy, problem.shape, problem.options, dxOut);
        if (dxOut) expect(dx).toBe(dxOut);
        expectClose(toFlat(dx), expected.dx, tolerance(problem.dtype));
        if (dxOut) expect(changedOutside(dxOut)).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  test('backward satisfies the adjoint identity', () => {
    fc.assert(
      fc.property(poolProblemArb(false), (problem) => {
        const { x, dy } = buildViews({ ...problem, dtype: 'float64' });
        const left = dot(toFlat(avgPool2d(x, problem.options)), toFlat(dy));
        const right = dot(toFlat(x), toFlat(avgPool2dBackward(dy, problem.shape, problem.options)));
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * (1 + sizeOf(problem.shape)));
      }),
      { numRuns: 60 },
    );
  });

  test('countIncludePad both ways', () => {
    const x = makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]);
    const options: AvgPool2dOptions = { kernelSize: 2, stride: 1, padding: 1 };
    expect(toFlat(avgPool2d(x, options))).toEqual([0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]);
    expect(toFlat(avgPool2d(x, { ...options, countIncludePad: false }))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });

  test('ceilMode overhang is not counted', () => {
    // Width 6, kernel 3, stride 2, ceil: the third window covers columns 4 and 5 and overhangs by one.
    const x = makeView('float64', [1, 1, 1, 6], [1, 2, 3, 4, 6, 5]);
    for (const countIncludePad of [true, false]) {
      const y = avgPool2d(x, { kernelSize: [1, 3], stride: [1, 2], ceilMode: true, countIncludePad });
      expect(toFlat(y)).toEqual([2, 13 / 3, 5.5]);
    }
  });

  test('ceilMode with padding divides by the padded window', () => {
    // Width 5, kernel 2, stride 2, padding 1, ceil: windows start at -1, 1 and 3.
    const x = makeView('float64', [1, 1, 1, 5], [2, 4, 6, 8, 10]);
    const options: AvgPool2dOptions = { kernelSize: [1, 2], stride: [1, 2], padding: [0, 1], ceilMode: true };
    expect(toFlat(avgPool2d(x, options))).toEqual([1, 5, 9]);
    expect(toFlat(avgPool2d(x, { ...options, countIncludePad: false }))).toEqual([2, 5, 9]);
  });

  test('backward spreads evenly and zeroes a prefilled out', () => {
    const out = outView('float32', [1, 1, 2, 2], 'strided')!;
    avgPool2dBackward(makeView('float32', [1, 1, 1, 1], [8]), [1, 1, 2, 2], { kernelSize: 2 }, out);
    expect(toFlat(out)).toEqual([2, 2, 2, 2]);
    expect(changedOutside(out)).toBe(0);
    expect(toFlat(out)).not.toContain(SENTINEL);
  });
});

describe('pooling errors', () => {
  test('malformed input is rejected', () => {
    expect(() => maxPool2d(makeView('float32', [1, 4, 4]), { kernelSize: 2 })).toThrow(KernelError);
    expect(() => maxPool2d(makeView('float32', [1, 4, 4]), { kernelSize: 2 })).toThrow('maxPool2d: input must be 4-D [N, C, H, W], got [1, 4, 4]');
    const ints = ndarray(new Int32Array(4), [1, 1, 2, 2]);
    expect(() => avgPool2d(ints as never, { kernelSize: 2 })).toThrow('avgPool2d: expected a view of a Float32Array or Float64Array, got Int32Array');
  });

  test('invalid options name the option and value', () => {
    const x = makeView('float32', [1, 1, 4, 4]);
    expect(() => maxPool2d(x, { kernelSize: 3, padding: 2 })).toThrow('maxPool2d: padding 2 must be at most half the kernel size 3 (input [1, 1, 4, 4])');
    expect(() => avgPool2d(x, { kernelSize: 0 })).toThrow('avgPool2d: kernelSize must be an integer >= 1 or a pair of them, got 0');
    expect(() => maxPool2d(x, { kernelSize: 2, stride: [1] as never })).toThrow('maxPool2d: stride must be an integer >= 1 or a pair of them, got [1]');
    expect(() => maxPool2d(x, { kernelSize: 2, dilation: 0 })).toThrow('maxPool2d: dilation must be an integer >= 1 or a pair of them, got 0');
  });

  test('window larger than the padded input is rejected', () => {
    expect(() => maxPool2d(makeView('float32', [1, 1, 2, 2]), { kernelSize: 3 })).toThrow(
      'maxPool2d: input [1, 1, 2, 2] is smaller than the pooling window 3 with padding 0, so the output would be empty',
    );
  });

  test('gradOutput and indices of the wrong shape are rejected', () => {
    const options: Pool2dOptions = { kernelSize: 2 };
    const dy = makeView('float32', [1, 1, 3, 3]);
    expect(() => avgPool2dBackward(dy, [1, 1, 4, 4], options)).toThrow(
      'avgPool2dBackward: gradOutput has shape [1, 1, 3, 3] but pooling input [1, 1, 4, 4] gives [1, 1, 2, 2]',
    );

    const goodGrad = makeView('float32', [1, 1, 2, 2]);
    const badIndices = ndarray(new Int32Array(9), [1, 1, 3, 3]);
    expect(() => maxPool2dBackward(goodGrad, badIndices, [1, 1, 4, 4], options)).toThrow(
      'maxPool2dBackward: indices has shape [1, 1, 3, 3] but pooling input [1, 1, 4, 4] gives [1, 1, 2, 2]',
    );
  });

  test('out of another shape is rejected', () => {
    const x = makeView('float64', [1, 1, 4, 4]);
    expect(() => avgPool2d(x, { kernelSize: 2 }, makeView('float64', [1, 1, 4, 4]))).toThrow(
      'avgPool2d: out has shape [1, 1, 4, 4] but the result has shape [1, 1, 2, 2]',
    );
  });
});

describe('out arguments of maxPool2d and cast', () => {
  test('maxPool2d writes values into a strided out', () => {
    const x = makeView('float64', [1, 1, 2, 4], [1, 5, 2, 0, 3, 4, 8, 7]);
    const backing = makeView('float64', [1, 1, 1, 2]);
    const out = backing.step(1, 1, 1, -1); // a view that walks the two columns backwards
    const { values, indices } = maxPool2d(x, { kernelSize: 2 }, out);
    expect(values).toBe(out);
    expect(toFlat(out)).toEqual([5, 8]);
    expect(Array.from(backing.data)).toEqual([8, 5]);
    expect(Array.from(indices.data)).toEqual([1, 6]);
  });

  test('maxPool2d rejects an out of the wrong shape', () => {
    const x = makeView('float32', [1, 1, 2, 2]);
    expect(() => maxPool2d(x, { kernelSize: 2 }, makeView('float32', [1, 1, 2, 2]))).toThrow('maxPool2d: out has shape [1, 1, 2, 2] but the result has shape [1, 1, 1, 1]');
  });

  test('cast writes into out of the target dtype', () => {
    const out = makeView('float32', [3]);
    expect(cast(makeView('float64', [3], [0.5, 1.25, -2]), 'float32', out)).toBe(out);
    expect(Array.from(out.data)).toEqual([0.5, 1.25, -2]);
    expect(() => cast(makeView('float64', [3]), 'float32', makeView('float64', [3]) as never)).toThrow('cast: out is float64 but the inputs are float32');
  });
});
