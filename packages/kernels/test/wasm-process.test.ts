/**
 * Runs the compiled package in a child Node process, as a user's script would: with worker
 * threads the script must still exit on its own, and 10,000 kernel calls must not grow memory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { setThreads, wasmFeatures } from '@metagrad/kernels';

const repositoryRoot = path.resolve(__dirname, '../../..');
const packageDirectory = path.resolve(__dirname, '..');

/**
 * Makes 10,000 calls on two threads: mostly small products, which stay on one thread, and
 * every tenth a product and a convolution large enough to be split. Memory is measured after
 * 1,000 warm-up calls and at the end, each time after full garbage collections.
 */
const script = `
const ndarray = require('ndarray');
const kernels = require('./dist');
const { activeWasmBackend } = require('./dist/backend');
kernels.setThreads(2);

const filled = (size, seed) => Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + seed));
const small = [ndarray(filled(64 * 64, 1), [64, 64]), ndarray(filled(64 * 64, 2), [64, 64])];
const large = [ndarray(filled(256 * 128, 3), [256, 128]), ndarray(filled(128 * 128, 4), [128, 128]).transpose(1, 0)];
const image = ndarray(filled(8 * 16 * 12 * 12, 5), [8, 16, 12, 12]);
const filters = ndarray(filled(32 * 16 * 3 * 3, 6), [32, 16, 3, 3]);

function call(index) {
  if (index % 10 === 0) {
    kernels.matmul(large[0], large[1]);
    kernels.conv2d(image, filters);
  } else {
    kernels.matmul(small[0], small[1]);
  }
}

// V8 frees the memory of dead array buffers on a background thread after a collection, so
// measure after two collections with a pause between them.
async function measure() {
  global.gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  global.gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, buffers: usage.arrayBuffers, wasm: activeWasmBackend().runtime.memoryBytes };
}

(async () => {
  for (let i = 0; i < 1000; i++) call(i);
  const before = await measure();
  for (let i = 1000; i < 10000; i++) call(i);
  const after = await measure();
  console.log(JSON.stringify({ backend: kernels.getBackend(), before, after, workers: activeWasmBackend().readyWorkerCount() }));
})();
`;

const describeWithSimd = wasmFeatures().simd ? describe : describe.skip;

describeWithSimd('compiled package with worker threads', () => {
  test('exits on its own with flat memory over 10,000 calls', () => {
    execFileSync(process.execPath, [path.join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'packages/kernels'], { cwd: repositoryRoot });

    // execFileSync returns only once the child has exited; the timeout fails the test otherwise.
    const output = execFileSync(process.execPath, ['--expose-gc', '-e', script], {
      cwd: packageDirectory,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, METAGRAD_BACKEND: 'wasm' },
    });
    const result = JSON.parse(output.trim().split('\n').pop()!) as {
      backend: string;
      before: { heap: number; buffers: number; wasm: number };
      after: { heap: number; buffers: number; wasm: number };
      workers: number;
    };

    expect(result.backend).toBe('wasm');
    expect(result.workers).toBe(1);
    expect(result.after.wasm).toBe(result.before.wasm);
    expect(result.after.heap - result.before.heap).toBeLessThan(4 * 2 ** 20);
    expect(result.after.buffers - result.before.buffers).toBeLessThan(4 * 2 ** 20);
  }, 180_000);

  test('product run from a copy finishes', () => {
    execFileSync(process.execPath, [path.join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'packages/kernels'], { cwd: repositoryRoot });
    // A's copy into WebAssembly memory calls its subarray while the worker computes, and this
    // subclass runs a second product there. The script counts the elements of each product that
    // differ from the same product of plain arrays.
    const nested = `
const ndarray = require('ndarray');
const kernels = require('./dist');
kernels.setThreads(2);
const filled = (size, seed) => Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + seed));
const square = () => kernels.matmul(ndarray(filled(128 * 128, 3), [128, 128]), ndarray(filled(128 * 128, 4), [128, 128]));
let inner;
class Hooked extends Float32Array {
  subarray(begin, end) {
    inner ??= square();
    return super.subarray(begin, end);
  }
}
const differing = (x, y) => x.data.filter((value, i) => !Object.is(value, y.data[i])).length;
kernels.backendReady().then((threads) => {
  const b = ndarray(filled(128 * 128, 2), [128, 128]);
  const outer = kernels.matmul(ndarray(Hooked.from(filled(256 * 128, 1)), [256, 128]), b);
  const plain = kernels.matmul(ndarray(filled(256 * 128, 1), [256, 128]), b);
  console.log(JSON.stringify({ threads, outer: differing(outer, plain), inner: differing(inner, square()) }));
});
`;

    const run = spawnSync(process.execPath, ['-e', nested], {
      cwd: packageDirectory,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, METAGRAD_BACKEND: 'wasm' },
    });

    // A signal means that the timeout killed the child, whose threads waited for each other.
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout.trim()) as { threads: number; outer: number; inner: number };
    expect(result.threads).toBe(2);
    expect(result.outer).toBe(0);
    expect(result.inner).toBe(0);
  }, 120_000);

  test('invalid METAGRAD_THREADS is an error', () => {
    const product = "const ndarray = require('ndarray'); const k = require('./dist'); const a = ndarray(new Float32Array(128 * 128), [128, 128]); k.matmul(a, a);";

    const run = spawnSync(process.execPath, ['-e', product], {
      cwd: packageDirectory,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, METAGRAD_BACKEND: 'wasm', METAGRAD_THREADS: 'abc' },
    });

    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("METAGRAD_THREADS must be an integer from 1 to 32, got 'abc'");
  });

  test('setThreads rejects a count that is not an integer in range', () => {
    expect(() => setThreads(0)).toThrow('setThreads: count must be an integer from 1 to 32, got 0');
    expect(() => setThreads(1.5)).toThrow('got 1.5');
    expect(() => setThreads(NaN)).toThrow('got NaN');
    expect(() => setThreads(Infinity)).toThrow('got Infinity');
    // A string is shown in quotes, so that a count read from text is distinguished from a number.
    expect(() => setThreads('2' as unknown as number)).toThrow('got "2"');
  });
});
