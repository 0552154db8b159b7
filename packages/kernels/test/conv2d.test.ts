import fc from 'fast-check';
import {
  type Conv2dOptions, type Dtype, KernelError, conv2d, conv2dBackwardFilter, conv2dBackwardInput, getBackend, setBackend, sizeOf,
} from '@metagrad/kernels';
import {
  SENTINEL, backends, changedOutside, dot, dtypeArb, expectClose, inputLayoutArb, inputView, type InputLayout, layoutView, makeView,
  outKindArb, outView, pseudoRandom, toFlat, tolerance,
} from './helpers';

/** Every size of one convolution, resolved from the options as PyTorch's Conv2d documents them. */
interface Geometry {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  groupChannels: number;
  kernelH: number;
  kernelW: number;
  groups: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

function pairOf(value: number | readonly [number, number] | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/**
 * Resolves the output size H_out = floor((H + padding - dilation * (kernel - 1) - 1) / stride + 1),
 * with the total padding of both sides. 'same' pads dilation * (kernel - 1) in total, the smaller
 * half at the top and left, as torch.nn.Conv2d does.
 */
function resolveGeometry(xShape: number[], wShape: number[], options: Conv2dOptions): Geometry {
  const [batch, inChannels, height, width] = xShape;
  const [outChannels, groupChannels, kernelH, kernelW] = wShape;
  const [strideH, strideW] = pairOf(options.stride, 1);
  const [dilationH, dilationW] = pairOf(options.dilation, 1);

  let padTop: number, padBottom: number, padLeft: number, padRight: number;
  if (options.padding === 'same') {
    const totalH = dilationH * (kernelH - 1);
    const totalW = dilationW * (kernelW - 1);
    padTop = Math.floor(totalH / 2);
    padBottom = totalH - padTop;
    padLeft = Math.floor(totalW / 2);
    padRight = totalW - padLeft;
  } else if (options.padding === 'valid') {
    padTop = padBottom = padLeft = padRight = 0;
  } else {
    [padTop, padLeft] = pairOf(options.padding, 0);
    [padBottom, padRight] = [padTop, padLeft];
  }

  const outHeight = Math.floor((height + padTop + padBottom - dilationH * (kernelH - 1) - 1) / strideH + 1);
  const outWidth = Math.floor((width + padLeft + padRight - dilationW * (kernelW - 1) - 1) / strideW + 1);
  return {
    batch, inChannels, height, width, outChannels, groupChannels, kernelH, kernelW, groups: options.groups ?? 1,
    strideH, strideW, dilationH, dilationW, padTop, padLeft, outHeight, outWidth,
  };
}

/**
 * Computes the convolution y, and the two gradients dx and dw for an output gradient dy, in one
 * loop over every (output position, filter tap) pair whose input position lies inside x:
 *   y[n][f][oh][ow]  += x[n][c][ih][iw] * w[f][cg][kh][kw]
 *   dx[n][c][ih][iw] += dy[n][f][oh][ow] * w[f][cg][kh][kw]
 *   dw[f][cg][kh][kw] += x[n][c][ih][iw] * dy[n][f][oh][ow]
 * with ih = oh * strideH - padTop + kh * dilationH (likewise iw), and c = group(f) * Cg + cg.
 * All arrays are row-major float64 lists.
 */
function referenceConvolution(g: Geometry, x: number[], w: number[], dy: number[]): { y: number[]; dx: number[]; dw: number[] } {
  const y = new Array<number>(g.batch * g.outChannels * g.outHeight * g.outWidth).fill(0);
  const dx = new Array<number>(x.length).fill(0);
  const dw = new Array<number>(w.length).fill(0);
  const filtersPerGroup = g.outChannels / g.groups;

  for (let n = 0; n < g.batch; n++) {
    for (let f = 0; f < g.outChannels; f++) {
      const group = Math.floor(f / filtersPerGroup);
      for (let oh = 0; oh < g.outHeight; oh++) {
        for (let ow = 0; ow < g.outWidth; ow++) {
          const yi = ((n * g.outChannels + f) * g.outHeight + oh) * g.outWidth + ow;
          for (let cg = 0; cg < g.groupChannels; cg++) {
            const c = group * g.groupChannels + cg;
            for (let kh = 0; kh < g.kernelH; kh++) {
              const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
              if (ih < 0 || ih >= g.height) continue;
              for (let kw = 0; kw < g.kernelW; kw++) {
                const iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
                if (iw < 0 || iw >= g.width) continue;
                const xi = ((n * g.inChannels + c) * g.height + ih) * g.width + iw;
                const wi = ((f * g.groupChannels + cg) * g.kernelH + kh) * g.kernelW + kw;
                y[yi] += x[xi] * w[wi];
                dx[xi] += dy[yi] * w[wi];
                dw[wi] += x[xi] * dy[yi];
              }
            }
          }
        }
      }
    }
  }
  return { y, dx, dw };
}

/** A generated convolution: sizes, options, dtype and the layouts of x, w and dy. */
interface ConvProblem {
  xShape: number[];
  wShape: number[];
  options: Conv2dOptions;
  dtype: Dtype;
  layouts: [InputLayout, InputLayout, InputLayout];
  mask: number;
  seed: number;
}

const convProblemArb: fc.Arbitrary<ConvProblem> = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    groupIn: fc.integer({ min: 1, max: 3 }),
    groupOut: fc.integer({ min: 1, max: 3 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    paddingKind: fc.constantFrom('none', 'number', 'pair', 'same', 'valid'),
    padding: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    extra: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
    dtype: dtypeArb,
    layouts: fc.tuple(inputLayoutArb, inputLayoutArb, inputLayoutArb),
    mask: fc.nat(15),
    seed: fc.integer(),
  })
  .map((p) => {
    const options: Conv2dOptions = { groups: p.groups, dilation: p.dilation };
    if (p.paddingKind !== 'same') options.stride = p.stride;
    if (p.paddingKind === 'number') options.padding = p.padding[0];
    if (p.paddingKind === 'pair') options.padding = p.padding;
    if (p.paddingKind === 'same' || p.paddingKind === 'valid') options.padding = p.paddingKind;

    // The smallest input that still gives one output row and column, plus some extra.
    const totalPad = p.paddingKind === 'number' ? [2 * p.padding[0], 2 * p.padding[0]] : p.paddingKind === 'pair' ? p.padding.map((v) => 2 * v) : [0, 0];
    const span = [0, 1].map((axis) => p.dilation[axis] * (p.kernel[axis] - 1) + 1);
    const [height, width] = [0, 1].map((axis) => Math.max(1, span[axis] - (p.paddingKind === 'same' ? span[axis] : totalPad[axis])) + p.extra[axis]);

    return {
      xShape: [p.batch, p.groups * p.groupIn, height, width],
      wShape: [p.groups * p.groupOut, p.groupIn, p.kernel[0], p.kernel[1]],
      options,
      dtype: p.dtype,
      layouts: p.layouts,
      mask: p.mask,
      seed: p.seed,
    };
  });

/** Builds x, w and dy of a problem in its layouts, with values in [-1, 1). */
function buildViews(problem: ConvProblem) {
  const g = resolveGeometry(problem.xShape, problem.wShape, problem.options);
  const yShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const [xLayout, wLayout, dyLayout] = problem.layouts;
  const x = inputView(problem.dtype, problem.xShape, pseudoRandom(sizeOf(problem.xShape), problem.seed), xLayout, problem.mask);
  const w = inputView(problem.dtype, problem.wShape, pseudoRandom(sizeOf(problem.wShape), problem.seed + 1), wLayout, problem.mask);
  const dy = inputView(problem.dtype, yShape, pseudoRandom(sizeOf(yShape), problem.seed + 2), dyLayout, problem.mask);
  return { g, yShape, x, w, dy };
}

/** Allowed absolute error of a sum of `terms` products of values in [-1, 1]. */
function sumTolerance(dtype: Dtype, terms: number): number {
  return tolerance(dtype) * Math.max(1, terms);
}

describe.each(backends)('conv2d and its gradients on the %s backend', (backend) => {
  const previous = getBackend();
  beforeAll(() => setBackend(backend));
  afterAll(() => setBackend(previous));

  test('agree with reference loops on generated geometry', () => {
    fc.assert(
      fc.property(convProblemArb, outKindArb, (problem, outKind) => {
        const { g, yShape, x, w, dy } = buildViews(problem);
        const { dtype, options } = problem;
        const expected = referenceConvolution(g, toFlat(x), toFlat(w), toFlat(dy));
        const taps = g.groupChannels * g.kernelH * g.kernelW;

        const yOut = outView(dtype, yShape, outKind);
        const y = conv2d(x, w, options, yOut);
        expect(y.shape).toEqual(yShape);
        expectClose(toFlat(y), expected.y, tolerance(dtype), sumTolerance(dtype, taps));

        const dxOut = outView(dtype, problem.xShape, outKind);
        const dx = conv2dBackwardInput(dy, w, problem.xShape, options, dxOut);
        expect(dx.shape).toEqual(problem.xShape);
        expectClose(toFlat(dx), expected.dx, tolerance(dtype), sumTolerance(dtype, taps * g.outChannels));

        const dwOut = outView(dtype, problem.wShape, outKind);
        const dw = conv2dBackwardFilter(x, dy, problem.wShape, options, dwOut);
        expect(dw.shape).toEqual(problem.wShape);
        expectClose(toFlat(dw), expected.dw, tolerance(dtype), sumTolerance(dtype, g.batch * g.outHeight * g.outWidth));

        for (const [result, out] of [[y, yOut], [dx, dxOut], [dw, dwOut]] as const) {
          if (!out) continue;
          expect(result).toBe(out);
          expect(changedOutside(out)).toBe(0);
        }
      }),
      { numRuns: 120 },
    );
  });

  test('satisfy the adjoint identity', () => {
    // <conv2d(x, w), dy> = <x, conv2dBackwardInput(dy, w)> = <w, conv2dBackwardFilter(x, dy)>.
    fc.assert(
      fc.property(convProblemArb, (problem) => {
        const { g, x, w, dy } = buildViews({ ...problem, dtype: 'float64' });
        const terms = g.batch * g.outChannels * g.outHeight * g.outWidth * g.groupChannels * g.kernelH * g.kernelW;

        const forward = dot(toFlat(conv2d(x, w, problem.options)), toFlat(dy));
        const viaInput = dot(toFlat(x), toFlat(conv2dBackwardInput(dy, w, problem.xShape, problem.options)));
        const viaFilter = dot(toFlat(w), toFlat(conv2dBackwardFilter(x, dy, problem.wShape, problem.options)));
        expect(Math.abs(forward - viaInput)).toBeLessThanOrEqual(1e-13 * terms);
        expect(Math.abs(forward - viaFilter)).toBeLessThanOrEqual(1e-13 * terms);
      }),
      { numRuns: 60 },
    );
  });

  test('large case past the GEMM block sizes', () => {
    // Depth K = 29 * 3 * 3 = 261 > KC = 256, 65 filters > MC = 64 and N * OH * OW = 2 * 23 * 23 = 1058 > NC = 1024,
    // so the forward and both gradients run every blocked GEMM loop with ragged edges.
    const xShape = [2, 29, 23, 23];
    const wShape = [65, 29, 3, 3];
    const options: Conv2dOptions = { padding: 1 };
    const g = resolveGeometry(xShape, wShape, options);
    const yShape = [2, 65, 23, 23];
    const x = layoutView('float32', xShape, pseudoRandom(sizeOf(xShape), 11), 'transposed');
    const w = makeView('float32', wShape, pseudoRandom(sizeOf(wShape), 12));
    const dy = makeView('float32', yShape, pseudoRandom(sizeOf(yShape), 13));
    const expected = referenceConvolution(g, toFlat(x), toFlat(w), toFlat(dy));

    expectClose(toFlat(conv2d(x, w, options)), expected.y, 2e-5, 2e-5 * 261);
    expectClose(toFlat(conv2dBackwardInput(dy, w, xShape, options)), expected.dx, 2e-5, 2e-5 * 65 * 9);
    expectClose(toFlat(conv2dBackwardFilter(x, dy, wShape, options)), expected.dw, 2e-5, 2e-5 * 1058);
  });

  test('ones by hand', () => {
    const image = makeView('float32', [1, 1, 3, 3], new Array<number>(9).fill(1));
    const filter = makeView('float32', [1, 1, 2, 2], new Array<number>(4).fill(1));
    expect(toFlat(conv2d(image, filter, { padding: 'valid' }))).toEqual([4, 4, 4, 4]);
    expect(toFlat(conv2d(image, filter))).toEqual([4, 4, 4, 4]);
  });

  test('stride larger than the kernel', () => {
    const x = makeView('float64', [1, 1, 5, 5], Array.from({ length: 25 }, (_, i) => i));
    const w = makeView('float64', [1, 1, 1, 1], [2]);
    expect(toFlat(conv2d(x, w, { stride: 3 }))).toEqual([0, 6, 30, 36]);

    const dx = toFlat(conv2dBackwardInput(makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]), w, [1, 1, 5, 5], { stride: 3 }));
    const touched = dx.map((v, i) => (v !== 0 ? i : -1)).filter((i) => i >= 0);
    expect(touched).toEqual([0, 3, 15, 18]);
    expect(toFlat(conv2dBackwardFilter(x, makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]), [1, 1, 1, 1], { stride: 3 }))).toEqual([36]);
  });

  test('rows and columns no window covers get zero gradient', () => {
    // H = W = 5, kernel 2, stride 3, padding 1: windows cover rows -1..0 and 2..3, so rows and
    // columns 1 and 4 are never read.
    const w = makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]);
    const options: Conv2dOptions = { stride: 3, padding: 1 };
    const dy = makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]);
    const dx = toFlat(conv2dBackwardInput(dy, w, [1, 1, 5, 5], options));
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        const covered = (i === 0 || i === 2 || i === 3) && (j === 0 || j === 2 || j === 3);
        expect(dx[i * 5 + j]).toBe(covered ? 1 : 0);
      }
    }

    const x = makeView('float64', [1, 1, 5, 5], Array.from({ length: 25 }, (_, i) => (i % 5 === 4 || i >= 20 ? 1000 : 1)));
    expect(toFlat(conv2d(x, w, { stride: 2 }))).toEqual([4, 4, 4, 4]);
  });

  test("'same' with an even kernel pads bottom and right", () => {
    const x = makeView('float64', [1, 1, 2, 2], [1, 2, 3, 4]);
    const w = makeView('float64', [1, 1, 2, 2], [1, 1, 1, 1]);
    const y = conv2d(x, w, { padding: 'same' });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(toFlat(y)).toEqual([10, 6, 7, 4]);
  });

  test("'same' with dilation", () => {
    // Kernel 2 with dilation 3 spans 4 columns: 1 padded on the left and 2 on the right.
    const x = makeView('float64', [1, 1, 1, 4], [1, 2, 3, 4]);
    const w = makeView('float64', [1, 1, 1, 2], [1, 10]);
    expect(toFlat(conv2d(x, w, { padding: 'same', dilation: 3 }))).toEqual([30, 41, 2, 3]);

    // Kernel 3 with dilation 2 spans 5 rows and columns: 2 padded on every side.
    const square = makeView('float64', [1, 1, 3, 3], Array.from({ length: 9 }, (_, i) => i + 1));
    const centre = makeView('float64', [1, 1, 3, 3], [0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(toFlat(conv2d(square, centre, { padding: 'same', dilation: 2 }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('depthwise equals one convolution per channel', () => {
    const channels = 3;
    const x = makeView('float64', [2, channels, 6, 5], pseudoRandom(2 * channels * 30, 21));
    const w = layoutView('float64', [channels, 1, 3, 2], pseudoRandom(channels * 6, 22), 'transposed');
    const options: Conv2dOptions = { groups: channels, padding: [1, 0], stride: [2, 1] };
    const y = conv2d(x, w, options);
    expect(y.shape).toEqual([2, channels, 3, 4]);

    for (let c = 0; c < channels; c++) {
      const xc = x.lo(0, c, 0, 0).hi(2, 1, 6, 5);
      const wc = w.lo(c, 0, 0, 0).hi(1, 1, 3, 2);
      const yc = y.lo(0, c, 0, 0).hi(2, 1, 3, 4);
      expectClose(toFlat(yc), toFlat(conv2d(xc, wc, { padding: [1, 0], stride: [2, 1] })), 1e-15);
    }
  });

  test('backward input zeroes a prefilled out', () => {
    const w = makeView('float32', [1, 1, 1, 1], [1]);
    const out = outView('float32', [1, 1, 2, 2], 'contiguous')!;
    conv2dBackwardInput(makeView('float32', [1, 1, 1, 1], [5]), w, [1, 1, 2, 2], { stride: 2 }, out);
    expect(toFlat(out)).toEqual([5, 0, 0, 0]);
    expect(toFlat(out)).not.toContain(SENTINEL);
  });

  test('malformed shapes name the kernel and shapes', () => {
    const x = makeView('float32', [1, 3, 5, 5]);
    expect(() => conv2d(makeView('float32', [1, 3, 3]), makeView('float32', [1, 1, 1, 1]))).toThrow(KernelError);
    expect(() => conv2d(makeView('float32', [1, 3, 3]), makeView('float32', [1, 1, 1, 1]))).toThrow(
      'conv2d: input must be 4-D [N, C, H, W], got [1, 3, 3]; add a batch axis of 1 for a single image',
    );
    expect(() => conv2d(x, makeView('float32', [1, 3, 3]))).toThrow('conv2d: filters must be 4-D [F, C / groups, KH, KW], got [1, 3, 3]');
    expect(() => conv2d(x, makeView('float32', [2, 2, 3, 3]))).toThrow(
      'conv2d: filters expect 2 channels per group but the input has 3 channels in 1 group(s), so 3 per group ' +
        '(input [1, 3, 5, 5], filters [2, 2, 3, 3], options {})',
    );
  });

  test('invalid options name the option and value', () => {
    const x = makeView('float32', [1, 4, 5, 5]);
    const w = makeView('float32', [4, 2, 3, 3]);
    expect(() => conv2d(x, makeView('float32', [3, 2, 3, 3]), { groups: 2 })).toThrow(
      'conv2d: groups 2 must be a positive integer dividing both 4 input and 3 output channels (input [1, 4, 5, 5], filters [3, 2, 3, 3], options {"groups":2})',
    );
    expect(() => conv2d(x, w, { groups: 2, stride: 0 })).toThrow('conv2d: stride must be an integer >= 1 or a pair of them, got 0');
    expect(() => conv2d(x, w, { groups: 2, padding: -1 })).toThrow('conv2d: padding must be an integer >= 0 or a pair of them, got -1');
    expect(() => conv2d(x, w, { groups: 2, dilation: [1, 1.5] })).toThrow('conv2d: dilation must be an integer >= 1 or a pair of them, got [1,1.5]');
    expect(() => conv2d(x, w, { groups: 2, padding: 'same', stride: 2 })).toThrow(
      `conv2d: padding 'same' needs stride 1, got stride 2; give the padding as numbers instead (input [1, 4, 5, 5], filters [4, 2, 3, 3], options {"groups":2,"padding":"same","stride":2})`,
    );
  });

  test('kernel larger than the padded input is rejected', () => {
    expect(() => conv2d(makeView('float64', [1, 1, 2, 2]), makeView('float64', [1, 1, 3, 3]))).toThrow(
      'conv2d: the padded input (2x2) is smaller than the dilated kernel (3x3), so the output would be empty (input [1, 1, 2, 2], filters [1, 1, 3, 3], options {})',
    );
  });

  test('mixed dtypes and wrong out are rejected', () => {
    const x = makeView('float32', [1, 1, 3, 3]);
    expect(() => conv2d(x, makeView('float64', [1, 1, 2, 2]))).toThrow('conv2d: dtypes differ (x is float32, w is float64); convert one with cast() first');
    expect(() => conv2d(x, makeView('float32', [1, 1, 2, 2]), {}, makeView('float32', [1, 1, 3, 3]))).toThrow(
      'conv2d: out has shape [1, 1, 3, 3] but the result has shape [1, 1, 2, 2]',
    );
    expect(() => conv2dBackwardFilter(x, makeView('float32', [1, 1, 2, 2]), [1, 1, 2, 2], {}, makeView('float64', [1, 1, 2, 2]))).toThrow(
      'conv2dBackwardFilter: out is float64 but the inputs are float32',
    );
  });

  test('gradOutput of the wrong shape is rejected', () => {
    const w = makeView('float32', [1, 1, 3, 3]);
    const dy = makeView('float32', [1, 1, 3, 3]);
    expect(() => conv2dBackwardInput(dy, w, [1, 1, 4, 4])).toThrow(
      'conv2dBackwardInput: gradOutput has shape [1, 1, 3, 3] but the convolution of input [1, 1, 4, 4] with filters [1, 1, 3, 3] gives [1, 1, 2, 2]',
    );
    expect(() => conv2dBackwardFilter(makeView('float32', [1, 1, 4, 4]), dy, [1, 1, 3, 3])).toThrow(
      'conv2dBackwardFilter: gradOutput has shape [1, 1, 3, 3] but the convolution of input [1, 1, 4, 4] with filters [1, 1, 3, 3] gives [1, 1, 2, 2]',
    );
  });
});
