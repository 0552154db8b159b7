/**
 * The host environment of the backend: Node.js or a browser. Node's modules are required only
 * when a function here runs in Node, so that bundlers for the browser meet no static import of
 * them.
 */

// The package compiles without Node's types; these are the two CommonJS bindings it uses.
declare const require: (id: string) => unknown;
declare const __dirname: string;

/** A compiled WebAssembly.Module; the backend only passes it on. */
export type CompiledModule = object;

/** A WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/**
 * The parts of the WebAssembly JavaScript API that the backend uses. TypeScript declares them in
 * its DOM library, which this package does not load, so that it compiles for any host.
 */
export interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => CompiledModule;
  Instance: new (module: CompiledModule, imports: { env: { memory: WasmMemory } }) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<CompiledModule>;
  instantiate(module: CompiledModule, imports: { env: { memory: WasmMemory } }): Promise<{ exports: unknown }>;
}

interface HostGlobals {
  process?: { versions?: { node?: string }; env?: Record<string, string | undefined> };
  navigator?: { hardwareConcurrency?: number };
  WebAssembly?: WebAssemblyApi;
  setTimeout(callback: () => void, milliseconds: number): unknown;
  performance: { now(): number };
}

const host = globalThis as unknown as HostGlobals;

/** The engine's WebAssembly API, or undefined where there is none. */
export const webAssembly: WebAssemblyApi | undefined = typeof host.WebAssembly === 'object' ? host.WebAssembly : undefined;

/** True in Node.js, where worker_threads is used; false in a browser. */
export const inNode = typeof host.process?.versions?.node === 'string';

/** Loads a Node built-in module. Only call it when `inNode`. */
export function requireNode<T>(id: string): T {
  return require(id) as T;
}

/** Path of worker.js, which sits next to this file in src/wasm and in dist/wasm. */
export function workerScriptPath(): string {
  return `${__dirname}/worker.js`;
}

/** Reads an environment variable in Node; undefined in a browser. */
export function environmentVariable(name: string): string | undefined {
  return host.process?.env?.[name];
}

/** Returns a time in milliseconds with sub-millisecond resolution, for measuring intervals. */
export function now(): number {
  return host.performance.now();
}

/** Resolves after `milliseconds`, through the host's timer. */
export function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => host.setTimeout(resolve, milliseconds));
}

/** Number of logical cores this process may use. */
export function availableCores(): number {
  if (inNode) {
    const os = requireNode<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return host.navigator?.hardwareConcurrency ?? 1;
}
