import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import ndarray from 'ndarray';
import { type Matrix, convGeometry } from '@metagrad/kernels';
import { KC, MC, MR, NC, NR } from '../src/wasm/blocking';
import { WasmRuntime, detectFeatures } from '../src/wasm/runtime';
import { ThreadPool, controlLayout } from '../src/wasm/threads';
import { Backoff, CALLS_THAT_RESET_PAUSES, MIN_PAUSE_MILLISECONDS, STRIKES_BEFORE_PAUSE, workersFellBehind } from '../src/wasm/backoff';
import { WasmBackend, partition } from '../src/wasm/wasm-backend';
import { type InputLayout, expectClose, inputLayoutArb, inputView, outKindArb, outView, pseudoRandom, toFlat } from './helpers';

const simd = detectFeatures().simd;
const describeWithSimd = simd ? describe : describe.skip;

/** Reference: C[i][j] = sum over p of A[i][p] * B[p][j] in float64, plus C0[i][j] when accumulating. */
function referenceGemm(a: number[], b: number[], m: number, k: number, n: number, c0?: number[]): number[] {
  const c = new Array<number>(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let total = c0 ? c0[i * n + j] : 0;
      for (let p = 0; p < k; p++) total += a[i * k + p] * b[p * n + j];
      c[i * n + j] = total;
    }
  }
  return c;
}

function asMatrix(view: { data: Float32Array | Float64Array; stride: number[]; offset: number }): Matrix {
  return { data: view.data, offset: view.offset, rowStride: view.stride[0], colStride: view.stride[1] };
}

/** Polls until `count` workers of `backend` are ready, so that a call really uses them. */
async function waitForWorkers(backend: WasmBackend, count: number): Promise<void> {
  backend.startWorkers();
  const deadline = Date.now() + 10_000;
  while (backend.readyWorkerCount() < count) {
    if (Date.now() > deadline) throw new Error(`only ${backend.readyWorkerCount()} of ${count} workers became ready in 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A GEMM problem: sizes, the layouts of A and B, where C goes and whether it accumulates. */
interface GemmProblem {
  m: number;
  n: number;
  k: number;
  layouts: [InputLayout, InputLayout];
  mask: number;
  outKind: 'contiguous' | 'strided';
  accumulate: boolean;
  seed: number;
}

function problemArb(maxSize: number): fc.Arbitrary<GemmProblem> {
  return fc.record({
    m: fc.integer({ min: 1, max: maxSize }),
    n: fc.integer({ min: 1, max: maxSize }),
    k: fc.integer({ min: 1, max: maxSize }),
    layouts: fc.tuple(inputLayoutArb, inputLayoutArb),
    mask: fc.nat(3),
    outKind: fc.constantFrom<'contiguous' | 'strided'>('contiguous', 'strided'),
    accumulate: fc.boolean(),
    seed: fc.integer(),
  });
}

/** Runs one problem on `backend` and compares it with the reference. */
function checkProblem(backend: WasmBackend, problem: GemmProblem): void {
  const { m, n, k, layouts, mask, outKind, accumulate, seed } = problem;
  const a = inputView('float32', [m, k], pseudoRandom(m * k, seed), layouts[0], mask);
  const b = inputView('float32', [k, n], pseudoRandom(k * n, seed + 1), layouts[1], mask);
  const c = outView('float32', [m, n], outKind)!;
  const start = pseudoRandom(m * n, seed + 2);
  start.forEach((value, flat) => (c.data[c.offset + Math.floor(flat / n) * c.stride[0] + (flat % n) * c.stride[1]] = value));

  backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), accumulate);

  const expected = referenceGemm(toFlat(a), toFlat(b), m, k, n, accumulate ? toFlat(c).map((_, i) => Math.fround(start[i])) : undefined);
  expectClose(toFlat(c), expected, 1e-5, 2e-6 * (k + 1));
}

/**
 * Runs C = A·B (or C += A·B) once with gemm and once with B packed by packOperand, A and C in
 * WebAssembly memory, and expects the same bits.
 */
function checkPackedProblem(backend: WasmBackend, problem: GemmProblem): void {
  const { m, n, k, layouts, mask, accumulate, seed } = problem;
  const b = inputView('float32', [k, n], pseudoRandom(k * n, seed + 1), layouts[1], mask);
  const start = pseudoRandom(m * n, seed + 2);
  backend.withArena(() => {
    const packed = backend.packOperand(asMatrix(b), k, n);
    const [aData, byGemm, byPacked] = backend.scratch([m * k, m * n, m * n]);
    aData.set(pseudoRandom(m * k, seed));
    byGemm.set(start);
    byPacked.set(start);
    // A is row-major, or read transposed in place.
    const a: Matrix = layouts[0] === 'transposed' ? { data: aData, offset: 0, rowStride: 1, colStride: m } : { data: aData, offset: 0, rowStride: k, colStride: 1 };
    const c = (data: Float32Array): Matrix => ({ data, offset: 0, rowStride: n, colStride: 1 });

    backend.gemm(m, n, k, a, asMatrix(b), c(byGemm), accumulate);
    backend.gemmPacked(m, a, packed, c(byPacked), accumulate);

    expect(Array.from(byPacked)).toEqual(Array.from(byGemm));
  });
}

describeWithSimd('WebAssembly GEMM', () => {
  const backend = new WasmBackend(new WasmRuntime({ relaxedMadd: false, sharedMemory: true }));

  test('agrees with reference on small generated problems', () => {
    fc.assert(fc.property(problemArb(40), (problem) => checkProblem(backend, problem)), { numRuns: 300 });
  });

  test('agrees with reference past every block size', () => {
    // Ragged edges in every loop of the driver: K > KC, M > MC, N > NC.
    const sizes: Array<[number, number, number]> = [[MC + 3, NR * 2 + 5, KC + 7], [MR + 1, NC + 17, 9], [2 * MC + 1, 3, 2 * KC + 1]];
    for (const [m, n, k] of sizes) {
      for (const layouts of [['contiguous', 'contiguous'], ['transposed', 'transposed'], ['sliced', 'reversed']] as Array<[InputLayout, InputLayout]>) {
        checkProblem(backend, { m, n, k, layouts, mask: 0, outKind: 'contiguous', accumulate: false, seed: m + n + k });
      }
    }
  });

  test('packed operand matches gemm bits', () => {
    fc.assert(fc.property(problemArb(70), (problem) => checkPackedProblem(backend, problem)), { numRuns: 150 });
    // Past every block size: K > KC, M > MC, N > NC.
    for (const [m, n, k] of [[MC + 3, NR * 2 + 5, KC + 7], [MR + 1, NC + 17, 9], [17, 3, 2 * KC + 1]]) {
      checkPackedProblem(backend, { m, n, k, layouts: ['contiguous', 'transposed'], mask: 0, outKind: 'contiguous', accumulate: true, seed: m + n });
    }
  });

  test('narrow product matches a wide one', () => {
    // A product with fewer than 16 columns is computed as its transpose, and a product with 16 or
    // more as it is. The first n columns of A·[B, B'] must match A·B bit for bit all the same.
    const shape = fc.record({
      m: fc.integer({ min: 2, max: 300 }),
      n: fc.integer({ min: 1, max: 15 }),
      k: fc.integer({ min: 1, max: 600 }),
      layout: fc.constantFrom<InputLayout>('contiguous', 'transposed', 'sliced'),
      accumulate: fc.boolean(),
      seed: fc.nat(1000),
    });
    fc.assert(fc.property(shape, ({ m, n, k, layout, accumulate, seed }) => {
      const wideColumns = n + 16;
      const a = inputView('float32', [m, k], pseudoRandom(m * k, seed), layout);
      const wide = inputView('float32', [k, wideColumns], pseudoRandom(wideColumns * k, seed + 1), 'contiguous');
      const narrow = ndarray(Float32Array.from({ length: k * n }, (_, flat) => wide.get(Math.floor(flat / n), flat % n)), [k, n]);
      const start = pseudoRandom(wideColumns * m, seed + 2);
      const cWide = ndarray(Float32Array.from(start), [m, wideColumns]);
      const cNarrow = ndarray(Float32Array.from({ length: m * n }, (_, flat) => start[Math.floor(flat / n) * wideColumns + (flat % n)]), [m, n]);

      backend.gemm(m, wideColumns, k, asMatrix(a), asMatrix(wide), asMatrix(cWide), accumulate);
      backend.gemm(m, n, k, asMatrix(a), asMatrix(narrow), asMatrix(cNarrow), accumulate);

      expect(Array.from(cNarrow.data)).toEqual(Array.from({ length: m * n }, (_, flat) => cWide.get(Math.floor(flat / n), flat % n)));
    }), { numRuns: 60 });
  });

  test('reads and writes scratch buffers in place', () => {
    const [m, n, k] = [19, 37, 23];
    backend.withArena(() => {
      const [aData, bData, cData] = backend.scratch([m * k, k * n, m * n]);
      aData.set(pseudoRandom(m * k, 1));
      bData.set(pseudoRandom(k * n, 2));
      cData.fill(1);
      // A is read transposed in place: element (i, p) of A is aData[p * m + i].
      backend.gemm(m, n, k, { data: aData, offset: 0, rowStride: 1, colStride: m }, { data: bData, offset: 0, rowStride: n, colStride: 1 }, { data: cData, offset: 0, rowStride: n, colStride: 1 }, true);

      const a = toFlat(ndarray(aData, [m, k], [1, m], 0));
      expectClose(Array.from(cData), referenceGemm(a, Array.from(bData), m, k, n, new Array<number>(m * n).fill(1)), 1e-5, 1e-5 * k);
    });
  });

  test('memory stays the same over 10,000 calls', () => {
    const [m, n, k] = [24, 40, 33];
    const a = inputView('float32', [m, k], pseudoRandom(m * k, 3), 'sliced');
    const b = inputView('float32', [k, n], pseudoRandom(k * n, 4), 'transposed');
    const c = outView('float32', [m, n], 'strided')!;
    backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);
    const bytes = backend.runtime.memoryBytes;
    const top = backend.runtime.mark();

    for (let call = 0; call < 10_000; call++) backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);

    expect(backend.runtime.memoryBytes).toBe(bytes);
    expect(backend.runtime.mark()).toBe(top);
  });

  test('resident C accumulates alike when memory grows', () => {
    // The first backend's memory grows while it copies A, after C was placed in it; the second
    // one's memory has grown beforehand. Both must add to C in place, in the same order.
    const [m, n, k] = [16, 16, 100_000];
    const a = inputView('float32', [m, k], pseudoRandom(m * k, 7), 'contiguous');
    const b = inputView('float32', [k, n], pseudoRandom(k * n, 8), 'contiguous');
    const results = [false, true].map((grownBefore) => {
      const fresh = new WasmBackend(new WasmRuntime({ relaxedMadd: false, sharedMemory: true }));
      if (grownBefore) fresh.withArena(() => fresh.scratch([4 * m * k]));
      return fresh.withArena(() => {
        const [data] = fresh.scratch([m * n]);
        data.set(pseudoRandom(m * n, 9));
        fresh.gemm(m, n, k, asMatrix(a), asMatrix(b), { data, offset: 0, rowStride: n, colStride: 1 }, true);
        return Array.from(data);
      });
    });
    expect(results[0]).toEqual(results[1]);
  });

  test('asynchronously compiled runtime agrees with reference', async () => {
    const compiled = new WasmBackend(await WasmRuntime.compile({ relaxedMadd: false, sharedMemory: false }));
    checkProblem(compiled, { m: 21, n: 35, k: 300, layouts: ['transposed', 'sliced'], mask: 0, outKind: 'strided', accumulate: true, seed: 9 });
  });

  test('partition covers C in tiles along its longer side', () => {
    for (const [m, n, threads] of [[10, 1000, 2], [1000, 10, 3], [5, 5, 4], [64, 64, 1], [3, 47, 8]]) {
      const parts = partition(m, n, threads);
      const byColumns = n >= m;
      const unit = byColumns ? NR : MR;
      let next = 0;
      for (const part of parts) {
        const [first, length, otherFirst, otherLength] = byColumns ? [part.firstCol, part.cols, part.firstRow, part.rows] : [part.firstRow, part.rows, part.firstCol, part.cols];
        expect(first).toBe(next);
        expect(first % unit).toBe(0);
        expect(length).toBeGreaterThan(0);
        expect([otherFirst, otherLength]).toEqual([0, byColumns ? m : n]);
        next = first + length;
      }
      expect(next).toBe(byColumns ? n : m);
      expect(parts.length).toBe(Math.min(threads, Math.ceil((byColumns ? n : m) / unit)));
    }
  });

  test('partition shrinks the last part by its lead', () => {
    // 64 tiles of 16 columns on 2 threads: the first part takes (1 + lead) / 2 of them.
    const widths = (lead: number) => partition(10, 1024, 2, lead).map((part) => part.cols);
    expect(widths(0)).toEqual([512, 512]);
    expect(widths(0.25)).toEqual([640, 384]);
    // However large the lead, the last part keeps one tile.
    expect(widths(5)).toEqual([1008, 16]);
  });
});

describeWithSimd('WebAssembly GEMM on worker threads', () => {
  // Without back-off, parts go to the workers even when other processes slow them down.
  const backend = new WasmBackend(new WasmRuntime({ relaxedMadd: false, sharedMemory: true }), { backoff: false });

  beforeAll(async () => {
    backend.threads = 3;
    await waitForWorkers(backend, 2);
  });

  test('gives the same bits on 1, 2 and 3 threads', () => {
    // Wide, tall, square and narrow (computed as its transpose) products, each large enough to be split.
    const shapes: Array<[number, number, number]> = [[40, 1500, 70], [1500, 30, 60], [200, 200, 300], [3000, 5, 200]];
    for (const [m, n, k] of shapes) {
      const a = inputView('float32', [m, k], pseudoRandom(m * k, m), 'contiguous');
      const b = inputView('float32', [k, n], pseudoRandom(k * n, n), 'transposed');
      const results = [1, 2, 3].map((threads) => {
        backend.threads = threads;
        const c = outView('float32', [m, n], 'contiguous')!;
        backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);
        return Array.from(c.data);
      });
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
      expectClose(results[0], referenceGemm(toFlat(a), toFlat(b), m, k, n), 1e-5, 2e-6 * k);
    }
    expect(backend.workerFailures).toEqual([]);
  });

  test('row chunks match one thread bit for bit', () => {
    // Each is large enough to be split, m >= n, and one of: depth in two blocks, C wider than
    // NC, a width that is not a multiple of 16, a column-major A (copied whole before the
    // workers start), a strided C that is accumulated into.
    const problem = (m: number, n: number, k: number, layouts: [InputLayout, InputLayout], outKind: 'contiguous' | 'strided', accumulate: boolean): GemmProblem =>
      ({ m, n, k, layouts, mask: 0, outKind, accumulate, seed: m + n + k });
    const problems = [
      problem(300, 200, 600, ['contiguous', 'contiguous'], 'contiguous', false),
      problem(1200, 1100, 8, ['contiguous', 'transposed'], 'contiguous', false),
      problem(500, 37, 90, ['sliced', 'contiguous'], 'strided', true),
      problem(257, 255, 40, ['transposed', 'sliced'], 'contiguous', true),
      problem(2000, 3, 100, ['contiguous', 'transposed'], 'strided', false),
    ];
    for (const { m, n, k, layouts, outKind, accumulate, seed } of problems) {
      const a = inputView('float32', [m, k], pseudoRandom(m * k, seed), layouts[0]);
      const b = inputView('float32', [k, n], pseudoRandom(k * n, seed + 1), layouts[1]);
      const start = pseudoRandom(m * n, seed + 2);
      const results = [1, 2, 3].map((threads) => {
        backend.threads = threads;
        const c = outView('float32', [m, n], outKind)!;
        start.forEach((value, flat) => (c.data[c.offset + Math.floor(flat / n) * c.stride[0] + (flat % n) * c.stride[1]] = value));
        backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), accumulate);
        return toFlat(c);
      });
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
      const initial = accumulate ? start.map((value) => Math.fround(value)) : undefined;
      expectClose(results[0], referenceGemm(toFlat(a), toFlat(b), m, k, n, initial), 1e-5, 2e-6 * (k + 1));
    }
    expect(backend.workerFailures).toEqual([]);
  });

  /**
   * Sets up a 70×50×300 gemmRowChunks job in scratch memory, inside withArena, with its counters
   * as a caller sets them: every row of A and B in place, nothing claimed. The calling thread
   * runs it alone, although the job's threads argument is 3.
   */
  function rowChunksJob(seed: number) {
    const [m, n, k] = [70, 50, 300];
    const [a, b, packed, byChunks, byGemm, words, marks] = backend.scratch([m * k, k * n, k * 64, m * n, m * n, 5, m]);
    a.set(pseudoRandom(m * k, seed));
    b.set(pseudoRandom(k * n, seed + 1));
    const address = (view: Float32Array) => view.byteOffset;
    // Rows of A ready, units of B claimed and packed, rows of C claimed, rows of B ready.
    const counters = new Int32Array(words.buffer, words.byteOffset, 5);
    counters.set([m, 0, 0, 0, k]);
    const done = new Int32Array(marks.buffer, marks.byteOffset, m).fill(0);
    const { exports } = backend.runtime;
    return {
      m, k, counters, done, byChunks, byGemm,
      runChunks: (doneRows: number, chunkLimit: number) => exports.gemmRowChunks(
        m, n, k, address(a), 4 * k, 4, address(b), 4 * n, 4, address(packed), 64,
        address(byChunks), 4 * n, 0, backend.runtime.workspace(0), counters.byteOffset, 3, doneRows, chunkLimit,
      ),
      runGemm: () => exports.gemm(m, n, k, address(a), 4 * k, 4, address(b), 4 * n, 4, address(byGemm), 4 * n, 0, backend.runtime.workspace(0), 0, 0),
    };
  }

  test('row chunks finish without absent workers', () => {
    // A thread that never starts leaves its share of the rows to the others. Here the calling
    // thread computes the whole job by itself.
    backend.withArena(() => {
      const job = rowChunksJob(5);
      job.runChunks(0, 0);
      job.runGemm();
      expect(Array.from(job.byChunks)).toEqual(Array.from(job.byGemm));
      // The 4 panels of B in 5 units of rows each were claimed, then one more claim found none left.
      expect(Array.from(job.counters)).toEqual([job.m, 21, 20, job.m, job.k]);
    });
  });

  test('row chunks one at a time mark the rows they computed', () => {
    // The calling thread of a job copies C out between chunks: it computes one chunk per call,
    // and once a chunk is done, the word of its first row contains its row count.
    backend.withArena(() => {
      const job = rowChunksJob(7);
      const claimedAfterEachCall: number[] = [];
      while (job.counters[3] < job.m) {
        job.runChunks(job.done.byteOffset, 1);
        claimedAfterEachCall.push(job.counters[3]);
      }
      job.runGemm();
      expect(Array.from(job.byChunks)).toEqual(Array.from(job.byGemm));

      // Chunks of 1 / (2 × 3) of the rows left, rounded up to whole tiles, at least MIN_CHUNK_ROWS.
      expect(claimedAfterEachCall).toEqual([12, 22, 30, 38, 44, 50, 54, 58, 62, 66, 70]);
      const chunkStarts = [0, ...claimedAfterEachCall.slice(0, -1)];
      expect(Array.from(job.done).flatMap((rows, row) => (rows > 0 ? [[row, rows]] : []))).toEqual(chunkStarts.map((row, i) => [row, claimedAfterEachCall[i] - row]));
    });
  });

  test('a copy that throws leaves no worker waiting', () => {
    // A detached A or B throws while it is copied, after the workers got their parts and wait
    // for its rows. Later products on the same threads must run and be right.
    const cases: Array<[number, number, 'a' | 'b']> = [[300, 200, 'a'], [300, 200, 'b'], [40, 1500, 'a']];
    for (const [m, n, which] of cases) {
      const k = 120;
      const detached = new Float32Array(which === 'a' ? m * k : k * n);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      const a = inputView('float32', [m, k], pseudoRandom(m * k, 1), 'contiguous');
      const b = inputView('float32', [k, n], pseudoRandom(k * n, 2), 'contiguous');
      const c = outView('float32', [m, n], 'contiguous')!;
      const [aBroken, bBroken] = which === 'a'
        ? [{ data: detached, offset: 0, rowStride: k, colStride: 1 }, asMatrix(b)]
        : [asMatrix(a), { data: detached, offset: 0, rowStride: n, colStride: 1 }];
      backend.threads = 2;
      expect(() => backend.gemm(m, n, k, aBroken, bBroken, asMatrix(c), false)).toThrow(/detached/);
      // No part is still running: the call waited for the workers before it threw.
      expect(Atomics.load(new Int32Array(backend.runtime.memory.buffer, 0, controlLayout.words), controlLayout.pending)).toBe(0);

      backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);
      expectClose(toFlat(c), referenceGemm(toFlat(a), toFlat(b), m, k, n), 1e-5, 2e-6 * k);
    }
  });

  test('short products stay on one thread', () => {
    // 8 rows and a long depth: the threads would pack a 16-column copy of B for a single chunk.
    const [m, n, k] = [8, 8, 20_000];
    const a = inputView('float32', [m, k], pseudoRandom(m * k, 3), 'contiguous');
    const b = inputView('float32', [k, n], pseudoRandom(k * n, 4), 'contiguous');
    const c = outView('float32', [m, n], 'contiguous')!;
    backend.threads = 2;
    const before = backend.partsRunByWorkers;
    backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);
    expect(backend.partsRunByWorkers).toBe(before);
    expectClose(toFlat(c), referenceGemm(toFlat(a), toFlat(b), m, k, n), 1e-5, 2e-6 * k);
  });

  test('workers compute parts', () => {
    // The main thread computes a part itself when its worker has not started it, so a busy
    // machine can delay the workers; 200 products give them every chance.
    const [m, n, k] = [64, 512, 64];
    const a = inputView('float32', [m, k], pseudoRandom(m * k, 1), 'contiguous');
    const b = inputView('float32', [k, n], pseudoRandom(k * n, 2), 'contiguous');
    const c = outView('float32', [m, n], 'contiguous')!;
    backend.threads = 3;
    const before = backend.partsRunByWorkers;
    for (let call = 0; call < 200 && backend.partsRunByWorkers === before; call++) {
      backend.gemm(m, n, k, asMatrix(a), asMatrix(b), asMatrix(c), false);
    }
    expect(backend.partsRunByWorkers).toBeGreaterThan(before);
  });

  test('im2col and col2im give the same bits on 1 and 3 threads', () => {
    // 72 rows by 2,400 columns: large enough to be split by images.
    const xShape = [6, 8, 20, 20];
    const geometry = convGeometry('test', xShape, [4, 8, 3, 3], { padding: 1 });
    const strides = [3200, 400, 20, 1];
    const size = 72 * 6 * 400;

    backend.withArena(() => {
      const [x, dx, col, single, threaded] = backend.scratch([6 * 3200, 6 * 3200, size, size, 6 * 3200]);
      x.set(pseudoRandom(x.length, 1));
      backend.threads = 1;
      backend.rearrange('im2col', geometry, x, 0, strides, 0, single);
      dx.fill(0);
      backend.rearrange('col2im', geometry, dx, 0, strides, 0, single);
      const singleDx = Array.from(dx);

      backend.threads = 3;
      backend.rearrange('im2col', geometry, x, 0, strides, 0, col);
      expect(Array.from(col)).toEqual(Array.from(single));
      threaded.fill(0);
      backend.rearrange('col2im', geometry, threaded, 0, strides, 0, col);
      expect(Array.from(threaded)).toEqual(singleDx);
    });
  });

  test('products too narrow to split agree with reference', () => {
    // Large enough for the threads, but a single 16-column tile or 2-row tile of C.
    backend.threads = 3;
    for (const [m, n, k] of [[16, 16, 2048], [2, 1, 300000]]) {
      for (const layout of ['contiguous', 'transposed'] as const) {
        checkProblem(backend, { m, n, k, layouts: [layout, layout], mask: 0, outKind: 'strided', accumulate: false, seed: m + k });
      }
    }
  });

  test('agrees with reference on generated problems', () => {
    backend.threads = 3;
    fc.assert(fc.property(problemArb(300), (problem) => checkProblem(backend, problem)), { numRuns: 25 });
  });

  test('packed operand on 3 threads matches gemm', () => {
    backend.threads = 3;
    fc.assert(fc.property(problemArb(300), (problem) => checkPackedProblem(backend, problem)), { numRuns: 25 });
    // Rows of B 2 KiB apart (n = 512, 1024) are packed from 17 rows of A on and read in place up
    // to 16; both must give gemmPacked's bits.
    for (const [m, n, k] of [[16, 1024, 256], [16, 256, 1024], [300, 40, 50], [40, 512, 300], [17, 1024, 64], [128, 512, 40]]) {
      checkPackedProblem(backend, { m, n, k, layouts: ['contiguous', 'contiguous'], mask: 0, outKind: 'contiguous', accumulate: true, seed: n });
    }
    expect(backend.workerFailures).toEqual([]);
  });
});

describeWithSimd('WebAssembly GEMM with relaxed SIMD', () => {
  // Node 20 validates relaxed SIMD only behind this flag, which V8 reads when it validates a module.
  beforeAll(() => setFlagsFromString('--experimental-wasm-relaxed-simd'));
  afterAll(() => setFlagsFromString('--no-experimental-wasm-relaxed-simd'));

  test('fused multiply-add agrees with reference', () => {
    expect(detectFeatures().relaxedSimd).toBe(true);
    const backend = new WasmBackend(new WasmRuntime({ relaxedMadd: true, sharedMemory: true }));
    fc.assert(fc.property(problemArb(70), (problem) => checkProblem(backend, problem)), { numRuns: 80 });
  });
});

describeWithSimd('thread pool back-off', () => {
  /**
   * A pool that has started no worker, so the main thread must take over every part offered to
   * worker 0, and two parts of a 4x4x4 product on zeros.
   */
  function poolWithAbsentWorker(backoff: boolean) {
    const runtime = new WasmRuntime({ relaxedMadd: false, sharedMemory: true });
    runtime.reserveWorkspaces(2);
    const pool = new ThreadPool(runtime, { backoff });
    const operand = runtime.allocate(16);
    const part = (t: number) => [4, 4, 4, operand, 16, 4, operand, 16, 4, operand, 16, 0, runtime.workspace(t), 0, 0];
    return { pool, parts: [part(0), part(1)] };
  }

  test('backs off after three takeovers', () => {
    const { pool, parts } = poolWithAbsentWorker(true);
    // The first call finds the workers asleep, so it is not judged.
    for (let call = 0; call < 3; call++) pool.run('gemm', parts, [0]);
    expect(pool.backingOff).toBe(false);
    pool.run('gemm', parts, [0]);
    expect(pool.backingOff).toBe(true);
    expect(pool.partsRunByWorkers).toBe(0);
  });

  test('never backs off when disabled', () => {
    const { pool, parts } = poolWithAbsentWorker(false);
    for (let call = 0; call < 5; call++) pool.run('gemm', parts, [0]);
    expect(pool.backingOff).toBe(false);
  });
});

describe('judging late workers', () => {
  // Times in milliseconds from when this thread started its own work.
  const call = (computed: number, finished: number, share: number, takenOver = 0) => ({ started: 0, computed, finished, share, takenOver });

  test('halves judged by the wait', () => {
    expect(workersFellBehind(call(4, 7, 0.5))).toBe(false);
    expect(workersFellBehind(call(4, 9, 0.5))).toBe(true);
  });

  test('small share judged by the estimate', () => {
    // This thread computed 80% of the rows in 8 ms, so alone it would have taken 10 ms.
    expect(workersFellBehind(call(8, 9.5, 0.8))).toBe(false);
    expect(workersFellBehind(call(8, 11, 0.8))).toBe(true);
  });

  test('takeover and empty share', () => {
    expect(workersFellBehind(call(4, 4, 1, 1))).toBe(true);
    expect(workersFellBehind(call(1, 9, 0))).toBe(false);
  });
});

describe('back-off pauses', () => {
  /** Returns a Backoff on a clock that the test moves by hand. */
  function pausesOnManualClock() {
    const clock = { time: 1000 };
    return { clock, pauses: new Backoff(() => clock.time) };
  }

  function fallBehind(pauses: Backoff, calls: number) {
    for (let call = 0; call < calls; call++) pauses.record(true);
  }

  test('pause after three strikes, then ends', () => {
    const { clock, pauses } = pausesOnManualClock();
    fallBehind(pauses, STRIKES_BEFORE_PAUSE - 1);
    pauses.record(false);
    fallBehind(pauses, STRIKES_BEFORE_PAUSE - 1);
    expect(pauses.paused).toBe(false);

    pauses.record(true);
    expect(pauses.paused).toBe(true);
    clock.time += MIN_PAUSE_MILLISECONDS;
    expect(pauses.paused).toBe(false);
  });

  test('pauses double up to the longest', () => {
    const { clock, pauses } = pausesOnManualClock();
    const lengths: number[] = [];
    for (let pause = 0; pause < 8; pause++) {
      lengths.push(pauses.nextPauseMilliseconds);
      fallBehind(pauses, STRIKES_BEFORE_PAUSE);
      clock.time += pauses.nextPauseMilliseconds;
    }
    expect(lengths).toEqual([10, 20, 40, 80, 160, 200, 200, 200]);
  });

  test('calls that keep up reset the pause', () => {
    const { pauses } = pausesOnManualClock();
    fallBehind(pauses, 3 * STRIKES_BEFORE_PAUSE);
    expect(pauses.nextPauseMilliseconds).toBe(8 * MIN_PAUSE_MILLISECONDS);

    for (let call = 0; call < CALLS_THAT_RESET_PAUSES - 1; call++) pauses.record(false);
    expect(pauses.nextPauseMilliseconds).toBe(8 * MIN_PAUSE_MILLISECONDS);
    pauses.record(false);
    expect(pauses.nextPauseMilliseconds).toBe(MIN_PAUSE_MILLISECONDS);
  });
});
