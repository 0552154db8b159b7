import fc from 'fast-check';
import ndarray, { type NdArray } from 'ndarray';
import {
  type FloatArray, KernelError, abs, affine, clamp, copy, cos, elu, erf, erfScalar, erfcScalar, exp, expm1, fill, gelu,
  leakyRelu, log, log1p, neg, powScalar, reciprocal, relu, rsqrt, sigmoid, sign, sin, softplus, sqrt, square, tanh,
} from '@metagrad/kernels';
import {
  changedOutside, dtypeArb, expectClose, inputLayoutArb, inputView, makeView, outKindArb, outView, roundTo,
  shapeAndValuesArb, toFlat, tolerance,
} from './helpers';

type UnaryKernel = (x: NdArray<FloatArray>, out?: NdArray<FloatArray>) => NdArray<FloatArray>;

/** erf(x) = 2/sqrt(pi) * integral of e^(-t^2) from 0 to x, by Simpson's rule on 2000 intervals (error below 1e-14). */
function erfReference(x: number): number {
  if (Number.isNaN(x)) return NaN;
  // Past 6, erf differs from 1 by less than 1e-17, below float64 resolution.
  const upper = Math.min(Math.abs(x), 6);
  const intervals = 2000;
  const h = upper / intervals;
  let total = 1 + Math.exp(-upper * upper);
  for (let i = 1; i < intervals; i++) {
    const t = i * h;
    total += (i % 2 === 1 ? 4 : 2) * Math.exp(-t * t);
  }
  const value = ((2 / Math.sqrt(Math.PI)) * total * h) / 3;
  return x < 0 ? -value : value;
}

/** Each kernel with a plain float64 definition of its scalar function. */
const cases: Array<{ name: string; run: UnaryKernel; reference: (v: number) => number }> = [
  { name: 'copy', run: (x, out) => copy(x, out), reference: (v) => v },
  { name: 'neg', run: (x, out) => neg(x, out), reference: (v) => -v },
  { name: 'exp', run: (x, out) => exp(x, out), reference: Math.exp },
  { name: 'expm1', run: (x, out) => expm1(x, out), reference: Math.expm1 },
  { name: 'log', run: (x, out) => log(x, out), reference: Math.log },
  { name: 'log1p', run: (x, out) => log1p(x, out), reference: Math.log1p },
  { name: 'sqrt', run: (x, out) => sqrt(x, out), reference: Math.sqrt },
  { name: 'rsqrt', run: (x, out) => rsqrt(x, out), reference: (v) => 1 / Math.sqrt(v) },
  { name: 'reciprocal', run: (x, out) => reciprocal(x, out), reference: (v) => 1 / v },
  { name: 'square', run: (x, out) => square(x, out), reference: (v) => Math.pow(v, 2) },
  { name: 'abs', run: (x, out) => abs(x, out), reference: (v) => (v < 0 ? -v : v) },
  { name: 'sign', run: (x, out) => sign(x, out), reference: (v) => (v > 0 ? 1 : v < 0 ? -1 : v) },
  { name: 'sin', run: (x, out) => sin(x, out), reference: Math.sin },
  { name: 'cos', run: (x, out) => cos(x, out), reference: Math.cos },
  { name: 'tanh', run: (x, out) => tanh(x, out), reference: (v) => (Math.exp(2 * v) - 1) / (Math.exp(2 * v) + 1) },
  { name: 'sigmoid', run: (x, out) => sigmoid(x, out), reference: (v) => 1 / (1 + Math.exp(-v)) },
  { name: 'relu', run: (x, out) => relu(x, out), reference: (v) => Math.max(v, 0) },
  { name: 'leakyRelu', run: (x, out) => leakyRelu(x, 0.2, out), reference: (v) => Math.max(v, 0) + 0.2 * Math.min(v, 0) },
  { name: 'elu', run: (x, out) => elu(x, 1.5, out), reference: (v) => (v > 0 ? v : 1.5 * (Math.exp(v) - 1)) },
  { name: 'softplus', run: (x, out) => softplus(x, out), reference: (v) => Math.log(1 + Math.exp(v)) },
  { name: 'erf', run: (x, out) => erf(x, out), reference: erfReference },
  { name: 'gelu', run: (x, out) => gelu(x, out), reference: (v) => 0.5 * v * (1 + erfReference(v / Math.SQRT2)) },
  { name: 'clamp', run: (x, out) => clamp(x, -1, 2, out), reference: (v) => Math.min(Math.max(v, -1), 2) },
  { name: 'affine', run: (x, out) => affine(x, 2.5, -1, out), reference: (v) => 2.5 * v - 1 },
  { name: 'powScalar cube', run: (x, out) => powScalar(x, 3, out), reference: (v) => v * v * v },
  { name: 'powScalar square root', run: (x, out) => powScalar(x, 0.5, out), reference: Math.sqrt },
  { name: 'powScalar inverse square', run: (x, out) => powScalar(x, -2, out), reference: (v) => 1 / (v * v) },
];

describe('unary kernels', () => {
  test.each(cases)('$name agrees with reference on generated views', ({ run, reference }) => {
    fc.assert(
      fc.property(
        dtypeArb,
        shapeAndValuesArb(0, 4, 4),
        inputLayoutArb,
        fc.nat(15),
        outKindArb,
        (dtype, [shape, values], layout, mask, outKind) => {
          const x = inputView(dtype, shape, values, layout, mask);
          const out = outView(dtype, shape, outKind);
          const result = run(x, out);

          if (out) expect(result).toBe(out);
          expect(result.shape).toEqual(shape);
          const expected = roundTo(dtype, toFlat(x).map(reference));
          expectClose(toFlat(result), expected, tolerance(dtype));
          if (out) expect(changedOutside(out)).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  test.each(cases)('$name leaves its input unchanged', ({ run }) => {
    const x = inputView('float64', [3, 2], [0.5, -1, 2, 0, 7, -3], 'transposed');
    const before = Array.from(x.data);
    run(x);
    expect(Array.from(x.data)).toEqual(before);
  });

  test('in place on contiguous and transposed views', () => {
    for (const layout of ['contiguous', 'transposed'] as const) {
      const x = inputView('float64', [2, 3], [0, 1, 2, 3, 4, 5], layout);
      expect(exp(x, x)).toBe(x);
      expectClose(toFlat(x), [0, 1, 2, 3, 4, 5].map(Math.exp), 1e-15);
    }
  });

  test('edge values', () => {
    const run = (kernel: UnaryKernel, values: number[]) => Array.from(kernel(makeView('float64', [values.length], values)).data);

    expect(run(exp, [-Infinity, Infinity, NaN])).toEqual([0, Infinity, NaN]);
    expect(run(log, [0, -1, Infinity])).toEqual([-Infinity, NaN, Infinity]);
    expect(run(sqrt, [-1, 0, Infinity])).toEqual([NaN, 0, Infinity]);
    expect(run(rsqrt, [0, Infinity])).toEqual([Infinity, 0]);
    expect(run(reciprocal, [0, -0])).toEqual([Infinity, -Infinity]);
    expect(run(sign, [NaN, -Infinity, 0])).toEqual([NaN, -1, 0]);
    expect(run(relu, [NaN, -Infinity, Infinity])).toEqual([NaN, 0, Infinity]);
    expect(run((x) => clamp(x, -1, 1), [NaN, -Infinity, Infinity])).toEqual([NaN, -1, 1]);
    expect(run(tanh, [1000, -1000])).toEqual([1, -1]);

    // Both branches of sigmoid avoid e^-x overflowing.
    expect(run(sigmoid, [-1000, 0, 1000, NaN])).toEqual([0, 0.5, 1, NaN]);
    expect(run(softplus, [1000, -1000, Infinity, -Infinity])).toEqual([1000, 0, Infinity, 0]);
    expectClose(run(softplus, [-50]), [Math.exp(-50)], 1e-15, 0);

    // expm1 and log1p keep full relative accuracy where 1 + x rounds to 1.
    expect(run(expm1, [1e-20])).toEqual([1e-20]);
    expect(run(log1p, [1e-20])).toEqual([1e-20]);

    expect(run(erf, [Infinity, -Infinity, NaN, 0])).toEqual([1, -1, NaN, 0]);
    expect(run(gelu, [0, Infinity])).toEqual([0, Infinity]);
  });

  test('default slope and alpha', () => {
    const x = makeView('float64', [3], [-2, 0, 3]);
    expectClose(toFlat(leakyRelu(x)), [-0.02, 0, 3], 1e-15);
    expectClose(toFlat(elu(x)), [Math.expm1(-2), 0, 3], 1e-15);
  });

  test('float32 results are rounded once', () => {
    const x = makeView('float32', [2], [0.1, 3]);
    const result = exp(x);
    expect(result.data).toBeInstanceOf(Float32Array);
    expect(Array.from(result.data)).toEqual([Math.fround(Math.exp(Math.fround(0.1))), Math.fround(Math.exp(3))]);
  });

  test('zero-size and scalar views', () => {
    expect(neg(makeView('float32', [2, 0, 3])).shape).toEqual([2, 0, 3]);
    const scalar = neg(makeView('float64', [], [4]));
    expect(scalar.shape).toEqual([]);
    expect(toFlat(scalar)).toEqual([-4]);
  });

  test('fill writes every element of a strided out only', () => {
    const out = outView('float32', [3, 2], 'strided')!;
    expect(fill(out, 2.5)).toBe(out);
    expect(toFlat(out)).toEqual([2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    expect(changedOutside(out)).toBe(0);
  });

  test('non-float input is rejected', () => {
    const ints = ndarray(new Int32Array([1, 2]), [2]) as unknown as NdArray<FloatArray>;
    expect(() => exp(ints)).toThrow(KernelError);
    expect(() => exp(ints)).toThrow('exp: expected a view of a Float32Array or Float64Array, got Int32Array');
  });

  test('out of another shape is rejected', () => {
    const x = makeView('float32', [2, 3]);
    expect(() => relu(x, makeView('float32', [3, 2]))).toThrow(KernelError);
    expect(() => relu(x, makeView('float32', [3, 2]))).toThrow('relu: out has shape [3, 2] but the result has shape [2, 3]');
  });

  test('out of another dtype is rejected', () => {
    const x = makeView('float32', [2]);
    expect(() => sigmoid(x, makeView('float64', [2]))).toThrow('sigmoid: out is float64 but the inputs are float32');
  });
});

describe('erfScalar and erfcScalar', () => {
  // Values of erf and erfc from mpmath 1.3.0 at 40 significant digits, rounded to float64.
  const erfTable: Array<[number, number]> = [
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [3, 0.9999779095030014],
    [3.5, 0.9999992569016276],
    [5, 0.9999999999984626],
    [-1.5, -0.9661051464753108],
  ];
  const erfcTable: Array<[number, number]> = [
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [2.9, 4.109787809945886e-5],
    [3, 2.209049699858544e-5],
    [5, 1.537459794428035e-12],
    [10, 2.088487583762545e-45],
    [26, 5.663192408856143e-296],
    [-1, 1.8427007929497148],
    [-5, 1.9999999999984626],
    [-20, 2],
  ];

  test.each(erfTable)('erf(%p) to 1e-15', (x, expected) => {
    expectClose([erfScalar(x)], [expected], 1e-15, 0);
  });

  // Near x = 1 the continued fraction runs about 190 terms and loses a few units in the last place.
  test.each(erfcTable)('erfc(%p) to 4e-15', (x, expected) => {
    expectClose([erfcScalar(x)], [expected], 4e-15, 0);
  });

  test('limits and NaN', () => {
    expect(erfcScalar(Infinity)).toBe(0);
    expect(erfcScalar(-Infinity)).toBe(2);
    expect(erfcScalar(-100)).toBe(2);
    expect(erfcScalar(NaN)).toBeNaN();
    expect(erfScalar(-100)).toBe(-1);
  });

  test('erf is odd and continuous at the method switch', () => {
    for (const x of [0.3, 2.9999999, 3, 3.0000001, 7]) {
      expect(erfScalar(-x)).toBe(-erfScalar(x));
      expectClose([erfScalar(x)], [erfReference(x)], 1e-14, 0);
    }
  });
});
