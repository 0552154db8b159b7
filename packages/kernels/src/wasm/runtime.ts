/**
 * The WebAssembly runtime of the kernels: feature detection, the compiled kernel module, its
 * memory, and a stack allocator ("arena") for the operands of one kernel call.
 *
 * Memory layout, in bytes:
 *   [0, CONTROL_BYTES)                       control block of the worker threads (threads.ts)
 *   [CONTROL_BYTES, arena base)              one GEMM workspace per thread (blocking.ts)
 *   [arena base, top)                        operands of the kernel calls in progress
 * The memory only grows: it keeps the size of the largest call made so far, and repeated calls
 * of the same sizes reuse it.
 */
import { workspaceLayout } from './blocking';
import { FunctionBuilder, encodeModule } from './encoder';
import { type CompiledModule, type WasmMemory, webAssembly } from './host';
import { f32x4, local, v128 } from './instructions';
import { kernelModuleBytes } from './kernel-module';

/** Bytes of the control block at address 0. */
export const CONTROL_BYTES = 4096;
const PAGE_BYTES = 65536;
/**
 * 2 GiB. Addresses stay below 2^31, so that an i32 byte offset never turns negative. A shared
 * memory reserves its maximum as address space up front, without committing it.
 */
const MAXIMUM_PAGES = 32768;

/** Features of the JavaScript engine that the backend uses. */
export interface WasmFeatures {
  /** 128-bit SIMD (WebAssembly 2.0). Without it the backend is unavailable. */
  simd: boolean;
  /** f32x4.relaxed_madd, from relaxed SIMD. Node 20 accepts it only with --experimental-wasm-relaxed-simd. */
  relaxedSimd: boolean;
  /** A shared WebAssembly.Memory, which worker threads need. Browsers allow it only on cross-origin isolated pages. */
  sharedMemory: boolean;
}

/** Returns true when `WebAssembly.validate` accepts a module with one function built by `define`. */
function validates(build: (fn: FunctionBuilder) => ReturnType<FunctionBuilder['define']>, shared = false): boolean {
  if (webAssembly === undefined) return false;
  const fn = new FunctionBuilder('probe', ['v128']);
  const bytes = encodeModule({ memory: { initial: 1, maximum: 1, shared }, functions: [build(fn)] });
  try {
    return webAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Asks the engine which features it supports, by validating tiny modules that use them. */
export function detectFeatures(): WasmFeatures {
  const simd = validates((fn) => fn.define(v128.zero()));
  const relaxedSimd = simd && validates((fn) => {
    const x = fn.param('x', 'v128');
    return fn.define(f32x4.relaxed_madd(local.get(x), local.get(x), local.get(x)));
  });
  return { simd, relaxedSimd, sharedMemory: simd && sharedMemoryAvailable() };
}

function sharedMemoryAvailable(): boolean {
  if (webAssembly === undefined || typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  try {
    new webAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/** Exports of the kernel module; pointers and strides are in bytes. */
export interface KernelExports {
  gemm(
    m: number, n: number, k: number,
    a: number, aRowStride: number, aColStride: number,
    b: number, bRowStride: number, bColStride: number,
    c: number, ldc: number, accumulate: number, workspace: number,
    rowsReady: number, firstRow: number,
  ): void;
  /** gemmPackedB(m, n, k, a, aRowStride, aColStride, packedB, pitch, firstCol, c, ldc, accumulate, workspace); see gemm-kernels.ts. */
  gemmPackedB(...args: number[]): void;
  /** gemmRowChunks(m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, packedB, pitch, c, ldc, accumulate, workspace, counters, threads, doneRows, chunkLimit); see gemm-kernels.ts. */
  gemmRowChunks(...args: number[]): void;
  /** packB(src, rowStride, colStride, depth, cols, dst); see pack-kernels.ts. */
  packB(...args: number[]): void;
  /** im2col(x, col, ...geometry) and col2im(col, dx, ...geometry); see conv-kernels.ts. */
  im2col(...args: number[]): void;
  col2im(...args: number[]): void;
  /** lstmCell(rows, hidden, z, zRowStride, bias, cell, cellRowStride, saved, savedRowStride, state, stateRowStride); see lstm-kernels.ts. */
  lstmCell(...args: number[]): void;
  /** lstmCellBackward(rows, hidden, grad, gradRowStride, carriedH, carriedC, saved, savedRowStride, cell, cellRowStride, dz, dzRowStride). */
  lstmCellBackward(...args: number[]): void;
  /**
   * add, sub, mul, div, subScaled and reluBackward take (x, xOuterStride, xRepeatStride, y, yOuterStride, yRepeatStride, out, outer, repeat, inner, scalar);
   * relu takes (x, out, count). See elementwise-kernels.ts. sumRows takes (x, outer, reduced, inner, totals, out); see reduce-kernels.ts.
   */
  [elementwise: string]: (...args: number[]) => void;
}

/** Options of a runtime: which features its module uses. */
export interface RuntimeOptions {
  relaxedMadd: boolean;
  sharedMemory: boolean;
}

/** Returns the engine's WebAssembly API, the module's bytes and a fresh memory for `options`. */
function prepare(options: RuntimeOptions) {
  if (webAssembly === undefined) throw new Error('WasmRuntime: this JavaScript engine has no WebAssembly');
  const bytes = kernelModuleBytes({ relaxedMadd: options.relaxedMadd, sharedMemory: options.sharedMemory, maximumPages: MAXIMUM_PAGES });
  const memory = new webAssembly.Memory({ initial: 1, maximum: MAXIMUM_PAGES, shared: options.sharedMemory });
  return { api: webAssembly, bytes, memory };
}

/**
 * One compiled kernel module with its memory and arena. The module can be instantiated again on
 * the same memory by worker threads, when the memory is shared.
 */
export class WasmRuntime {
  readonly module: CompiledModule;
  readonly memory: WasmMemory;
  readonly exports: KernelExports;
  readonly options: RuntimeOptions;
  private workspaces = 1;
  private top: number;
  private floats: Float32Array;
  /** memory.buffer as of the last growth; the getter is slow enough to show in small calls. */
  private buffer: ArrayBuffer | SharedArrayBuffer;

  /**
   * Compiles and instantiates the kernel module synchronously. Chrome long rejected that on a
   * page's main thread for modules over 4 KB, which this one is (about 11 KB), though Chromium 150
   * accepts it. `compile` works on every thread.
   */
  constructor(options: RuntimeOptions, compiled?: { module: CompiledModule; memory: WasmMemory; exports: unknown }) {
    this.options = options;
    if (compiled === undefined) {
      const { api, bytes, memory } = prepare(options);
      const module = new api.Module(bytes);
      compiled = { module, memory, exports: new api.Instance(module, { env: { memory } }).exports };
    }
    this.module = compiled.module;
    this.memory = compiled.memory;
    this.exports = compiled.exports as KernelExports;
    this.top = this.arenaBase();
    this.buffer = this.memory.buffer;
    this.floats = new Float32Array(this.buffer);
  }

  /** Compiles and instantiates the kernel module asynchronously, as browsers allow on any thread. */
  static async compile(options: RuntimeOptions): Promise<WasmRuntime> {
    const { api, bytes, memory } = prepare(options);
    const module = await api.compile(bytes);
    const instance = await api.instantiate(module, { env: { memory } });
    return new WasmRuntime(options, { module, memory, exports: instance.exports });
  }

  /** Byte address of thread t's GEMM workspace. */
  workspace(thread: number): number {
    return CONTROL_BYTES + thread * workspaceLayout.size;
  }

  /**
   * Makes room for `count` thread workspaces below the arena. Only allowed while the arena is
   * empty, that is, between kernel calls.
   */
  reserveWorkspaces(count: number): void {
    if (count <= this.workspaces) return;
    if (this.top !== this.arenaBase()) throw new Error('WasmRuntime: thread workspaces cannot grow while a kernel call holds arena memory');
    this.workspaces = count;
    this.top = this.arenaBase();
    this.ensureBytes(this.top);
  }

  /** Returns the arena's current top, to pass to `release` when the call is done. */
  mark(): number {
    return this.top;
  }

  /** Frees every allocation made since `mark` returned `top`. */
  release(top: number): void {
    this.top = top;
  }

  /**
   * Allocates `count` floats in the arena and returns their byte address, 64-byte aligned.
   *
   * NOTE: growing a non-shared memory detaches its old buffer, so a kernel must make all its
   * allocations before it takes views with `floatView`.
   */
  allocate(count: number): number {
    const address = this.top;
    const end = address + Math.ceil((count * 4) / 64) * 64;
    if (end > MAXIMUM_PAGES * PAGE_BYTES) {
      throw new RangeError(`WasmRuntime: a kernel call needs ${end} bytes of WebAssembly memory, more than its maximum of ${MAXIMUM_PAGES * PAGE_BYTES}`);
    }
    this.ensureBytes(end);
    this.top = end;
    return address;
  }

  /** Tells whether `count` more floats fit under the memory's maximum. */
  fits(count: number): boolean {
    return this.top + count * 4 + 64 <= MAXIMUM_PAGES * PAGE_BYTES;
  }

  /** Returns the whole memory as floats; element i is at byte address 4i. */
  floatView(): Float32Array {
    if (this.floats.buffer !== this.buffer) this.floats = new Float32Array(this.buffer);
    return this.floats;
  }

  /** Tells whether `data` is a view of this runtime's memory, taken since its last growth. */
  owns(data: ArrayBufferView): boolean {
    return data.buffer === this.buffer;
  }

  /** Bytes the memory currently has, for tests of its growth. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private arenaBase(): number {
    return this.workspace(this.workspaces);
  }

  private ensureBytes(bytes: number): void {
    const pages = Math.ceil(bytes / PAGE_BYTES) - this.buffer.byteLength / PAGE_BYTES;
    if (pages <= 0) return;
    this.memory.grow(pages);
    this.buffer = this.memory.buffer;
  }
}
