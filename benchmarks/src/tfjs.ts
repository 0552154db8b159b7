/**
 * TensorFlow.js as a peer: choosing its backend and timing its ops fairly.
 *
 * TF.js may run an op lazily and keep its result on the backend, so a timed run ends only when
 * the result's values have been read back into JavaScript. Every run's tensors are disposed,
 * so memory stays flat however many runs a case makes.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type Measure, type RunCounts, timeRuns } from './harness';

export { tf };

export type TfjsBackend = 'cpu' | 'wasm';

/** Column label of each backend in the tables. */
export const tfjsLabels: Record<TfjsBackend, string> = { cpu: 'TF.js CPU', wasm: 'TF.js WASM' };

/**
 * Makes `backend` the backend of every following TF.js op, in production mode as a TF.js
 * application would ship. In TF.js 4.22 that mode prints no warnings and skips some checks
 * when tensors are created.
 *
 * The WASM backend loads its .wasm binaries from the package's dist folder on disk, so it needs
 * no network. It picks the SIMD binary when the runtime supports SIMD, and the threaded one only
 * when it also supports threads (Node 20 ran the SIMD binary without threads).
 */
export async function useTfjsBackend(backend: TfjsBackend): Promise<void> {
  tf.enableProdMode();

  if (backend === 'wasm') {
    const binary = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
    setWasmPaths(path.dirname(binary) + path.sep);
  }

  const ready = await tf.setBackend(backend);
  if (!ready || tf.getBackend() !== backend) {
    throw new Error(`TF.js backend '${backend}' failed to initialize; the active backend is '${tf.getBackend()}'`);
  }
}

/**
 * Returns a `Measure` that times `op` on the active TF.js backend. Each timed run executes
 * `op` inside tf.tidy, awaits the values of every tensor it returns, then disposes them.
 * Throws when the number of live tensors grows, because a leak would slow later runs.
 */
export function timedTfjs(op: () => tf.Tensor | tf.Tensor[], counts: RunCounts = {}): Measure {
  const run = async () => {
    const outputs = tf.tidy(op);
    const tensors = Array.isArray(outputs) ? outputs : [outputs];
    await Promise.all(tensors.map((tensor) => tensor.data()));
    tf.dispose(tensors);
  };

  return async () => {
    const tensorsBefore = tf.memory().numTensors;
    const timing = await timeRuns(run, counts);
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked > 0) throw new Error(`timedTfjs: ${leaked} tensors were left undisposed by the timed op`);
    return timing;
  };
}
