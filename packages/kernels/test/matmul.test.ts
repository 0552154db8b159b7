import fc from 'fast-check';
import ndarray from 'ndarray';
import { KernelError, getBackend, matmul, setBackend } from '@metagrad/kernels';
import { backends, dtypeArb, expectClose, layoutArb, layoutView, makeView, pseudoRandom, toFlat, tolerance, valuesArb } from './helpers';

/** Reference: C[b][i][j] = sum over p of A[b][i][p] * B[b][p][j], batches already aligned. */
function referenceMatmul(a: number[], b: number[], batch: number, m: number, k: number, n: number): number[] {
  const c = new Array<number>(batch * m * n).fill(0);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let total = 0;
        for (let p = 0; p < k; p++) total += a[(t * m + i) * k + p] * b[(t * k + p) * n + j];
        c[(t * m + i) * n + j] = total;
      }
    }
  }
  return c;
}

describe.each(backends)('matmul on the %s backend', (backend) => {
  const previous = getBackend();
  beforeAll(() => setBackend(backend));
  afterAll(() => setBackend(previous));

  test('2-D product by hand', () => {
    const a = makeView('float64', [2, 2], [1, 2, 3, 4]);
    const b = makeView('float64', [2, 1], [5, 6]);
    expect(toFlat(matmul(a, b))).toEqual([17, 39]);
  });

  test('2-D agrees with reference on generated layouts', () => {
    fc.assert(
      fc.property(
        dtypeArb,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        layoutArb,
        layoutArb,
        fc.integer(),
        (dtype, m, k, n, layoutA, layoutB, seed) => {
          const av = pseudoRandom(m * k, seed);
          const bv = pseudoRandom(k * n, seed + 1);
          const a = layoutView(dtype, [m, k], av, layoutA);
          const b = layoutView(dtype, [k, n], bv, layoutB);
          const result = matmul(a, b);
          expect(result.shape).toEqual([m, n]);
          expectClose(toFlat(result), referenceMatmul(toFlat(a), toFlat(b), 1, m, k, n), tolerance(dtype), tolerance(dtype) * k);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('large blocked product agrees with reference', () => {
    // Sizes past the block sizes (KC = 256, MC = 64) with ragged edges.
    const [m, k, n] = [70, 300, 37];
    const a = makeView('float64', [m, k], pseudoRandom(m * k, 1));
    const b = makeView('float64', [k, n], pseudoRandom(k * n, 2));
    expectClose(toFlat(matmul(a, b)), referenceMatmul(toFlat(a), toFlat(b), 1, m, k, n), 1e-12, 1e-11);
  });

  test('float32 past every block size agrees with reference', () => {
    // Past the WebAssembly GEMM's blocks too: KC = 256 in depth, MC = 128 rows, NC = 1024 columns.
    const [m, k, n] = [131, 260, 1030];
    const a = makeView('float32', [m, k], pseudoRandom(m * k, 5));
    const b = layoutView('float32', [k, n], pseudoRandom(k * n, 6), 'transposed');
    expectClose(toFlat(matmul(a, b)), referenceMatmul(toFlat(a), toFlat(b), 1, m, k, n), 2e-5, 2e-5 * k);
  });

  test('batched broadcasting cases', () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[3, 2, 4], [4, 5], [3, 2, 5]],
      [[3, 2, 4], [3, 4, 5], [3, 2, 5]],
      [[1, 2, 4], [3, 4, 5], [3, 2, 5]],
      [[2, 1, 2, 3], [4, 3, 2], [2, 4, 2, 2]],
    ];
    for (const [shapeA, shapeB, expectedShape] of cases) {
      const a = makeView('float64', shapeA, pseudoRandom(shapeA.reduce((x, y) => x * y), 3));
      const b = makeView('float64', shapeB, pseudoRandom(shapeB.reduce((x, y) => x * y), 4));
      const result = matmul(a, b);
      expect(result.shape).toEqual(expectedShape);

      // Reference: index each batch by hand with broadcasting of batch axes.
      const [m, k] = shapeA.slice(-2);
      const n = shapeB[shapeB.length - 1];
      const batchShape = expectedShape.slice(0, -2);
      const batchIndices = cartesian(batchShape);
      const expected: number[] = [];
      for (const index of batchIndices) {
        const pick = (shape: number[], values: number[], rows: number, cols: number) => {
          const batchPart = shape.slice(0, -2);
          const lead = index.length - batchPart.length;
          let flat = 0;
          batchPart.forEach((dim, axis) => (flat = flat * dim + (dim === 1 ? 0 : index[lead + axis])));
          return values.slice(flat * rows * cols, (flat + 1) * rows * cols);
        };
        expected.push(...referenceMatmul(pick(shapeA, toFlat(a), m, k), pick(shapeB, toFlat(b), k, n), 1, m, k, n));
      }
      expectClose(toFlat(result), expected, 1e-12);
    }
  });

  test('batched float32 products on generated layouts', () => {
    // Sizes on both sides of the WebAssembly path's threshold, with the batch of A or B broadcast.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.constantFrom('both', 'sharedA', 'sharedB'),
        layoutArb,
        layoutArb,
        fc.integer(),
        (batch, m, k, n, sharing, layoutA, layoutB, seed) => {
          const batchA = sharing === 'sharedA' ? 1 : batch;
          const batchB = sharing === 'sharedB' ? 1 : batch;
          const a = layoutView('float32', [batchA, m, k], pseudoRandom(batchA * m * k, seed), layoutA);
          const b = layoutView('float32', [batchB, k, n], pseudoRandom(batchB * k * n, seed + 1), layoutB);
          const result = matmul(a, b);

          const flatA = toFlat(a);
          const flatB = toFlat(b);
          const expected: number[] = [];
          for (let t = 0; t < batch; t++) {
            const pickA = flatA.slice((batchA === 1 ? 0 : t) * m * k, ((batchA === 1 ? 0 : t) + 1) * m * k);
            const pickB = flatB.slice((batchB === 1 ? 0 : t) * k * n, ((batchB === 1 ? 0 : t) + 1) * k * n);
            expected.push(...referenceMatmul(pickA, pickB, 1, m, k, n));
          }
          expect(result.shape).toEqual([batch, m, n]);
          expectClose(toFlat(result), expected, tolerance('float32'), tolerance('float32') * k);
        },
      ),
      { numRuns: 80 },
    );
  });

  test('transposed operand read in place', () => {
    const base = makeView('float32', [3, 2], [1, 2, 3, 4, 5, 6]);
    const transposed = base.transpose(1, 0); // [[1, 3, 5], [2, 4, 6]]
    const result = matmul(transposed, base);
    expect(toFlat(result)).toEqual([35, 44, 44, 56]);
  });

  test('zero-stride broadcast operand', () => {
    const row = makeView('float64', [3], [1, 2, 3]);
    const a = ndarray(row.data, [2, 3], [0, 1], 0);
    const b = makeView('float64', [3, 1], [1, 1, 1]);
    expect(toFlat(matmul(a, b))).toEqual([6, 6]);
  });

  test('vector operands', () => {
    const v = makeView('float64', [2], [1, 2]);
    const m = makeView('float64', [2, 2], [1, 2, 3, 4]);
    expect(matmul(v, m).shape).toEqual([2]);
    expect(toFlat(matmul(v, m))).toEqual([7, 10]);
    expect(toFlat(matmul(m, v))).toEqual([5, 11]);
    expect(matmul(v, v).shape).toEqual([]);
    expect(toFlat(matmul(v, v))).toEqual([5]);
  });

  test('writes into out', () => {
    const a = makeView('float64', [2, 2], [1, 0, 0, 1]);
    const b = makeView('float64', [2, 2], [5, 6, 7, 8]);
    const out = makeView('float64', [2, 2]);
    expect(matmul(a, b, out)).toBe(out);
    expect(toFlat(out)).toEqual([5, 6, 7, 8]);
  });

  test('mismatched inner dimensions name both shapes', () => {
    const a = makeView('float32', [2, 3]);
    const b = makeView('float32', [4, 5]);
    expect(() => matmul(a, b)).toThrow(KernelError);
    expect(() => matmul(a, b)).toThrow('matmul: inner dimensions differ: a is [2, 3] and b is [4, 5] (3 != 4)');
  });

  test('mixed dtypes are rejected', () => {
    expect(() => matmul(makeView('float32', [2, 2]), makeView('float64', [2, 2]))).toThrow('matmul: dtypes differ (a is float32, b is float64)');
  });

  test('incompatible batch axes are rejected', () => {
    expect(() => matmul(makeView('float32', [2, 2, 2]), makeView('float32', [3, 2, 2]))).toThrow(
      'matmul: batch axes differ: a is [2, 2, 2] and b is [3, 2, 2], whose batch shapes [2] and [3] cannot be broadcast',
    );
  });

  test('views reaching past their data are rejected', () => {
    // A [2, 2] view over 3 elements, and a transposed one whose offset starts too late.
    const short = ndarray(new Float32Array(3), [2, 2]);
    expect(() => matmul(short, makeView('float32', [2, 2]))).toThrow(
      'matmul: a of shape [2, 2], strides [2, 1] and offset 0 reads elements 0 to 3, but its data has 3',
    );
    const shifted = ndarray(new Float32Array(4), [2, 2], [1, 2], 1);
    expect(() => matmul(makeView('float32', [2, 2]), shifted)).toThrow(/matmul: b of shape \[2, 2\], strides \[1, 2\] and offset 1 reads elements 1 to 4/);
    const out = ndarray(new Float32Array(3), [2, 2]);
    expect(() => matmul(makeView('float32', [2, 2]), makeView('float32', [2, 2]), out)).toThrow(/matmul: out of shape \[2, 2\]/);
  });

  test('out sharing memory with an operand is rejected', () => {
    const a = makeView('float32', [3, 3]);
    const b = makeView('float32', [3, 3]);
    expect(() => matmul(a, b, a)).toThrow('matmul: out shares memory with a, which the result would overwrite while it is still read');
    expect(() => matmul(a, b, b)).toThrow('matmul: out shares memory with b');
    // Another part of the same buffer is fine.
    const buffer = new Float32Array(18);
    const operand = ndarray(buffer.subarray(0, 9), [3, 3]);
    const separate = ndarray(buffer.subarray(9), [3, 3]);
    operand.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    matmul(operand, operand, separate);
    expect(toFlat(separate)).toEqual(toFlat(matmul(operand, operand)));
  });

  test('empty dimensions give empty or zero results', () => {
    expect(matmul(makeView('float32', [0, 3]), makeView('float32', [3, 2])).shape).toEqual([0, 2]);
    expect(toFlat(matmul(makeView('float32', [2, 0]), makeView('float32', [0, 2])))).toEqual([0, 0, 0, 0]);
  });

  test('values of generated sizes agree with reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (m, n) =>
        fc.assert(
          fc.property(valuesArb(m * n), (values) => {
            const a = makeView('float64', [m, n], values);
            const identity = makeView('float64', [n, n], Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)));
            expectClose(toFlat(matmul(a, identity)), values, 1e-15);
          }),
          { numRuns: 5 },
        ),
      ),
      { numRuns: 10 },
    );
  });
});

function cartesian(shape: number[]): number[][] {
  let result: number[][] = [[]];
  for (const dim of shape) result = result.flatMap((prefix) => Array.from({ length: dim }, (_, i) => [...prefix, i]));
  return result;
}
