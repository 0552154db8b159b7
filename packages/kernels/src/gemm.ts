/**
 * General matrix multiplication on strided 2-D operands: C = A·B, or C += A·B.
 *
 * Letters follow BLAS: A is M×K, B is K×N, C is M×N. Element (i, p) of A is at
 * `a[aOffset + i * aRowStride + p * aColStride]`, and likewise for B and C, so a transposed
 * operand is just another pair of strides and is read in place.
 *
 * Large products use the blocked scheme of Goto and van de Geijn ("Anatomy of
 * High-Performance Matrix Multiplication", 2008):
 *   - a KC×NC block of B and an MC×KC block of A are copied ("packed") into Float64Array panels
 *     of 4 columns and 4 rows, laid out in the order the inner loop reads them;
 *   - a 4×4 micro-kernel multiplies one A panel by one B panel, holding the 16 sums of its
 *     tile of C in local variables (registers) across the whole KC loop.
 * Packing into float64 saves a float32-to-float64 conversion on every load of the inner loop;
 * on the 2-core Xeon this was written on, that made the micro-kernel about 10% faster.
 * Small products skip packing and run a similar register tiling on the operands in place.
 *
 * These loops are the 'js' backend and the reference for the 'wasm' backend (backend.ts), to
 * which `gemm` hands float32 products when that backend is selected.
 */
import { wasmBackendFor } from './backend';
import type { Matrix } from './matrix';
import type { FloatArray } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

/** Rows and columns of C that one micro-kernel call computes. */
const MR = 4;
const NR = 4;
/** Depth of a packed block: a 4×256 float64 panel of A and of B (8 KiB each) stay in L1 cache. */
const KC = 256;
/** Rows of A packed at once: 64×256 float64 (128 KiB) stay in L2 cache. */
const MC = 64;
/** Columns of B packed at once: 256×1024 float64 (2 MiB). */
const NC = 1024;
/** Below this many multiply-adds, packing costs more than it saves. */
const SMALL_PRODUCT = 48 * 48 * 48;

export type { Matrix };

// Packing buffers, reused across calls and grown on demand.
let packedA = new Float64Array(MC * KC);
let packedB = new Float64Array(KC * NC);
const tile = new Float64Array(MR * NR);

/**
 * Computes C = A·B for an M×K matrix A and a K×N matrix B, or C += A·B when `accumulate`.
 * With K = 0, C is zeroed (or left unchanged when accumulating).
 */
export function gemm(m: number, n: number, k: number, a: Matrix, b: Matrix, c: Matrix, accumulate: boolean): void {
  if (m === 0 || n === 0) return;
  const wasm = wasmBackendFor(c.data, m * n * k);
  if (wasm !== undefined && a.data instanceof Float32Array && b.data instanceof Float32Array && wasm.fits(m * k + k * n + m * n)) {
    wasm.gemm(m, n, k, a, b, c, accumulate);
    return;
  }
  if (k === 0 || m * n * k <= SMALL_PRODUCT) {
    gemmSmall(m, n, k, a, b, c, accumulate);
    return;
  }

  for (let jc = 0; jc < n; jc += NC) {
    const nc = math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = math.min(KC, k - pc);
      packB(kc, nc, b, pc, jc);
      const addToC = accumulate || pc > 0;

      for (let ic = 0; ic < m; ic += MC) {
        const mc = math.min(MC, m - ic);
        packA(mc, kc, a, ic, pc);
        multiplyPackedBlock(mc, nc, kc, c, ic, jc, addToC);
      }
    }
  }
}

/**
 * C = A·B for products small enough that packing does not pay: the operands are read in place.
 * Rows of C are taken four at a time, then two, then one, each in tiles four columns wide whose
 * sums stay in local variables; columns left over at the right edge are single dot products.
 */
function gemmSmall(m: number, n: number, k: number, a: Matrix, b: Matrix, c: Matrix, accumulate: boolean): void {
  const n4 = n - (n % 4);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    for (let j = 0; j < n4; j += 4) tile4x4(k, a, i, b, j, c, accumulate);
  }
  for (; i + 2 <= m; i += 2) {
    for (let j = 0; j < n4; j += 4) tile2x4(k, a, i, b, j, c, accumulate);
  }
  for (; i < m; i++) {
    for (let j = 0; j < n4; j += 4) tile1x4(k, a, i, b, j, c, accumulate);
  }
  for (let row = 0; row < m; row++) {
    for (let j = n4; j < n; j++) dotProduct(k, a, row, b, j, c, accumulate);
  }
}

/**
 * Computes C_i = A_i·B_i for i < count, where matrix i of each operand starts `step` elements
 * after matrix i - 1 (a step of 0 shares one matrix). The 'wasm' backend copies each operand
 * once for the whole batch. Otherwise, or for float64, it is gemm on each product.
 */
export function gemmBatch(count: number, m: number, n: number, k: number, a: Matrix, aStep: number, b: Matrix, bStep: number, c: Matrix, cStep: number): void {
  if (count === 0 || m === 0 || n === 0) return;
  const wasm = wasmBackendFor(c.data, count * m * n * k);
  const floats = count * (m * k + k * n + m * n);
  if (wasm !== undefined && k > 0 && a.data instanceof Float32Array && b.data instanceof Float32Array && wasm.fits(2 * floats)) {
    wasm.gemmBatch(count, m, n, k, a, aStep, b, bStep, c, cStep);
    return;
  }

  const aAt = { ...a };
  const bAt = { ...b };
  const cAt = { ...c };
  for (let i = 0; i < count; i++) {
    aAt.offset = a.offset + i * aStep;
    bAt.offset = b.offset + i * bStep;
    cAt.offset = c.offset + i * cStep;
    gemm(m, n, k, aAt, bAt, cAt, false);
  }
}

/** C[i][j] (+)= sum over p of A[i][p] * B[p][j]. */
function dotProduct(k: number, a: Matrix, i: number, b: Matrix, j: number, c: Matrix, accumulate: boolean): void {
  const ad = a.data;
  const bd = b.data;
  const acs = a.colStride;
  const brs = b.rowStride;
  let ai = a.offset + i * a.rowStride;
  let bi = b.offset + j * b.colStride;
  let total = 0;
  for (let p = 0; p < k; p++, ai += acs, bi += brs) total += ad[ai] * bd[bi];

  const ci = c.offset + i * c.rowStride + j * c.colStride;
  c.data[ci] = accumulate ? c.data[ci] + total : total;
}

/** The 4×4 tile of C at (i, j), reading A and B in place. */
function tile4x4(k: number, a: Matrix, i: number, b: Matrix, j: number, c: Matrix, accumulate: boolean): void {
  const ad = a.data;
  const bd = b.data;
  const acs = a.colStride;
  const brs = b.rowStride;
  const row1 = a.rowStride;
  const row2 = 2 * row1;
  const row3 = 3 * row1;
  const col1 = b.colStride;
  const col2 = 2 * col1;
  const col3 = 3 * col1;
  let ai = a.offset + i * row1;
  let bi = b.offset + j * col1;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;

  for (let p = 0; p < k; p++, ai += acs, bi += brs) {
    const a0 = ad[ai];
    const a1 = ad[ai + row1];
    const a2 = ad[ai + row2];
    const a3 = ad[ai + row3];

    let bj = bd[bi];
    c00 += a0 * bj; c10 += a1 * bj; c20 += a2 * bj; c30 += a3 * bj;
    bj = bd[bi + col1];
    c01 += a0 * bj; c11 += a1 * bj; c21 += a2 * bj; c31 += a3 * bj;
    bj = bd[bi + col2];
    c02 += a0 * bj; c12 += a1 * bj; c22 += a2 * bj; c32 += a3 * bj;
    bj = bd[bi + col3];
    c03 += a0 * bj; c13 += a1 * bj; c23 += a2 * bj; c33 += a3 * bj;
  }

  const cd = c.data;
  const crs = c.rowStride;
  const ccs = c.colStride;
  let ci = c.offset + i * crs + j * ccs;
  if (accumulate) {
    c00 += cd[ci]; c01 += cd[ci + ccs]; c02 += cd[ci + 2 * ccs]; c03 += cd[ci + 3 * ccs];
    c10 += cd[ci + crs]; c11 += cd[ci + crs + ccs]; c12 += cd[ci + crs + 2 * ccs]; c13 += cd[ci + crs + 3 * ccs];
    c20 += cd[ci + 2 * crs]; c21 += cd[ci + 2 * crs + ccs]; c22 += cd[ci + 2 * crs + 2 * ccs]; c23 += cd[ci + 2 * crs + 3 * ccs];
    c30 += cd[ci + 3 * crs]; c31 += cd[ci + 3 * crs + ccs]; c32 += cd[ci + 3 * crs + 2 * ccs]; c33 += cd[ci + 3 * crs + 3 * ccs];
  }
  cd[ci] = c00; cd[ci + ccs] = c01; cd[ci + 2 * ccs] = c02; cd[ci + 3 * ccs] = c03;
  ci += crs;
  cd[ci] = c10; cd[ci + ccs] = c11; cd[ci + 2 * ccs] = c12; cd[ci + 3 * ccs] = c13;
  ci += crs;
  cd[ci] = c20; cd[ci + ccs] = c21; cd[ci + 2 * ccs] = c22; cd[ci + 3 * ccs] = c23;
  ci += crs;
  cd[ci] = c30; cd[ci + ccs] = c31; cd[ci + 2 * ccs] = c32; cd[ci + 3 * ccs] = c33;
}

/** The 2×4 tile of C at (i, j), for the rows that do not fill a 4×4 tile. */
function tile2x4(k: number, a: Matrix, i: number, b: Matrix, j: number, c: Matrix, accumulate: boolean): void {
  const ad = a.data;
  const bd = b.data;
  const acs = a.colStride;
  const brs = b.rowStride;
  const row1 = a.rowStride;
  const col1 = b.colStride;
  const col2 = 2 * col1;
  const col3 = 3 * col1;
  let ai = a.offset + i * row1;
  let bi = b.offset + j * col1;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;

  for (let p = 0; p < k; p++, ai += acs, bi += brs) {
    const a0 = ad[ai];
    const a1 = ad[ai + row1];
    let bj = bd[bi];
    c00 += a0 * bj; c10 += a1 * bj;
    bj = bd[bi + col1];
    c01 += a0 * bj; c11 += a1 * bj;
    bj = bd[bi + col2];
    c02 += a0 * bj; c12 += a1 * bj;
    bj = bd[bi + col3];
    c03 += a0 * bj; c13 += a1 * bj;
  }

  tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03;
  tile[4] = c10; tile[5] = c11; tile[6] = c12; tile[7] = c13;
  writeTile(c, i, j, 2, 4, accumulate);
}

/** The 1×4 tile of C at (i, j), for a last single row. */
function tile1x4(k: number, a: Matrix, i: number, b: Matrix, j: number, c: Matrix, accumulate: boolean): void {
  const ad = a.data;
  const bd = b.data;
  const acs = a.colStride;
  const brs = b.rowStride;
  const col1 = b.colStride;
  const col2 = 2 * col1;
  const col3 = 3 * col1;
  let ai = a.offset + i * a.rowStride;
  let bi = b.offset + j * col1;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;

  for (let p = 0; p < k; p++, ai += acs, bi += brs) {
    const a0 = ad[ai];
    c00 += a0 * bd[bi];
    c01 += a0 * bd[bi + col1];
    c02 += a0 * bd[bi + col2];
    c03 += a0 * bd[bi + col3];
  }

  tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03;
  writeTile(c, i, j, 1, 4, accumulate);
}

/** Writes (or adds) the top-left mr×nr corner of `tile` into C at (row, col). */
function writeTile(c: Matrix, row: number, col: number, mr: number, nr: number, accumulate: boolean): void {
  const { data, rowStride, colStride } = c;
  for (let i = 0; i < mr; i++) {
    let ci = c.offset + (row + i) * rowStride + col * colStride;
    for (let j = 0; j < nr; j++, ci += colStride) {
      data[ci] = accumulate ? data[ci] + tile[i * NR + j] : tile[i * NR + j];
    }
  }
}

/**
 * Copies rows ic..ic+mc of A, columns pc..pc+kc, into panels of MR rows. Within a panel, the
 * MR elements of one column are adjacent: panel[p * MR + i] = A[ic + i][pc + p]. Rows past the
 * end of A are zero, so the micro-kernel never needs a bounds check.
 */
function packA(mc: number, kc: number, a: Matrix, ic: number, pc: number): void {
  const panels = math.ceil(mc / MR);
  if (packedA.length < panels * MR * kc) packedA = new Float64Array(panels * MR * kc);
  packPanels(packedA, panels, MR, kc, mc, a.data, a.offset + ic * a.rowStride + pc * a.colStride, a.rowStride, a.colStride);
}

/**
 * Copies rows pc..pc+kc of B, columns jc..jc+nc, into panels of NR columns:
 * panel[p * NR + j] = B[pc + p][jc + j], zero past the last column.
 */
function packB(kc: number, nc: number, b: Matrix, pc: number, jc: number): void {
  const panels = math.ceil(nc / NR);
  if (packedB.length < panels * NR * kc) packedB = new Float64Array(panels * NR * kc);
  packPanels(packedB, panels, NR, kc, nc, b.data, b.offset + pc * b.rowStride + jc * b.colStride, b.colStride, b.rowStride);
}

/**
 * Packs `count` lines of length `depth` into panels of `width` lines:
 * dst[panel * width * depth + p * width + i] = src[start + line * lineStride + p * depthStride]
 * with line = panel * width + i, and zeros for lines at or past `count`. The loop order follows
 * whichever stride is smaller, so that the source is read as sequentially as possible.
 */
function packPanels(
  dst: Float64Array, panels: number, width: number, depth: number, count: number,
  src: FloatArray, start: number, lineStride: number, depthStride: number,
): void {
  const alongDepth = math.abs(depthStride) <= math.abs(lineStride);

  for (let panel = 0; panel < panels; panel++) {
    const base = panel * width * depth;
    const lines = math.min(width, count - panel * width);
    const first = start + panel * width * lineStride;
    if (alongDepth) {
      for (let i = 0; i < lines; i++) {
        let s = first + i * lineStride;
        for (let p = 0; p < depth; p++, s += depthStride) dst[base + p * width + i] = src[s];
      }
    } else {
      for (let p = 0; p < depth; p++) {
        let s = first + p * depthStride;
        for (let i = 0; i < lines; i++, s += lineStride) dst[base + p * width + i] = src[s];
      }
    }
    for (let i = lines; i < width; i++) {
      for (let p = 0; p < depth; p++) dst[base + p * width + i] = 0;
    }
  }
}

/** Multiplies the packed mc×kc block of A by the packed kc×nc block of B into C. */
function multiplyPackedBlock(mc: number, nc: number, kc: number, c: Matrix, ic: number, jc: number, addToC: boolean): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = math.min(MR, mc - ir);
      microKernel(kc, packedA, ir * kc, packedB, jr * kc, tile);
      // Only the rows and columns inside C are written back; the rest of the tile is padding.
      writeTile(c, ic + ir, jc + jr, mr, nr, addToC);
    }
  }
}

/**
 * The 4×4 micro-kernel: tile[i][j] = sum over p of panelA[p][i] * panelB[p][j].
 * The 16 sums stay in local variables for the whole loop over p. Each step loads 4 values of
 * A, then streams 4 values of B, one at a time, so that at most 21 numbers are live at once.
 */
function microKernel(kc: number, pa: Float64Array, ia: number, pb: Float64Array, ib: number, out: Float64Array): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;

  for (let p = 0; p < kc; p++, ia += 4, ib += 4) {
    const a0 = pa[ia];
    const a1 = pa[ia + 1];
    const a2 = pa[ia + 2];
    const a3 = pa[ia + 3];

    let bj = pb[ib];
    c00 += a0 * bj; c10 += a1 * bj; c20 += a2 * bj; c30 += a3 * bj;
    bj = pb[ib + 1];
    c01 += a0 * bj; c11 += a1 * bj; c21 += a2 * bj; c31 += a3 * bj;
    bj = pb[ib + 2];
    c02 += a0 * bj; c12 += a1 * bj; c22 += a2 * bj; c32 += a3 * bj;
    bj = pb[ib + 3];
    c03 += a0 * bj; c13 += a1 * bj; c23 += a2 * bj; c33 += a3 * bj;
  }

  out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03;
  out[4] = c10; out[5] = c11; out[6] = c12; out[7] = c13;
  out[8] = c20; out[9] = c21; out[10] = c22; out[11] = c23;
  out[12] = c30; out[13] = c31; out[14] = c32; out[15] = c33;
}
