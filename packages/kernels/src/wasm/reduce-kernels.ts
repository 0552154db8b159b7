/**
 * The sum over adjacent middle axes on the WebAssembly backend, as sumAdjacent in ../reduce.ts
 * computes it for a run of kept axes after the reduced ones.
 *
 * sumRows(x, outer, reduced, inner, totals, out) reads x as [outer, reduced, inner] float32 and
 * writes out[o * inner + i], the sum over r of x[o][r][i], for o < outer and i < inner. Each sum
 * adds the values in float64, in the order of r, into `totals` (inner float64 values), and is
 * rounded to float32 at the end: the loops' arithmetic, so the results are the same bits.
 * Four columns at a time become two pairs of float64 lanes; the last inner % 4 run one at a time.
 * Pointers are byte addresses.
 */
import { BYTES_PER_FLOAT } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, type Local, f32, f64, f64x2, i32, i8x16, local, memory, v128 } from './instructions';
import { forLoop } from './loops';

const F = BYTES_PER_FLOAT;
const D = 8;

/** Lanes 2 and 3 of a float32 vector moved to lanes 0 and 1, for promote_low_f32x4. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** Returns the kernel sumRows(x, outer, reduced, inner, totals, out) described at the top of this file. */
export function sumRowsKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('sumRows');
  const x = fn.param('x');
  const outer = fn.param('outer');
  const reduced = fn.param('reduced');
  const inner = fn.param('inner');
  const totals = fn.param('totals');
  const out = fn.param('out');
  const values = fn.local('values', 'v128');
  const o = fn.local('o');
  const r = fn.local('r');
  const i = fn.local('i');
  const vectorColumns = fn.local('vectorColumns');

  const get = local.get;
  // Byte addresses of column i in the current row of x, and of totals[i + lane].
  const input = i32.add(get(x), i32.mul(get(i), i32.const(F)));
  const total = (lane: number): Code => i32.add(get(totals), i32.mul(i32.add(get(i), i32.const(lane)), i32.const(D)));
  const addPair = (lane: number, pair: Code): Code => v128.store(total(lane), f64x2.add(v128.load(total(lane)), pair));
  const next = (pointer: Local, bytes: Code): Code => local.set(pointer, i32.add(get(pointer), bytes));

  return fn.define([
    local.set(vectorColumns, i32.and(get(inner), i32.const(-4))),
    forLoop(o, i32.const(0), get(outer), i32.const(1),
      memory.fill(get(totals), i32.const(0), i32.mul(get(inner), i32.const(D))),

      // totals[i] += x[o][r][i], in float64, one row r after another.
      forLoop(r, i32.const(0), get(reduced), i32.const(1),
        forLoop(i, i32.const(0), get(vectorColumns), i32.const(4),
          local.set(values, v128.load(input)),
          addPair(0, f64x2.promote_low_f32x4(get(values))),
          addPair(2, f64x2.promote_low_f32x4(i8x16.shuffle(HIGH_HALF, get(values), get(values)))),
        ),
        forLoop(i, get(vectorColumns), get(inner), i32.const(1),
          f64.store(total(0), f64.add(f64.load(total(0)), f64.promote_f32(f32.load(input)))),
        ),
        next(x, i32.mul(get(inner), i32.const(F))),
      ),

      // Each sum rounded once to float32.
      forLoop(i, i32.const(0), get(inner), i32.const(1),
        f32.store(i32.add(get(out), i32.mul(get(i), i32.const(F))), f32.demote_f64(f64.load(total(0)))),
      ),
      next(out, i32.mul(get(inner), i32.const(F))),
    ),
  ]);
}
