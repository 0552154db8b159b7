/**
 * The backend setting: the implementation of the matrix products, either the plain TypeScript
 * loops ('js') or WebAssembly SIMD generated at run time ('wasm'), and its number of threads.
 *
 * The choice applies to float32 `gemm`, `matmul`, `conv2d`, `conv2dBackwardInput` and
 * `conv2dBackwardFilter`. float64 always runs on the TypeScript loops, which are also the
 * reference the tests compare the backend with. Every other kernel is TypeScript.
 *
 * Defaults: 'wasm' where the engine supports WebAssembly SIMD, else 'js'; as many threads as
 * the machine has cores. The environment variables METAGRAD_BACKEND ('js' or 'wasm') and
 * METAGRAD_THREADS (a positive integer) change the defaults in Node.
 */
import { availableCores, delay, environmentVariable } from './wasm/host';
import { WasmRuntime, type WasmFeatures, detectFeatures } from './wasm/runtime';
import { MAX_WORKERS, setWorkerScriptUrl } from './wasm/threads';
import { WasmBackend } from './wasm/wasm-backend';

export type Backend = 'js' | 'wasm';
export type { WasmFeatures };

/**
 * Below this many multiply-adds a float32 GEMM stays on the TypeScript loops, which skip the
 * copies into WebAssembly memory. An 8×8×8 product took 1.3 µs in TypeScript and 3.4 µs through
 * WebAssembly on the 2-core Xeon the backend was tuned on; 10×40×40 took 30 µs and 10 µs.
 */
const WASM_MIN_MACS = 4096;

/** Room for alignment and a repeated value's block, in floats, beyond an elementwise op's three arrays. */
const SPLAT_ROOM = 256;
/** Most threads a call may use: the main thread and one worker per job record of the control block. */
const MAX_THREADS = MAX_WORKERS + 1;

let features: WasmFeatures | undefined;
let selected: Backend | undefined;
let wasm: WasmBackend | undefined;
let threadCount: number | undefined;
/** Why a synchronous compile failed, once it has. Products then run on the TypeScript loops until backendReady compiles the module. */
let syncCompileError: string | undefined;

/**
 * Returns what this JavaScript engine supports: WebAssembly SIMD (needed by 'wasm'), relaxed
 * SIMD (fused multiply-add) and shared memory (needed by worker threads).
 */
export function wasmFeatures(): WasmFeatures {
  features ??= detectFeatures();
  return { ...features };
}

/**
 * Returns the backend that runs float32 matrix products.
 *
 * getBackend() is 'wasm' in Node 20, unless METAGRAD_BACKEND=js.
 */
export function getBackend(): Backend {
  selected ??= defaultBackend();
  return selected;
}

/**
 * Selects the backend of float32 matrix products. Throws for 'wasm' when the engine has no
 * WebAssembly SIMD.
 *
 * setBackend('js'); matmul(a, b) then runs the TypeScript loops.
 */
export function setBackend(backend: Backend): void {
  if (backend !== 'js' && backend !== 'wasm') {
    throw new Error(`setBackend: backend must be 'js' or 'wasm', got ${JSON.stringify(backend)}`);
  }
  if (backend === 'wasm' && !wasmFeatures().simd) {
    throw new Error("setBackend: the 'wasm' backend needs WebAssembly SIMD, which this JavaScript engine does not support; use 'js'");
  }
  selected = backend;
}

/** Returns the number of threads the 'wasm' backend may use for one product, this one included. */
export function getThreads(): number {
  threadCount ??= defaultThreads();
  return threadCount;
}

/**
 * Sets the number of threads of the 'wasm' backend, this one included; 1 runs everything on the
 * calling thread, and workers already started sleep until they are needed again. Products below
 * 2^19 (about 500,000) multiply-adds always run on one thread. Without shared memory (a browser
 * page that is not cross-origin isolated) the backend runs on one thread whatever the setting.
 *
 * setThreads(2) on a 2-core machine splits large products between both cores.
 */
export function setThreads(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_THREADS) {
    // JSON shows a string as one: setThreads('2') reports "2", not a bare 2 that looks valid.
    // Numbers are printed as they are, since JSON writes NaN and Infinity as null.
    const countText = typeof count === 'number' ? String(count) : (JSON.stringify(count) ?? String(count));
    throw new RangeError(`setThreads: count must be an integer from 1 to ${MAX_THREADS}, got ${countText}`);
  }
  threadCount = count;
  if (wasm !== undefined) wasm.threads = count;
}

/**
 * Sets the URL from which a browser loads the worker threads' script, this package's
 * dist/wasm/worker.js served by the page. Node finds the script by itself. A backend that runs
 * on one thread because a product came first starts its workers with the next large product, or
 * with backendReady.
 *
 * setWorkerScript('/metagrad/worker.js'); then await backendReady() starts the workers.
 */
export function setWorkerScript(url: string): void {
  setWorkerScriptUrl(url);
  if (wasm !== undefined) wasm.threads = getThreads();
}

/**
 * Prepares the 'wasm' backend: compiles its module if that has not happened yet, then starts the
 * worker threads that `getThreads()` allows. Resolves with the number of threads, this one
 * included, that are ready once every worker is ready or has failed, or after `timeoutMs`.
 *
 * Node needs no call: the module compiles on the first product, and products use the workers
 * as they become ready. A browser page should await it once before training, because a browser
 * may allow only an asynchronous compile on its main thread, and until then products run on the
 * TypeScript loops. Chrome long rejected synchronous compiles there above 4 KB, and this module
 * is about 11 KB, but Chromium 150 compiles it synchronously. Benchmarks await it so that the
 * first timed product already uses every thread.
 *
 * await backendReady() resolves with 2 on a 2-core machine with the 'wasm' backend.
 */
export async function backendReady(timeoutMs = 10_000): Promise<number> {
  if (getBackend() !== 'wasm') return 1;
  if (wasm === undefined && createWasmBackend() === undefined) {
    installWasmBackend(await WasmRuntime.compile(runtimeOptions()));
  }
  const backend = wasm!;
  backend.startWorkers();

  const deadline = Date.now() + timeoutMs;
  // A worker that failed never becomes ready, so the wait ends once no worker is left starting.
  while (1 + backend.readyWorkerCount() < backend.threads && backend.startingWorkerCount() > 0 && Date.now() < deadline) {
    await delay(5);
  }
  return 1 + backend.readyWorkerCount();
}

/**
 * Returns the WebAssembly backend when it should run a float32 GEMM of `macs` multiply-adds
 * with operands of `data`'s type, or undefined for the TypeScript loops.
 */
export function wasmBackendFor(data: ArrayBufferView, macs: number): WasmBackend | undefined {
  if (macs < WASM_MIN_MACS || !(data instanceof Float32Array) || getBackend() !== 'wasm') return undefined;
  return wasm ?? createWasmBackend();
}

/**
 * The result sizes, in elements, at which a float32 elementwise op runs on WebAssembly; outside
 * them it stays on the TypeScript loops. Each call through WebAssembly pays two or three copies
 * and a call: a 512-element add took about 1.5 µs either way on the 2-core AMD EPYC this was
 * measured on, and at 2,048 elements WebAssembly took 3.9 µs against 6.2. WebAssembly memory
 * grows to the largest call and never shrinks, and three arrays of 2^22 floats take 48 MiB.
 * These are fields, so that tests can lower the minimum to run the WebAssembly kernels on small arrays.
 */
export const wasmElementwise = { minElements: 2048, maxElements: 1 << 22 };

/**
 * Returns the WebAssembly backend when it should run an elementwise op with a result of `count`
 * elements of `data`'s type, or undefined for the TypeScript loops.
 */
export function wasmBackendForElements(data: ArrayBufferView, count: number): WasmBackend | undefined {
  if (count < wasmElementwise.minElements || count > wasmElementwise.maxElements) return undefined;
  if (!(data instanceof Float32Array) || getBackend() !== 'wasm') return undefined;
  const backend = wasm ?? createWasmBackend();
  return backend !== undefined && backend.fits(3 * count + SPLAT_ROOM) ? backend : undefined;
}

/** Returns the WebAssembly backend, created on first use. Throws where it cannot compile synchronously. */
export function activeWasmBackend(): WasmBackend {
  const backend = wasm ?? createWasmBackend();
  if (backend === undefined) throw new Error(`wasm backend: the module could not be compiled synchronously (${syncCompileError}); await backendReady() first`);
  return backend;
}

/**
 * Creates the backend with a synchronous compile, or returns undefined when the engine rejects
 * one (a browser's main thread may). Then `backendReady` compiles it asynchronously.
 */
function createWasmBackend(): WasmBackend | undefined {
  if (syncCompileError !== undefined) return undefined;
  // An invalid METAGRAD_THREADS must reach the caller, not turn into a silent fallback to the loops.
  getThreads();
  try {
    return installWasmBackend(new WasmRuntime(runtimeOptions()));
  } catch (error) {
    syncCompileError = error instanceof Error ? error.message : String(error);
    return undefined;
  }
}

function installWasmBackend(runtime: WasmRuntime): WasmBackend {
  wasm = new WasmBackend(runtime);
  wasm.threads = getThreads();
  return wasm;
}

function runtimeOptions() {
  const { relaxedSimd, sharedMemory } = wasmFeatures();
  return { relaxedMadd: relaxedSimd, sharedMemory };
}

function defaultBackend(): Backend {
  const requested = environmentVariable('METAGRAD_BACKEND');
  if (requested === undefined || requested === '') return wasmFeatures().simd ? 'wasm' : 'js';
  if (requested !== 'js' && requested !== 'wasm') {
    throw new Error(`METAGRAD_BACKEND must be 'js' or 'wasm', got '${requested}'`);
  }
  if (requested === 'wasm' && !wasmFeatures().simd) {
    throw new Error("METAGRAD_BACKEND is 'wasm', but this JavaScript engine does not support WebAssembly SIMD; set it to 'js'");
  }
  return requested;
}

function defaultThreads(): number {
  const requested = environmentVariable('METAGRAD_THREADS');
  if (requested === undefined || requested === '') return Math.min(MAX_THREADS, Math.max(1, availableCores()));
  const count = Number(requested);
  if (!Number.isInteger(count) || count < 1 || count > MAX_THREADS) {
    throw new Error(`METAGRAD_THREADS must be an integer from 1 to ${MAX_THREADS}, got '${requested}'`);
  }
  return count;
}
