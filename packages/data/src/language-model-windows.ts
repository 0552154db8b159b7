/**
 * Windows of a token stream for next-token prediction: the input is a run of contextLength
 * tokens and the target is the same run shifted by one, so position t is trained to predict
 * token t + 1.
 */
import type { Generator } from '@metagrad/autodiff';

/** Inputs [N, T] and the next-token targets [N, T]. */
export interface LanguageModelBatch {
  inputs: number[][];
  targets: number[][];
}

/**
 * Splits a token stream into a training part and a held-out part made of its last
 * `heldOutFraction` tokens, so the held-out text is text the model never trained on.
 *
 * splitHeldOut([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.2) // { train: [1, ..., 8], heldOut: [9, 10] }
 */
export function splitHeldOut(ids: readonly number[], heldOutFraction: number): { train: number[]; heldOut: number[] } {
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) {
    throw new Error(`splitHeldOut: heldOutFraction must be a number in (0, 1), got ${heldOutFraction}`);
  }
  const boundary = ids.length - Math.round(ids.length * heldOutFraction);
  return { train: ids.slice(0, boundary), heldOut: ids.slice(boundary) };
}

/**
 * Draws `batchSize` windows of contextLength + 1 tokens at uniformly random offsets of `ids`.
 *
 * randomWindows(ids, { contextLength: 64, batchSize: 32, generator }).inputs.length // 32
 */
export function randomWindows(ids: readonly number[], options: { contextLength: number; batchSize: number; generator: Generator }): LanguageModelBatch {
  const { contextLength, batchSize, generator } = options;
  checkContextLength('randomWindows', contextLength);
  if (ids.length < contextLength + 1) {
    throw new Error(`randomWindows: the text has ${ids.length} tokens, fewer than contextLength + 1 = ${contextLength + 1}; use a shorter context or a longer text`);
  }

  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (let row = 0; row < batchSize; row++) {
    const start = generator.integer(0, ids.length - contextLength);
    inputs.push(ids.slice(start, start + contextLength));
    targets.push(ids.slice(start + 1, start + contextLength + 1));
  }
  return { inputs, targets };
}

/**
 * Cuts a token stream into consecutive windows of at most contextLength inputs that together
 * predict every token after the first exactly once, for evaluation. The last window may be shorter.
 *
 * consecutiveWindows([1, 2, 3, 4, 5, 6], 2)
 * // [{ inputs: [1, 2], targets: [2, 3] }, { inputs: [3, 4], targets: [4, 5] }, { inputs: [5], targets: [6] }]
 */
export function consecutiveWindows(ids: readonly number[], contextLength: number): Array<{ inputs: number[]; targets: number[] }> {
  checkContextLength('consecutiveWindows', contextLength);
  const windows: Array<{ inputs: number[]; targets: number[] }> = [];
  for (let start = 0; start + 1 < ids.length; start += contextLength) {
    const end = Math.min(start + contextLength, ids.length - 1);
    windows.push({ inputs: ids.slice(start, end), targets: ids.slice(start + 1, end + 1) });
  }
  return windows;
}

function checkContextLength(caller: string, contextLength: number): void {
  if (!Number.isInteger(contextLength) || contextLength < 1) {
    throw new Error(`${caller}: contextLength must be a positive integer, got ${contextLength}`);
  }
}

/** Consecutive windows of parallel streams, as `streamWindows` returns them step by step. */
export interface StreamBatch extends LanguageModelBatch {
  /** Whether the streams start again from their beginning, so a carried state must be reset. */
  restart: boolean;
}

/**
 * Cuts a token stream into `streams` contiguous pieces of equal length, read side by side: batch
 * k contains the k-th window of contextLength tokens of every piece, so row i of one batch continues
 * row i of the previous one. A recurrent model can then carry its state from batch to batch and
 * backpropagate through one window only (truncated backpropagation through time). After the last
 * full window the pieces start again, and that batch is marked `restart`.
 *
 * const next = streamWindows(ids, { streams: 32, contextLength: 128 });
 * const { inputs, targets, restart } = next(); // inputs [32, 128]
 */
export function streamWindows(ids: readonly number[], options: { streams: number; contextLength: number }): () => StreamBatch {
  const { streams, contextLength } = options;
  checkContextLength('streamWindows', contextLength);
  if (!Number.isInteger(streams) || streams < 1) throw new Error(`streamWindows: streams must be a positive integer, got ${streams}`);
  const pieceLength = Math.floor(ids.length / streams);
  const windowsPerPiece = Math.floor((pieceLength - 1) / contextLength);
  if (windowsPerPiece < 1) {
    throw new Error(`streamWindows: ${ids.length} tokens in ${streams} streams leave fewer than contextLength + 1 = ${contextLength + 1} per stream; use fewer streams or a shorter context`);
  }

  let window = 0;
  return () => {
    const restart = window === 0;
    const inputs: number[][] = [];
    const targets: number[][] = [];
    for (let stream = 0; stream < streams; stream++) {
      const start = stream * pieceLength + window * contextLength;
      inputs.push(ids.slice(start, start + contextLength));
      targets.push(ids.slice(start + 1, start + contextLength + 1));
    }
    window = (window + 1) % windowsPerPiece;
    return { inputs, targets, restart };
  };
}
