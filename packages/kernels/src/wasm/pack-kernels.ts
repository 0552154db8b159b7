/**
 * Packing: copying a block of A or B into the panel layout that the micro-kernel reads in order.
 *
 * Operands are strided float32 matrices in WebAssembly memory: element (i, p) of A is at byte
 * `src + i * rowStride + p * colStride`, and strides may be any i32, negative or zero. Each
 * packing function has a SIMD path for the two layouts matmul and its gradients produce
 * (row-major and transposed) and a scalar path for any other strides.
 */
import { BYTES_PER_FLOAT, MR, NR } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, Label, block, br_if, f32, i32, i64, i64x2, i8x16, ifElse, local, loop, v128 } from './instructions';
import { forLoop } from './loops';

const F = BYTES_PER_FLOAT;
/** Byte lanes of i8x16.shuffle that interleave the low halves of two f32x4 vectors a and b: a0 b0 a1 b1. */
const INTERLEAVE_LOW = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
/** ... and their high halves: a2 b2 a3 b3. */
const INTERLEAVE_HIGH = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];
/** The low 64 bits of a, then the low 64 bits of b: a0 a1 b0 b1. */
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** The high 64 bits of a, then the high 64 bits of b: a2 a3 b2 b3. */
const HIGH_HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];

/**
 * packA(src, rowStride, colStride, rows, depth, dst) copies a rows×depth block of A into panels
 * of MR = 2 rows. In panel q the two elements of one column are adjacent:
 *   dst[q][p][i] = A[2q + i][p]   (byte dst + ((2q * depth) + 2p + i) * 4)
 * and a missing second row of the last panel is zero, so the micro-kernel needs no bounds check.
 */
export function packAKernel(): FunctionDefinition {
  if (MR !== 2) throw new Error(`packAKernel interleaves rows in pairs, but MR is ${MR}`);
  const fn = new FunctionBuilder('packA');
  const src = fn.param('src');
  const rowStride = fn.param('rowStride');
  const colStride = fn.param('colStride');
  const rows = fn.param('rows');
  const depth = fn.param('depth');
  const dst = fn.param('dst');
  const i = fn.local('i');
  const p = fn.local('p');
  const row0 = fn.local('row0');
  const row1 = fn.local('row1');
  const out = fn.local('out');
  const first = fn.local('first', 'v128');
  const second = fn.local('second', 'v128');
  const firstPair = fn.local('firstPair');
  const panelBytes = fn.local('panelBytes');
  const column = fn.local('column', 'v128');

  const advance = (pointer: typeof out, bytes: Code): Code => local.set(pointer, i32.add(local.get(pointer), bytes));

  // Row-major A: four columns of both rows at a time, interleaved by two shuffles.
  const vectors = new Label('vectors');
  const interleaveRows: Code = [
    local.set(p, i32.const(0)),
    block(vectors,
      br_if(vectors, i32.lt_s(local.get(depth), i32.const(4))),
      loop(vectors,
        local.set(first, v128.load(local.get(row0))),
        local.set(second, v128.load(local.get(row1))),
        v128.store(local.get(out), i8x16.shuffle(INTERLEAVE_LOW, local.get(first), local.get(second))),
        v128.store(local.get(out), i8x16.shuffle(INTERLEAVE_HIGH, local.get(first), local.get(second)), 16),
        advance(row0, i32.const(4 * F)),
        advance(row1, i32.const(4 * F)),
        advance(out, i32.const(4 * MR * F)),
        local.set(p, i32.add(local.get(p), i32.const(4))),
        br_if(vectors, i32.le_s(i32.add(local.get(p), i32.const(4)), local.get(depth))),
      ),
    ),
  ];

  // Any strides, from column p on: one element of each row per step.
  const pairs: Code = forLoop(p, local.get(p), local.get(depth), i32.const(1),
    f32.store(local.get(out), f32.load(local.get(row0))),
    f32.store(local.get(out), f32.load(local.get(row1)), F),
    advance(row0, local.get(colStride)),
    advance(row1, local.get(colStride)),
    advance(out, i32.const(MR * F)),
  );

  // Transposed A (rowStride 4): the two elements of a column are adjacent, one 64-bit copy.
  const adjacentPairs: Code = forLoop(p, i32.const(0), local.get(depth), i32.const(1),
    i64.store(local.get(out), i64.load(local.get(row0))),
    advance(row0, local.get(colStride)),
    advance(out, i32.const(MR * F)),
  );

  const lastRow: Code = forLoop(p, i32.const(0), local.get(depth), i32.const(1),
    f32.store(local.get(out), f32.load(local.get(row0))),
    f32.store(local.get(out), f32.const(0), F),
    advance(row0, local.get(colStride)),
    advance(out, i32.const(MR * F)),
  );

  // Transposed A, 16 rows at a time: the 16 elements of a column are 64 adjacent bytes, read as
  // four vectors and split among 8 panels, so each cache line of A is read once. Packing two rows
  // at a time reads each line 8 times, and with a column stride of a multiple of 4 KiB the lines
  // evict each other from L1 before they are read again.
  const PANELS = 8;
  const sixteenRows: Code = [
    local.set(panelBytes, i32.mul(local.get(depth), i32.const(MR * F))),
    forLoop(firstPair, i32.const(0), i32.sub(local.get(rows), i32.const(MR * PANELS - 1)), i32.const(MR * PANELS),
      local.set(row0, i32.add(local.get(src), i32.mul(local.get(firstPair), i32.const(F)))),
      local.set(out, i32.add(local.get(dst), i32.mul(i32.mul(local.get(firstPair), local.get(depth)), i32.const(F)))),
      forLoop(p, i32.const(0), local.get(depth), i32.const(1),
        [0, 1, 2, 3].map((v) => [
          local.set(column, v128.load(local.get(row0), 16 * v)),
          [0, 1].map((lane) => i64.store(
            i32.add(local.get(out), i32.mul(local.get(panelBytes), i32.const(2 * v + lane))),
            i64x2.extract_lane(lane, local.get(column)))),
        ]),
        advance(row0, local.get(colStride)),
        advance(out, i32.const(MR * F)),
      ),
    ),
  ];
  const grouped = i32.and(i32.eq(local.get(rowStride), i32.const(F)), i32.ne(local.get(colStride), i32.const(F)));

  return fn.define([
    local.set(firstPair, i32.const(0)),
    ifElse(grouped, sixteenRows),
    forLoop(i, local.get(firstPair), local.get(rows), i32.const(MR),
    local.set(row0, i32.add(local.get(src), i32.mul(local.get(i), local.get(rowStride)))),
    local.set(row1, i32.add(local.get(row0), local.get(rowStride))),
    // Panel i / 2 starts at (i / 2) * 2 * depth floats.
    local.set(out, i32.add(local.get(dst), i32.mul(i32.mul(local.get(i), local.get(depth)), i32.const(F)))),
    ifElse(i32.lt_s(i32.add(local.get(i), i32.const(1)), local.get(rows)),
      ifElse(i32.eq(local.get(colStride), i32.const(F)),
        [interleaveRows, pairs],
        ifElse(i32.eq(local.get(rowStride), i32.const(F)),
          adjacentPairs,
          [local.set(p, i32.const(0)), pairs])),
      lastRow),
    ),
  ]);
}

/**
 * packB(src, rowStride, colStride, depth, cols, dst) copies a depth×cols block of B into panels
 * of NR = 16 columns:
 *   dst[q][p][j] = B[p][16q + j]   (byte dst + ((16q * depth) + 16p + j) * 4)
 * and columns past `cols` in the last panel are zero.
 */
export function packBKernel(): FunctionDefinition {
  if (NR !== 16) throw new Error(`packBKernel copies rows as four f32x4 vectors, but NR is ${NR}`);
  const fn = new FunctionBuilder('packB');
  const src = fn.param('src');
  const rowStride = fn.param('rowStride');
  const colStride = fn.param('colStride');
  const depth = fn.param('depth');
  const cols = fn.param('cols');
  const dst = fn.param('dst');
  const j = fn.local('j');
  const p = fn.local('p');
  const q = fn.local('q');
  const width = fn.local('width');
  const column = fn.local('column');
  const at = fn.local('at');
  const out = fn.local('out');
  const group = fn.local('group');
  const r = [0, 1, 2, 3].map((lane) => fn.local(`r${lane}`, 'v128'));
  const t = [0, 1, 2, 3].map((lane) => fn.local(`t${lane}`, 'v128'));

  const advance = (pointer: typeof out, bytes: Code): Code => local.set(pointer, i32.add(local.get(pointer), bytes));

  // Row-major B: each row of the panel is 16 adjacent floats, four vector copies.
  const copyRows: Code = forLoop(p, i32.const(0), local.get(depth), i32.const(1),
    [0, 1, 2, 3].map((v) => v128.store(local.get(out), v128.load(local.get(column), 16 * v), 16 * v)),
    advance(column, local.get(rowStride)),
    advance(out, i32.const(NR * F)),
  );

  // Transposed B (rowStride 4): each column is contiguous along p. A 4×4 block of four columns
  // and four rows is loaded as four column vectors r0..r3 and transposed by shuffles into four
  // row vectors, which are stored into rows p..p+3 of the panel.
  const transpose4x4: Code = [
    local.set(t[0], i8x16.shuffle(INTERLEAVE_LOW, local.get(r[0]), local.get(r[1]))),
    local.set(t[1], i8x16.shuffle(INTERLEAVE_HIGH, local.get(r[0]), local.get(r[1]))),
    local.set(t[2], i8x16.shuffle(INTERLEAVE_LOW, local.get(r[2]), local.get(r[3]))),
    local.set(t[3], i8x16.shuffle(INTERLEAVE_HIGH, local.get(r[2]), local.get(r[3]))),
    local.set(r[0], i8x16.shuffle(LOW_HALVES, local.get(t[0]), local.get(t[2]))),
    local.set(r[1], i8x16.shuffle(HIGH_HALVES, local.get(t[0]), local.get(t[2]))),
    local.set(r[2], i8x16.shuffle(LOW_HALVES, local.get(t[1]), local.get(t[3]))),
    local.set(r[3], i8x16.shuffle(HIGH_HALVES, local.get(t[1]), local.get(t[3]))),
  ];
  const columnBlock = (firstColumn: number): Code => [
    local.set(group, i32.add(local.get(at), i32.mul(local.get(colStride), i32.const(firstColumn)))),
    r.map((vector, lane) => local.set(vector, v128.load(lane === 0 ? local.get(group) : i32.add(local.get(group), i32.mul(local.get(colStride), i32.const(lane)))))),
    transpose4x4,
    r.map((vector, row) => v128.store(local.get(out), local.get(vector), (row * NR + firstColumn) * F)),
  ];
  const groups = new Label('groups');
  const transposeColumns: Code = [
    local.set(at, local.get(column)),
    local.set(p, i32.const(0)),
    block(groups,
      br_if(groups, i32.lt_s(local.get(depth), i32.const(4))),
      loop(groups,
        [0, 4, 8, 12].map(columnBlock),
        advance(at, i32.const(4 * F)),
        advance(out, i32.const(4 * NR * F)),
        local.set(p, i32.add(local.get(p), i32.const(4))),
        br_if(groups, i32.le_s(i32.add(local.get(p), i32.const(4)), local.get(depth))),
      ),
    ),
    // The last depth % 4 rows, one element at a time.
    forLoop(p, local.get(p), local.get(depth), i32.const(1),
      local.set(group, local.get(at)),
      forLoop(q, i32.const(0), i32.const(NR), i32.const(1),
        f32.store(i32.add(local.get(out), i32.mul(local.get(q), i32.const(F))), f32.load(local.get(group))),
        advance(group, local.get(colStride)),
      ),
      advance(at, i32.const(F)),
      advance(out, i32.const(NR * F)),
    ),
  ];

  // Any strides, and the last panel: each row is zeroed, then its `width` valid columns copied.
  const anyStrides: Code = forLoop(p, i32.const(0), local.get(depth), i32.const(1),
    [0, 1, 2, 3].map((v) => v128.store(local.get(out), v128.zero(), 16 * v)),
    local.set(at, i32.add(local.get(column), i32.mul(local.get(p), local.get(rowStride)))),
    forLoop(q, i32.const(0), local.get(width), i32.const(1),
      f32.store(i32.add(local.get(out), i32.mul(local.get(q), i32.const(F))), f32.load(local.get(at))),
      advance(at, local.get(colStride)),
    ),
    advance(out, i32.const(NR * F)),
  );

  return fn.define(forLoop(j, i32.const(0), local.get(cols), i32.const(NR),
    local.set(column, i32.add(local.get(src), i32.mul(local.get(j), local.get(colStride)))),
    // Panel j / 16 starts at (j / 16) * 16 * depth floats.
    local.set(out, i32.add(local.get(dst), i32.mul(i32.mul(local.get(j), local.get(depth)), i32.const(F)))),
    local.set(width, i32.sub(local.get(cols), local.get(j))),
    ifElse(i32.ge_s(local.get(width), i32.const(NR)),
      ifElse(i32.eq(local.get(colStride), i32.const(F)),
        copyRows,
        ifElse(i32.eq(local.get(rowStride), i32.const(F)), transposeColumns, [local.set(width, i32.const(NR)), anyStrides])),
      anyStrides),
  ));
}
