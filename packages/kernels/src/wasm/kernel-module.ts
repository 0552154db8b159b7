/**
 * The module of every WebAssembly kernel, generated for the features the runtime supports.
 */
import { col2imKernel, im2colKernel } from './conv-kernels';
import { binaryKernel, binaryOps, reluKernel } from './elementwise-kernels';
import { type ModuleDefinition, encodeModule } from './encoder';
import { gemmDriverKernel, gemmPackedBKernel, gemmRowChunksKernel, multiplyPanelsKernel } from './gemm-kernels';
import { lstmCellBackwardKernel, lstmCellKernel } from './lstm-kernels';
import { packAKernel, packBKernel } from './pack-kernels';
import { sumRowsKernel } from './reduce-kernels';
import { printFunction, printModule } from './wat';

/** Features a kernel module is generated for. */
export interface KernelModuleOptions {
  /** Fused multiply-add through relaxed SIMD, when WebAssembly.validate accepts it. */
  relaxedMadd: boolean;
  /** Import a shared memory, so that worker threads can run kernels on the same data. */
  sharedMemory: boolean;
  /** Maximum size of the memory, in 64 KiB pages. A shared memory reserves it up front. */
  maximumPages: number;
}

/** Returns the definition of the kernel module: its memory import and functions. */
export function kernelModule(options: KernelModuleOptions): ModuleDefinition {
  return {
    memory: { initial: 1, maximum: options.maximumPages, shared: options.sharedMemory },
    functions: [
      packAKernel(),
      packBKernel(),
      multiplyPanelsKernel({ relaxedMadd: options.relaxedMadd }),
      gemmDriverKernel(),
      gemmPackedBKernel(),
      gemmRowChunksKernel(),
      im2colKernel(),
      col2imKernel(),
      lstmCellKernel(),
      lstmCellBackwardKernel(),
      ...Object.keys(binaryOps).map(binaryKernel),
      reluKernel(),
      sumRowsKernel(),
    ],
  };
}

/** Returns the binary kernel module. */
export function kernelModuleBytes(options: KernelModuleOptions): Uint8Array {
  return encodeModule(kernelModule(options));
}

/**
 * Returns a generated kernel in the WebAssembly text format, for reading and review: the
 * function named `name` (packA, packB, multiplyPanels, gemm, gemmPackedB, gemmRowChunks, im2col, col2im, lstmCell, lstmCellBackward,
 * add, sub, mul, div, subScaled, reluBackward, relu or sumRows), or the whole module.
 *
 * wasmKernelText('multiplyPanels') starts with
 *   (func $multiplyPanels (export "multiplyPanels") (param $rows i32) ...
 */
export function wasmKernelText(name?: string, options: Partial<KernelModuleOptions> = {}): string {
  const module = kernelModule({ relaxedMadd: false, sharedMemory: false, maximumPages: 1, ...options });
  if (name === undefined) return printModule(module);

  const fn = module.functions.find((candidate) => candidate.name === name);
  if (fn === undefined) {
    throw new Error(`wasmKernelText: no kernel named '${name}'; the kernels are ${module.functions.map((f) => f.name).join(', ')}`);
  }
  return printFunction(fn);
}
