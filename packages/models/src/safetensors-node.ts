/**
 * Safetensors files on disk, for Node. The rest of the package runs in browsers too, so this
 * file loads node:fs only inside the functions that need it. The "browser" field of package.json
 * makes bundlers leave this file out of browser builds.
 */
import type { Tensor } from '@metagrad/autodiff';
import { type SafetensorsContent, SafetensorsError, parseSafetensors, serializeSafetensors } from './safetensors';

// The package compiles without Node's type library, so declare the parts of node:fs used here.
declare const require: (id: string) => unknown;

interface FileSystem {
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array): void;
  renameSync(oldPath: string, newPath: string): void;
  rmSync(path: string, options: { force: boolean }): void;
}

function fileSystem(): FileSystem {
  return require('node:fs') as FileSystem;
}

/**
 * Writes tensors (a state dict) and optional string metadata to a safetensors file at `path`.
 * The bytes go to a temporary file beside it that is then renamed, so an existing file is
 * replaced whole or not at all.
 *
 * saveSafetensors(model.stateDict(), 'model.safetensors', { epochs: '3' });
 */
export function saveSafetensors(tensors: Record<string, Tensor>, path: string, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  const fs = fileSystem();
  const temporaryPath = `${path}.${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.writeFileSync(temporaryPath, bytes);
    fs.renameSync(temporaryPath, path);
  } catch (error) {
    fs.rmSync(temporaryPath, { force: true });
    throw error;
  }
}

/**
 * Reads a safetensors file: its tensors by name and its metadata. A malformed file throws a
 * SafetensorsError naming `path` and the reason, before any tensor is made.
 *
 * model.loadStateDict(loadSafetensors('model.safetensors').tensors);
 */
export function loadSafetensors(path: string): SafetensorsContent {
  let bytes: Uint8Array;
  try {
    bytes = fileSystem().readFileSync(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new SafetensorsError(`'${path}'`, reason);
  }
  return parseSafetensors(bytes, { source: path });
}
