/**
 * Suite `threads`: metagrad's WebAssembly backend on every core against the same backend on one
 * thread, for square float32 matmul.
 *
 * Each case times the two settings in alternating blocks of calls, so that a slow stretch of a
 * shared host lands on both sides instead of on whichever row it happened to hit. A block starts
 * with one untimed call, which lets sleeping workers wake before the timed ones. Both settings
 * must give the same product, bit for bit, which the case checks before timing.
 *
 * Cases: matmul at 256, 512 and 1024, writing a new result and writing into an existing array.
 * A new result costs the same on any number of threads (zero-filling and page faults), so the
 * second form shows how the product itself scales.
 */
import os from 'node:os';
import ndarray, { type NdArray } from 'ndarray';
import { backendReady, matmul, setBackend, setThreads } from '@metagrad/kernels';
import { type BenchmarkCase, type Suite, type Timing, median } from './harness';
import { randomFloat32 } from './random';

/** One thread per core, as `setThreads` defaults to. */
const CORES = os.availableParallelism();

/** Rounds of alternation and timed calls per block, by matrix size. */
const blockCounts: Record<number, { rounds: number; calls: number }> = {
  256: { rounds: 20, calls: 10 },
  512: { rounds: 10, calls: 4 },
  1024: { rounds: 5, calls: 2 },
};

export const threadsSuite: Suite = {
  name: 'threads',
  description:
    `metagrad's WebAssembly backend on ${CORES} threads against one thread: square float32 matmul with a new ` +
    'result and into an existing array, the two settings timed in alternating blocks of calls',
  peer: 'wasm, 1 thread',

  async cases() {
    const cases: BenchmarkCase[] = [];
    for (const size of [256, 512, 1024]) {
      for (const intoOut of [false, true]) cases.push(scalingCase(size, intoOut));
    }
    return cases;
  },
};

/**
 * Returns the case of one size: its metagrad side times both settings in alternation and
 * reports the all-core one, and its peer side reports the one-thread timing of the same run.
 */
function scalingCase(size: number, intoOut: boolean): BenchmarkCase {
  const a = ndarray(randomFloat32(size * size, 1), [size, size]);
  const b = ndarray(randomFloat32(size * size, 2), [size, size]);
  const out = ndarray(new Float32Array(size * size), [size, size]);
  const run = intoOut ? () => matmul(a, b, out) : () => matmul(a, b);
  let oneThread: Timing | undefined;

  return {
    name: `matmul ${size}, wasm, ${CORES} threads${intoOut ? ', into an existing array' : ''}`,
    flops: 2 * size * size * size,
    metagrad: async () => {
      setBackend('wasm');
      await backendReady();
      checkSameProduct(size, a, b);
      const timings = await alternate(run, blockCounts[size]);
      oneThread = timings.oneThread;
      return timings.allCores;
    },
    peer: async () => oneThread ?? { skipped: 'the all-core side did not run' },
  };
}

/** Throws unless one thread and every core give the same product, bit for bit. */
function checkSameProduct(size: number, a: NdArray<Float32Array>, b: NdArray<Float32Array>): void {
  setThreads(1);
  const single = matmul(a, b).data;
  setThreads(CORES);
  const threaded = matmul(a, b).data;
  const differs = single.findIndex((value, i) => !Object.is(value, threaded[i]));
  if (differs !== -1) {
    throw new Error(`threads: matmul ${size} differs at element ${differs} between one thread (${single[differs]}) and ${CORES} threads (${threaded[differs]})`);
  }
}

/** Times `run` in `rounds` rounds, each a block on one thread, then a block on every core. */
async function alternate(run: () => unknown, counts: { rounds: number; calls: number }): Promise<{ oneThread: Timing; allCores: Timing }> {
  const samples: Record<'oneThread' | 'allCores', number[]> = { oneThread: [], allCores: [] };
  for (let round = 0; round <= counts.rounds; round++) {
    for (const side of ['oneThread', 'allCores'] as const) {
      setThreads(side === 'oneThread' ? 1 : CORES);
      await run();

      // Round 0 is the warm-up: its calls are not kept.
      for (let call = 0; call < counts.calls; call++) {
        const start = process.hrtime.bigint();
        await run();
        if (round > 0) samples[side].push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
  }

  const timing = (values: number[]): Timing => ({
    medianMs: median(values),
    minMs: Math.min(...values),
    warmup: counts.calls + 1 + counts.rounds,
    repetitions: values.length,
    samplesMs: values,
  });
  return { oneThread: timing(samples.oneThread), allCores: timing(samples.allCores) };
}
