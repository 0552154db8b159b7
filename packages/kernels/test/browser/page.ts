/**
 * The page side of browser.test.ts, bundled by esbuild into an IIFE whose exports become the
 * global `metagradPage`. `run` drives the 'wasm' backend in the page and returns what it
 * computed, and the test checks those values in Node.
 */
import ndarray from 'ndarray';
import { activeWasmBackend } from '../../src/backend';
import { type WasmFeatures, backendReady, conv2d, matmul, setBackend, setThreads, setWorkerScript, wasmFeatures } from '../../src/index';

/** Sizes of the product, large enough to be split between threads: 200 × 300 by 300 × 250. */
export const productShape = { m: 200, k: 300, n: 250 };

/** Input [4, 16, 32, 32] and filters [32, 16, 3, 3]: a product of about 19 million multiply-adds. */
export const convolutionShape = { input: [4, 16, 32, 32], filters: [32, 16, 3, 3] };

/**
 * How long to keep running threaded products while no worker has computed a part. On a busy
 * machine the pool stops offering parts to workers that fall behind, for at most 200 ms at a
 * time (backoff.ts), so this spans many such pauses.
 */
const MAX_THREADED_MILLISECONDS = 5_000;

/**
 * What one run of the page computed and observed. Results are float32 arrays encoded by
 * `encodeFloats`: as arrays of numbers they took playwright about 9 s per page to pass to jest.
 */
export interface PageReport {
  crossOriginIsolated: boolean;
  features: WasmFeatures;
  /** Threads that backendReady resolved with after setThreads(2), and the milliseconds it took. */
  readyThreads: number;
  readyMilliseconds: number;
  /** The product on the 'js' backend, on 'wasm' with one thread, and the last one on two threads. */
  productJs: string;
  productOneThread: string;
  productTwoThreads: string;
  /** Products run on two threads, and how many of them differ in any bit from the one-thread product. */
  threadedCalls: number;
  threadedCallsWithOtherBits: number;
  partsRunByWorkers: number;
  workerFailures: string[];
  convolutionJs: string;
  convolutionWasm: string;
  /** Size of the WebAssembly memory, to show that the operands went through it. */
  wasmMemoryBytes: number;
}

/** Returns the bytes of `values` in base64. */
function encodeFloats(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(binary);
}

/** Values in [-1, 1] that differ from element to element and from seed to seed. */
function filled(size: number, seed: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + seed));
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  const [xBits, yBits] = [new Uint32Array(x.buffer, x.byteOffset, x.length), new Uint32Array(y.buffer, y.byteOffset, y.length)];
  return xBits.length === yBits.length && xBits.every((bits, i) => bits === yBits[i]);
}

/**
 * Runs the checks of one page: requests two threads with worker.js at `workerUrl`, then runs the
 * product and the convolution on both backends. Without cross-origin isolation the backend
 * should fall back to one thread, so the threaded calls stop after the first. With
 * `productFirst`, a product runs before the threads and the worker script are set, as on a page
 * that computes something before it sets up threads.
 */
export async function run(workerUrl: string, productFirst = false): Promise<PageReport> {
  const features = wasmFeatures();
  const { m, k, n } = productShape;
  const a = ndarray(filled(m * k, 1), [m, k]);
  const b = ndarray(filled(k * n, 2), [k, n]);
  if (productFirst) matmul(a, b);

  setThreads(2);
  setWorkerScript(workerUrl);
  const readyStart = performance.now();
  const readyThreads = await backendReady();
  const readyMilliseconds = performance.now() - readyStart;
  const backend = activeWasmBackend();

  setBackend('js');
  const productJs = matmul(a, b).data as Float32Array;
  setBackend('wasm');
  setThreads(1);
  const productOneThread = matmul(a, b).data as Float32Array;

  // The main thread computes a part itself when its worker has not started it yet, so a worker
  // may need several calls before it runs one.
  setThreads(2);
  const partsBefore = backend.partsRunByWorkers;
  const threadedStart = performance.now();
  let productTwoThreads = productOneThread;
  let threadedCalls = 0;
  let threadedCallsWithOtherBits = 0;
  while (performance.now() - threadedStart < MAX_THREADED_MILLISECONDS) {
    productTwoThreads = matmul(a, b).data as Float32Array;
    threadedCalls++;
    if (!sameBits(productTwoThreads, productOneThread)) threadedCallsWithOtherBits++;
    if (readyThreads === 1 || backend.partsRunByWorkers > partsBefore) break;
  }

  const x = ndarray(filled(convolutionShape.input.reduce((p, d) => p * d), 3), convolutionShape.input);
  const w = ndarray(filled(convolutionShape.filters.reduce((p, d) => p * d), 4), convolutionShape.filters);
  setBackend('js');
  const convolutionJs = conv2d(x, w, { padding: 1 }).data as Float32Array;
  setBackend('wasm');
  const convolutionWasm = conv2d(x, w, { padding: 1 }).data as Float32Array;

  return {
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    features,
    readyThreads,
    readyMilliseconds,
    productJs: encodeFloats(productJs),
    productOneThread: encodeFloats(productOneThread),
    productTwoThreads: encodeFloats(productTwoThreads),
    threadedCalls,
    threadedCallsWithOtherBits,
    partsRunByWorkers: backend.partsRunByWorkers,
    workerFailures: backend.workerFailures.map((error) => error.message),
    convolutionJs: encodeFloats(convolutionJs),
    convolutionWasm: encodeFloats(convolutionWasm),
    wasmMemoryBytes: backend.runtime.memoryBytes,
  };
}
