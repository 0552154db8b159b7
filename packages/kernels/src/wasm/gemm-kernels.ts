/**
 * The float32 GEMM of the WebAssembly backend: C = A·B or C += A·B, with A M×K, B K×N and C
 * M×N, all in WebAssembly memory. Pointers and strides are in bytes. A and B may have any
 * strides; C has unit column stride and row stride `ldc`.
 *
 * Two generated functions, from the innermost out:
 *   - multiplyPanels (the macro-kernel) walks a packed block of A and a block of B tile by tile.
 *     For each 2×16 tile of C it runs the micro-kernel loop over p, holding the tile in eight
 *     f32x4 accumulators, and writes the tile into C.
 *   - gemm (the driver) loops over blocks of NC columns, at most KC depth and MC rows, packing
 *     each block of A and of B (pack-kernels.ts) into the thread's workspace before multiplying.
 *     When A has at most MC rows, each panel of B would be read once per packing, so a
 *     row-major B is read in place instead, except for a last panel narrower than 16 columns.
 *     That saves a pass over B, which for the column matrix of a convolution is the largest
 *     operand (about 9 MB for the second layer of the reference CNN at batch 64). But rows of B
 *     a multiple of 2 KiB apart fall into a few sets of the L1 cache, which then cannot hold a
 *     panel (IN_PLACE_CONFLICT_BYTES), so such a B is packed unless A has very few rows.
 * One thread computes a whole C with gemm; with several threads, each calls gemm on its own
 * rows or columns of C (threads.ts). The order of the sums for one element of C depends only on
 * K, so every partition gives the same result.
 */
import { BYTES_PER_FLOAT, KC, MC, MR, NC, NR, workspaceLayout } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, Label, type Local, block, br, br_if, call, drop, f32, f32x4, i32, ifElse, local, loop, select, v128 } from './instructions';
import { forLoop, minS } from './loops';

const F = BYTES_PER_FLOAT;

/** Options of the micro-kernel's multiply-add. */
export interface GemmKernelOptions {
  /**
   * Use f32x4.relaxed_madd (relaxed SIMD), which V8 compiles to a fused multiply-add on CPUs
   * with FMA, instead of f32x4.mul then f32x4.add.
   */
  relaxedMadd: boolean;
}

/**
 * multiplyPanels(rows, cols, depth, packedA, b, bRowStep, bColumnStep, c, ldc, accumulate, edgeTile)
 * computes, for the packed rows×depth block of A and the depth×cols block of B,
 *   C[i][j] = sum over p of A[i][p] * B[p][j]     (or C[i][j] += ... when accumulate is 1)
 * Letters: i, j index C within the block; ir and jr are the first row and column of a tile; p
 * runs over the depth. The 16 values B[p][jr .. jr + 15] are adjacent at byte
 * b + jr * bColumnStep + p * bRowStep: packed panels have bRowStep 64 and bColumnStep
 * 4 * depth, and a row-major B read in place has its row stride and 4. In place, `cols` must be
 * a multiple of 16.
 */
export function multiplyPanelsKernel(options: GemmKernelOptions): FunctionDefinition {
  const fn = new FunctionBuilder('multiplyPanels');
  const rows = fn.param('rows');
  const cols = fn.param('cols');
  const depth = fn.param('depth');
  const packedA = fn.param('packedA');
  const bBlock = fn.param('b');
  const bRowStep = fn.param('bRowStep');
  const bColumnStep = fn.param('bColumnStep');
  const c = fn.param('c');
  const ldc = fn.param('ldc');
  const accumulate = fn.param('accumulate');
  const edgeTile = fn.param('edgeTile');
  const ir = fn.local('ir');
  const jr = fn.local('jr');
  const a = fn.local('a');
  const aEnd = fn.local('aEnd');
  const b = fn.local('b');
  const tile = fn.local('tile');
  const validRows = fn.local('validRows');
  const validCols = fn.local('validCols');
  const i = fn.local('i');
  const j = fn.local('j');
  const target = fn.local('target');
  const sums = [0, 1].map((row) => [0, 1, 2, 3].map((v) => fn.local(`c${row}${v}`, 'v128')));
  const bVectors = [0, 1, 2, 3].map((v) => fn.local(`b${v}`, 'v128'));
  const aSplats = [0, 1].map((row) => fn.local(`a${row}`, 'v128'));

  const advance = (pointer: Local, bytes: Code): Code => local.set(pointer, i32.add(local.get(pointer), bytes));
  const multiplyAdd = (sum: Local, x: Local, y: Local): Code => options.relaxedMadd
    ? local.set(sum, f32x4.relaxed_madd(local.get(x), local.get(y), local.get(sum)))
    : local.set(sum, f32x4.add(local.get(sum), f32x4.mul(local.get(x), local.get(y))));

  // The micro-kernel: tile[r][4v .. 4v+3] = sum over p of A[ir + r][p] * B[p][jr + 4v .. jr + 4v + 3].
  // Each step reads the 2 values of A for column p (splatted across lanes) and the 16 values of
  // B for row p, so both pointers advance by a constant step.
  const steps = new Label('p');
  const microKernel: Code = [
    sums.flat().map((sum) => local.set(sum, v128.zero())),
    local.set(a, i32.add(local.get(packedA), i32.mul(i32.mul(local.get(ir), local.get(depth)), i32.const(F)))),
    local.set(b, i32.add(local.get(bBlock), i32.mul(local.get(jr), local.get(bColumnStep)))),
    local.set(aEnd, i32.add(local.get(a), i32.mul(local.get(depth), i32.const(MR * F)))),
    loop(steps,
      bVectors.map((vector, v) => local.set(vector, v128.load(local.get(b), 16 * v))),
      aSplats.map((splat, row) => local.set(splat, v128.load32_splat(local.get(a), row * F))),
      sums.map((rowSums, row) => rowSums.map((sum, v) => multiplyAdd(sum, aSplats[row], bVectors[v]))),
      advance(a, i32.const(MR * F)),
      advance(b, local.get(bRowStep)),
      br_if(steps, i32.lt_u(local.get(a), local.get(aEnd))),
    ),
  ];

  // A whole tile inside C is stored (or added) with vector stores.
  const rowOfTile = (row: number): Code => (row === 0 ? local.get(tile) : i32.add(local.get(tile), local.get(ldc)));
  const storeTile: Code = ifElse(local.get(accumulate),
    sums.map((rowSums, row) => [
      local.set(target, rowOfTile(row)),
      rowSums.map((sum, v) => v128.store(local.get(target), f32x4.add(v128.load(local.get(target), 16 * v), local.get(sum)), 16 * v)),
    ]),
    sums.map((rowSums, row) => [
      local.set(target, rowOfTile(row)),
      rowSums.map((sum, v) => v128.store(local.get(target), local.get(sum), 16 * v)),
    ]),
  );

  // A tile at the bottom or right edge of C goes through the edge tile, from which only the
  // elements inside C are copied, so C needs no padding.
  const storeEdgeTile: Code = [
    sums.map((rowSums, row) => rowSums.map((sum, v) => v128.store(local.get(edgeTile), local.get(sum), (row * NR + 4 * v) * F))),
    local.set(validRows, minS(i32.const(MR), i32.sub(local.get(rows), local.get(ir)))),
    local.set(validCols, minS(i32.const(NR), i32.sub(local.get(cols), local.get(jr)))),
    forLoop(i, i32.const(0), local.get(validRows), i32.const(1),
      forLoop(j, i32.const(0), local.get(validCols), i32.const(1),
        local.set(target, i32.add(i32.add(local.get(tile), i32.mul(local.get(i), local.get(ldc))), i32.mul(local.get(j), i32.const(F)))),
        f32.store(local.get(target), f32.add(
          select(f32.load(local.get(target)), f32.const(0), local.get(accumulate)),
          f32.load(i32.add(local.get(edgeTile), i32.mul(i32.add(i32.mul(local.get(i), i32.const(NR)), local.get(j)), i32.const(F)))),
        )),
      ),
    ),
  ];

  const insideC = i32.and(
    i32.le_s(i32.add(local.get(ir), i32.const(MR)), local.get(rows)),
    i32.le_s(i32.add(local.get(jr), i32.const(NR)), local.get(cols)),
  );

  // Tiles are visited column panel by column panel: the 16 KiB panel of B stays in L1 cache
  // while every row panel of A passes it.
  return fn.define(forLoop(jr, i32.const(0), local.get(cols), i32.const(NR),
    forLoop(ir, i32.const(0), local.get(rows), i32.const(MR),
      microKernel,
      local.set(tile, i32.add(i32.add(local.get(c), i32.mul(local.get(ir), local.get(ldc))), i32.mul(local.get(jr), i32.const(F)))),
      ifElse(insideC, storeTile, storeEdgeTile),
    ),
  ));
}

/**
 * A row-major B whose row stride is a multiple of this many bytes is packed rather than read in
 * place. Its 16-column panels then take at most 2 of the 64 sets of a 32 KiB, 8-way L1 cache, so
 * each tile reads the panel again from L2. On the 2-core AMD EPYC this was measured on, reading
 * B in place took 2.14 ms for 128×512×512 against 1.75 when packed, and 92 ms against 42 for
 * 32×65536×288, while strides of 1 KiB (n = 256) ran at the same speed either way.
 */
const IN_PLACE_CONFLICT_BYTES = 2048;
/**
 * Up to this many rows of A, B is read in place whatever its stride, because packing it costs
 * more than the few rows gain: 8×4096×4096 took 11.2 ms in place against 15.2 packed, and
 * 16×4096×1024 5.07 against 5.39.
 */
const IN_PLACE_FEW_ROWS = 16;

/**
 * Sets `depthStep` to the depth of the blocks K is cut into: ceil(K / KC) blocks of equal depth, so
 * that no block is much shallower than the others. K = 288 gives 144 + 144 rather than 256 + 32,
 * whose tiles would cost as much to load and store as to compute. The cut depends on K alone.
 */
function setDepthStep(depthStep: Local, k: Local): Code {
  return [
    local.set(depthStep, i32.div_u(i32.add(local.get(k), i32.const(KC - 1)), i32.const(KC))),
    local.set(depthStep, i32.div_u(i32.add(local.get(k), i32.sub(local.get(depthStep), i32.const(1))), local.get(depthStep))),
  ];
}

/**
 * gemm(m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, c, ldc, accumulate, workspace, rowsReady, firstRow)
 * computes C = A·B, or C += A·B when accumulate is 1, for k >= 1. Letters follow BLAS, and
 * jc, pc, ic are the first column, depth and row of the current block.
 *
 * A part run by a worker thread may start while the main thread is still copying A into
 * WebAssembly memory, row by row (wasm-backend.ts). Then `rowsReady` is the byte address of the
 * number of A's rows copied so far, and this part's row 0 is row `firstRow` of that A. Before
 * the driver packs a block of rows, it spins until they are all there. `rowsReady` 0 means that
 * A is already in place.
 */
export function gemmDriverKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('gemm');
  const m = fn.param('m');
  const n = fn.param('n');
  const k = fn.param('k');
  const a = fn.param('a');
  const aRowStride = fn.param('aRowStride');
  const aColStride = fn.param('aColStride');
  const b = fn.param('b');
  const bRowStride = fn.param('bRowStride');
  const bColStride = fn.param('bColStride');
  const c = fn.param('c');
  const ldc = fn.param('ldc');
  const accumulate = fn.param('accumulate');
  const workspace = fn.param('workspace');
  const rowsReady = fn.param('rowsReady');
  const firstRow = fn.param('firstRow');
  const jc = fn.local('jc');
  const pc = fn.local('pc');
  const ic = fn.local('ic');
  const nc = fn.local('nc');
  const kc = fn.local('kc');
  const mc = fn.local('mc');
  const packedA = fn.local('packedA');
  const packedB = fn.local('packedB');
  const bInPlace = fn.local('bInPlace');
  const blockOfB = fn.local('blockOfB');
  const inPlaceCols = fn.local('inPlaceCols');
  const cBlock = fn.local('cBlock');
  const addToC = fn.local('addToC');
  const depthStep = fn.local('depthStep');

  const offset = (base: Local, index: Local, stride: Local): Code => i32.add(local.get(base), i32.mul(local.get(index), local.get(stride)));
  const edgeTile = i32.add(local.get(workspace), i32.const(workspaceLayout.edgeTile));
  const copying = new Label('copying');
  const waitForRowsOfA = ifElse(local.get(rowsReady),
    loop(copying, br_if(copying, i32.lt_s(
      i32.atomic.load(local.get(rowsReady)),
      i32.add(local.get(firstRow), i32.add(local.get(ic), local.get(mc))))),
    ));

  return fn.define([
    local.set(packedA, i32.add(local.get(workspace), i32.const(workspaceLayout.packedA))),
    local.set(packedB, i32.add(local.get(workspace), i32.const(workspaceLayout.packedB))),
    local.set(bInPlace, i32.and(
      i32.and(i32.eq(local.get(bColStride), i32.const(F)), i32.le_s(local.get(m), i32.const(MC))),
      i32.or(
        i32.le_s(local.get(m), i32.const(IN_PLACE_FEW_ROWS)),
        i32.ne(i32.and(local.get(bRowStride), i32.const(IN_PLACE_CONFLICT_BYTES - 1)), i32.const(0))))),
    setDepthStep(depthStep, k),
    forLoop(jc, i32.const(0), local.get(n), i32.const(NC),
      local.set(nc, minS(i32.const(NC), i32.sub(local.get(n), local.get(jc)))),
      forLoop(pc, i32.const(0), local.get(k), local.get(depthStep),
        local.set(kc, minS(local.get(depthStep), i32.sub(local.get(k), local.get(pc)))),
        local.set(blockOfB, i32.add(offset(b, pc, bRowStride), i32.mul(local.get(jc), local.get(bColStride)))),
        // Whole panels of B are read in place or packed; the rest, if any, is packed.
        local.set(inPlaceCols, select(i32.and(local.get(nc), i32.const(-NR)), i32.const(0), local.get(bInPlace))),
        ifElse(i32.lt_s(local.get(inPlaceCols), local.get(nc)),
          call('packB',
            i32.add(local.get(blockOfB), i32.mul(local.get(inPlaceCols), local.get(bColStride))),
            local.get(bRowStride), local.get(bColStride), local.get(kc), i32.sub(local.get(nc), local.get(inPlaceCols)), local.get(packedB))),
        // Later depth blocks add to what the first one wrote.
        local.set(addToC, i32.or(local.get(accumulate), i32.gt_s(local.get(pc), i32.const(0)))),
        forLoop(ic, i32.const(0), local.get(m), i32.const(MC),
          local.set(mc, minS(i32.const(MC), i32.sub(local.get(m), local.get(ic)))),
          waitForRowsOfA,
          call('packA',
            i32.add(offset(a, ic, aRowStride), i32.mul(local.get(pc), local.get(aColStride))),
            local.get(aRowStride), local.get(aColStride), local.get(mc), local.get(kc), local.get(packedA)),
          local.set(cBlock, i32.add(offset(c, ic, ldc), i32.mul(local.get(jc), i32.const(F)))),
          ifElse(i32.gt_s(local.get(inPlaceCols), i32.const(0)),
            call('multiplyPanels',
              local.get(mc), local.get(inPlaceCols), local.get(kc), local.get(packedA),
              local.get(blockOfB), local.get(bRowStride), i32.const(F),
              local.get(cBlock), local.get(ldc), local.get(addToC), edgeTile)),
          ifElse(i32.lt_s(local.get(inPlaceCols), local.get(nc)),
            call('multiplyPanels',
              local.get(mc), i32.sub(local.get(nc), local.get(inPlaceCols)), local.get(kc), local.get(packedA),
              local.get(packedB), i32.const(NR * F), i32.mul(local.get(kc), i32.const(F)),
              i32.add(local.get(cBlock), i32.mul(local.get(inPlaceCols), i32.const(F))), local.get(ldc), local.get(addToC), edgeTile)),
        ),
      ),
    ),
  ]);
}

/**
 * gemmPackedB(m, n, k, a, aRowStride, aColStride, packedB, pitch, firstCol, c, ldc, accumulate, workspace)
 * computes C = A·B, or C += A·B, like gemm, for a B that WasmBackend.packOperand packed in
 * advance: for each depth block, in gemm's cut of K, the 16-column panels of B, `pitch` columns
 * in all. C's columns are B's columns [firstCol, firstCol + n), with firstCol a multiple of 16,
 * so that threads can split C by columns. A recurrence multiplies by the same B at every step,
 * so it packs B once instead of at every step.
 */
export function gemmPackedBKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('gemmPackedB');
  const m = fn.param('m');
  const n = fn.param('n');
  const k = fn.param('k');
  const a = fn.param('a');
  const aRowStride = fn.param('aRowStride');
  const aColStride = fn.param('aColStride');
  const packedB = fn.param('packedB');
  const pitch = fn.param('pitch');
  const firstCol = fn.param('firstCol');
  const c = fn.param('c');
  const ldc = fn.param('ldc');
  const accumulate = fn.param('accumulate');
  const workspace = fn.param('workspace');
  const jc = fn.local('jc');
  const pc = fn.local('pc');
  const ic = fn.local('ic');
  const nc = fn.local('nc');
  const kc = fn.local('kc');
  const mc = fn.local('mc');
  const packedA = fn.local('packedA');
  const blockOfB = fn.local('blockOfB');
  const addToC = fn.local('addToC');
  const depthStep = fn.local('depthStep');

  const offset = (base: Local, index: Local, stride: Local): Code => i32.add(local.get(base), i32.mul(local.get(index), local.get(stride)));

  return fn.define([
    local.set(packedA, i32.add(local.get(workspace), i32.const(workspaceLayout.packedA))),
    // The same cut of K as gemm's, so both give the same sums.
    setDepthStep(depthStep, k),
    forLoop(jc, i32.const(0), local.get(n), i32.const(NC),
      local.set(nc, minS(i32.const(NC), i32.sub(local.get(n), local.get(jc)))),
      forLoop(pc, i32.const(0), local.get(k), local.get(depthStep),
        local.set(kc, minS(local.get(depthStep), i32.sub(local.get(k), local.get(pc)))),
        // Depth block pc starts pc rows of `pitch` columns in, and column j's panel j * kc floats into it.
        local.set(blockOfB, i32.add(
          i32.add(local.get(packedB), i32.mul(i32.mul(local.get(pc), local.get(pitch)), i32.const(F))),
          i32.mul(i32.mul(i32.add(local.get(firstCol), local.get(jc)), local.get(kc)), i32.const(F)))),
        local.set(addToC, i32.or(local.get(accumulate), i32.gt_s(local.get(pc), i32.const(0)))),
        forLoop(ic, i32.const(0), local.get(m), i32.const(MC),
          local.set(mc, minS(i32.const(MC), i32.sub(local.get(m), local.get(ic)))),
          call('packA',
            i32.add(offset(a, ic, aRowStride), i32.mul(local.get(pc), local.get(aColStride))),
            local.get(aRowStride), local.get(aColStride), local.get(mc), local.get(kc), local.get(packedA)),
          call('multiplyPanels',
            local.get(mc), local.get(nc), local.get(kc), local.get(packedA),
            local.get(blockOfB), i32.const(NR * F), i32.mul(local.get(kc), i32.const(F)),
            i32.add(offset(c, ic, ldc), i32.mul(local.get(jc), i32.const(F))), local.get(ldc), local.get(addToC),
            i32.add(local.get(workspace), i32.const(workspaceLayout.edgeTile))),
        ),
      ),
    ),
  ]);
}

/**
 * Rows of B in one packing unit of gemmRowChunks: a unit is this many rows (fewer at the end of
 * B) of one panel of NR columns. The main thread copies B into WebAssembly memory after the
 * workers start, and a unit waits only for its own rows.
 */
export const PACKING_UNIT_ROWS = 64;

/**
 * Byte offsets, from gemmRowChunks' `counters` argument, of the five i32 counters through which
 * the threads of one job share its work. The caller sets them before any thread starts.
 */
export const rowChunkCounters = {
  /** Rows of A in place, from the top (see gemm's rowsReady); m when A is whole. */
  rowsReady: 0,
  /** Packing units of B claimed, and packed; both start at 0. */
  unitsClaimed: 4,
  unitsPacked: 8,
  /** Rows of C claimed, from the top; starts at 0. */
  rowsClaimed: 12,
  /** Rows of B in place, from the top; k when B is whole. */
  bRowsReady: 16,
};

/**
 * The minimum rows of C that gemmRowChunks claims at once, unless fewer are left. The last
 * chunks decide how long one thread waits for the others at the end: a 4-row chunk of a
 * 256×256×256 product is about 13 µs on one thread here.
 */
const MIN_CHUNK_ROWS = 4;

/**
 * gemmRowChunks(m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, packedB, pitch, c, ldc, accumulate, workspace, counters, threads, doneRows, chunkLimit)
 * computes C = A·B, or C += A·B, like gemm, with each of the `threads` threads of a job calling
 * it with the same arguments except its own workspace. The threads share the work through the
 * counters at byte address `counters` (rowChunkCounters). Each thread:
 *   1. claims units of B (PACKING_UNIT_ROWS rows of one panel), waits until their rows of B are
 *      in place, and packs them into `packedB`, until none is left. The layout is the one
 *      gemmPackedB reads, `pitch` columns wide (a multiple of 16, at least n);
 *   2. waits until every unit is packed;
 *   3. claims a chunk of the rows of C left, waits until its rows of A are in place, computes it
 *      with gemmPackedB, and starts again, until no row is left, or until it has computed
 *      `chunkLimit` chunks in this call when that is not 0.
 * When `doneRows` is not 0, it is the byte address of m words, zero before the job, and a thread
 * that has computed the chunk from row r adds the chunk's row count to word r. The main thread
 * calls with a limit of one chunk and copies the rows done out of C between its chunks. Each
 * thread also adds the rows it computes to the rowsComputed word of its workspace.
 * A chunk is 1 / (2 × threads) of the rows left, from MIN_CHUNK_ROWS to MC rows ("guided"
 * scheduling). Chunks shrink towards the end, so the thread that finishes last ends soon after
 * the others. A thread that is slow, or does not start, leaves more chunks to the others. Which
 * thread computes a row changes none of its sums, so the result is the same on any number of
 * threads.
 */
export function gemmRowChunksKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('gemmRowChunks');
  const m = fn.param('m');
  const n = fn.param('n');
  const k = fn.param('k');
  const a = fn.param('a');
  const aRowStride = fn.param('aRowStride');
  const aColStride = fn.param('aColStride');
  const b = fn.param('b');
  const bRowStride = fn.param('bRowStride');
  const bColStride = fn.param('bColStride');
  const packedB = fn.param('packedB');
  const pitch = fn.param('pitch');
  const c = fn.param('c');
  const ldc = fn.param('ldc');
  const accumulate = fn.param('accumulate');
  const workspace = fn.param('workspace');
  const counters = fn.param('counters');
  const threads = fn.param('threads');
  const doneRows = fn.param('doneRows');
  const chunkLimit = fn.param('chunkLimit');
  const panels = fn.local('panels');
  const units = fn.local('units');
  const unit = fn.local('unit');
  const slab = fn.local('slab');
  const firstCol = fn.local('firstCol');
  const cols = fn.local('cols');
  const row = fn.local('row');
  const lastRow = fn.local('lastRow');
  const pc = fn.local('pc');
  const kc = fn.local('kc');
  const pieceEnd = fn.local('pieceEnd');
  const depthStep = fn.local('depthStep');
  const firstRow = fn.local('firstRow');
  const rows = fn.local('rows');
  const seen = fn.local('seen');
  const chunks = fn.local('chunks');

  const counter = (offset: number): Code => i32.add(local.get(counters), i32.const(offset));
  const rowsComputed: Code = i32.add(local.get(workspace), i32.const(workspaceLayout.rowsComputed));
  const claim = (offset: number): Code => i32.atomic.rmw.add(counter(offset), i32.const(1));
  const offset = (base: Local, index: Local, stride: Local): Code => i32.add(local.get(base), i32.mul(local.get(index), local.get(stride)));

  const [packed, packing, bWaiting, pieces, waiting, computed, computing, claiming, copying] =
    ['packed', 'packing', 'bWaiting', 'pieces', 'waiting', 'computed', 'computing', 'claiming', 'copying'].map((name) => new Label(name));

  // Unit u is rows [row, lastRow) of the panel from column firstCol, with slab = u / panels
  // and row = slab × PACKING_UNIT_ROWS. A piece of its rows ends where a depth block ends.
  // Depth block pc starts pc × pitch floats into packedB, the panel of column firstCol starts
  // firstCol × kc floats into the block, and row r starts (r - pc) × NR floats into the panel.
  const packUnits: Code = block(packed, loop(packing,
    local.set(unit, claim(rowChunkCounters.unitsClaimed)),
    br_if(packed, i32.ge_u(local.get(unit), local.get(units))),
    local.set(slab, i32.div_u(local.get(unit), local.get(panels))),
    local.set(firstCol, i32.mul(i32.sub(local.get(unit), i32.mul(local.get(slab), local.get(panels))), i32.const(NR))),
    local.set(cols, minS(i32.const(NR), i32.sub(local.get(n), local.get(firstCol)))),
    local.set(row, i32.mul(local.get(slab), i32.const(PACKING_UNIT_ROWS))),
    local.set(lastRow, minS(i32.add(local.get(row), i32.const(PACKING_UNIT_ROWS)), local.get(k))),
    loop(bWaiting,
      br_if(bWaiting, i32.lt_s(i32.atomic.load(counter(rowChunkCounters.bRowsReady)), local.get(lastRow)))),
    loop(pieces,
      local.set(pc, i32.mul(i32.div_u(local.get(row), local.get(depthStep)), local.get(depthStep))),
      local.set(kc, minS(local.get(depthStep), i32.sub(local.get(k), local.get(pc)))),
      local.set(pieceEnd, minS(local.get(lastRow), i32.add(local.get(pc), local.get(kc)))),
      call('packB',
        i32.add(offset(b, row, bRowStride), i32.mul(local.get(firstCol), local.get(bColStride))),
        local.get(bRowStride), local.get(bColStride), i32.sub(local.get(pieceEnd), local.get(row)), local.get(cols),
        i32.add(local.get(packedB), i32.mul(i32.add(
          i32.add(i32.mul(local.get(pc), local.get(pitch)), i32.mul(local.get(firstCol), local.get(kc))),
          i32.mul(i32.sub(local.get(row), local.get(pc)), i32.const(NR))), i32.const(F)))),
      local.set(row, local.get(pieceEnd)),
      br_if(pieces, i32.lt_s(local.get(row), local.get(lastRow))),
    ),
    drop(i32.atomic.rmw.add(counter(rowChunkCounters.unitsPacked), i32.const(1))),
    br(packing),
  ));

  const waitForPacking: Code = loop(waiting,
    br_if(waiting, i32.lt_u(i32.atomic.load(counter(rowChunkCounters.unitsPacked)), local.get(units))));

  // rows = the rows left / (2 × threads), rounded up to whole tiles, from MIN_CHUNK_ROWS to MC,
  // and at most the rows left. The claim is a compare-and-exchange of rowsClaimed from firstRow
  // to firstRow + rows. When another thread claimed first, this one starts again from its end.
  const claimChunk: Code = [
    local.set(rows, i32.mul(i32.const(MR), i32.div_u(
      i32.add(i32.sub(local.get(m), local.get(firstRow)), i32.sub(i32.mul(i32.const(2 * MR), local.get(threads)), i32.const(1))),
      i32.mul(i32.const(2 * MR), local.get(threads))))),
    local.set(rows, minS(i32.const(MC), select(local.get(rows), i32.const(MIN_CHUNK_ROWS), i32.gt_s(local.get(rows), i32.const(MIN_CHUNK_ROWS))))),
    local.set(rows, minS(local.get(rows), i32.sub(local.get(m), local.get(firstRow)))),
    local.set(seen, i32.atomic.rmw.cmpxchg(counter(rowChunkCounters.rowsClaimed), local.get(firstRow), i32.add(local.get(firstRow), local.get(rows)))),
  ];

  const computeChunks: Code = block(computed, loop(computing,
    local.set(firstRow, i32.atomic.load(counter(rowChunkCounters.rowsClaimed))),
    loop(claiming,
      br_if(computed, i32.ge_s(local.get(firstRow), local.get(m))),
      claimChunk,
      ifElse(i32.ne(local.get(seen), local.get(firstRow)), [local.set(firstRow, local.get(seen)), br(claiming)]),
    ),
    loop(copying,
      br_if(copying, i32.lt_s(i32.atomic.load(counter(rowChunkCounters.rowsReady)), i32.add(local.get(firstRow), local.get(rows))))),
    call('gemmPackedB',
      local.get(rows), local.get(n), local.get(k),
      offset(a, firstRow, aRowStride), local.get(aRowStride), local.get(aColStride),
      local.get(packedB), local.get(pitch), i32.const(0),
      offset(c, firstRow, ldc), local.get(ldc), local.get(accumulate), local.get(workspace)),
    ifElse(local.get(doneRows), [drop(i32.atomic.rmw.add(i32.add(local.get(doneRows), i32.mul(local.get(firstRow), i32.const(4))), local.get(rows)))]),
    i32.store(rowsComputed, i32.add(i32.load(rowsComputed), local.get(rows))),
    local.set(chunks, i32.add(local.get(chunks), i32.const(1))),
    br_if(computed, i32.and(i32.ne(local.get(chunkLimit), i32.const(0)), i32.ge_u(local.get(chunks), local.get(chunkLimit)))),
    br(computing),
  ));

  return fn.define([
    setDepthStep(depthStep, k),
    local.set(panels, i32.div_u(i32.add(local.get(n), i32.const(NR - 1)), i32.const(NR))),
    local.set(units, i32.mul(local.get(panels), i32.div_u(i32.add(local.get(k), i32.const(PACKING_UNIT_ROWS - 1)), i32.const(PACKING_UNIT_ROWS)))),
    packUnits,
    waitForPacking,
    computeChunks,
  ]);
}
