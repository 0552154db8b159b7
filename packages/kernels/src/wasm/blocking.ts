/**
 * Block sizes of the WebAssembly GEMM and the layout of each thread's workspace.
 *
 * The scheme is Goto and van de Geijn's, as in ../gemm.ts, with float32 panels and a micro-kernel
 * of MR×NR = 2×16: each row of the tile is four f32x4 accumulators, so the tile takes 8 vector
 * registers, and one step of the loop over p loads 4 vectors of B and 2 splats of A, 14 in all.
 * V8 11 on x64 leaves WebAssembly 15 vector registers. On the 2-core Xeon this was measured on,
 * tiles of 5×8 and 6×8 spilled registers and were slower, while 2×16, 3×8 and 4×8 ran at about
 * the same speed.
 */

/** Rows of C in one micro-kernel tile. */
export const MR = 2;
/** Columns of C in one micro-kernel tile: four f32x4 vectors. */
export const NR = 16;
/**
 * Most depth of a packed block: a 2×256 panel of A (2 KiB) and a 256×16 panel of B (16 KiB) fit
 * in L1. The driver cuts K into equal blocks of at most this depth.
 */
export const KC = 256;
/** Rows of A packed at once: 128×256 float32 (128 KiB) stay in L2. */
export const MC = 128;
/** Columns of B packed at once: 256×1024 float32 (1 MiB). */
export const NC = 1024;

export const BYTES_PER_FLOAT = 4;

/** Byte offsets, within one thread's workspace, of the packed blocks, the edge tile and a counter. */
export const workspaceLayout = {
  packedA: 0,
  packedB: MC * KC * BYTES_PER_FLOAT,
  /** An MR×NR tile that edge tiles are written to before their valid part is copied into C. */
  edgeTile: (MC * KC + KC * NC) * BYTES_PER_FLOAT,
  /** An i32 to which gemmRowChunks adds the rows of each chunk that this thread computes. */
  rowsComputed: (MC * KC + KC * NC + MR * NR) * BYTES_PER_FLOAT,
  /** Size of one thread's workspace, rounded up to 64 bytes so that workspaces start on a cache line. */
  size: Math.ceil(((MC * KC + KC * NC + MR * NR + 1) * BYTES_PER_FLOAT) / 64) * 64,
};
