/**
 * Elementwise kernels of the WebAssembly backend, four float32 lanes at a time.
 *
 * A binary kernel `add(x, xOuterStride, xRepeatStride, y, yOuterStride, yRepeatStride, out, outer, repeat, inner)`
 * walks the result as [outer, repeat, inner] (see ../broadcast-blocks.ts) and computes
 *   out[(o * repeat + r) * inner + i] = f(x[o * xOuterStride + r * xRepeatStride + i], y[...])
 * with pointers and strides in bytes. A full-size operand has the strides repeat * inner * 4
 * and inner * 4. An operand that repeats one block of `inner` elements has inner * 4 and 0.
 * Each block runs four lanes per iteration, then its last inner % 4 elements one at a time
 * with the same vector code on lane 0, so every element gets the same arithmetic.
 *
 * Each vector op rounds once to float32, as the TypeScript loops do when they store a float64
 * sum, difference, product or quotient of two float32 values, so the results are the same bits.
 * NaN is the exception: WebAssembly leaves the sign of a computed NaN open, and on x86 the
 * NaN of Infinity - Infinity, or of two NaN operands, can come out with the other sign bit.
 *
 * The unary kernel `relu(x, out, count)` runs over `count` contiguous elements.
 */
import { BYTES_PER_FLOAT } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, type Local, f32x4, i32, i32x4, local, v128 } from './instructions';
import { forLoop } from './loops';

const F = BYTES_PER_FLOAT;
const VECTOR_BYTES = 16;

/** Locals a vector op may use: the kernel's float32 parameter, and a vector for a value it reads twice. */
interface OpLocals {
  scalar: Local;
  temporary: Local;
}

/** A vector op of two operands, each evaluated once. */
type BinaryOp = (x: Code, y: Code, locals: OpLocals) => Code;

/** The bit pattern of float32 -0 as an int32 lane. */
const NEGATIVE_ZERO_BITS = -2147483648;

/** The binary kernels by name, each with the vector op it applies. */
export const binaryOps: Record<string, BinaryOp> = {
  add: (x, y) => f32x4.add(x, y),
  sub: (x, y) => f32x4.sub(x, y),
  mul: (x, y) => f32x4.mul(x, y),
  div: (x, y) => f32x4.div(x, y),
  // x - alpha * y, with alpha * y rounded to float32 first, as subScaled in ../binary.ts.
  subScaled: (x, y, { scalar }) => f32x4.sub(x, f32x4.mul(f32x4.splat(local.get(scalar)), y)),
  // The gradient x where y > 0, else +0, on bits: x AND the comparison's mask, then -0 as +0.
  reluBackward: (x, y, { temporary }) => clearNegativeZero(v128.and(x, f32x4.gt(y, v128.zero())), temporary),
};

/** Turns lanes of -0 into +0 and leaves the others as they are. */
function clearNegativeZero(value: Code, temporary: Local): Code {
  return v128.andnot(local.tee(temporary, value), i32x4.eq(local.get(temporary), v128.const_i32x4(NEGATIVE_ZERO_BITS)));
}

/** Returns the kernel that applies binaryOps[name] over blocks, as described above. */
export function binaryKernel(name: string): FunctionDefinition {
  const op = binaryOps[name];
  const fn = new FunctionBuilder(name);
  const x = fn.param('x');
  const xOuterStride = fn.param('xOuterStride');
  const xRepeatStride = fn.param('xRepeatStride');
  const y = fn.param('y');
  const yOuterStride = fn.param('yOuterStride');
  const yRepeatStride = fn.param('yRepeatStride');
  const out = fn.param('out');
  const outer = fn.param('outer');
  const repeat = fn.param('repeat');
  const inner = fn.param('inner');
  const scalar = fn.param('scalar', 'f32');
  const temporary = fn.local('temporary', 'v128');
  const o = fn.local('o');
  const r = fn.local('r');
  const i = fn.local('i');
  const xBlock = fn.local('xBlock');
  const yBlock = fn.local('yBlock');
  const blockBytes = fn.local('blockBytes');
  const vectorBytes = fn.local('vectorBytes');

  const get = local.get;
  const at = (base: Local): Code => i32.add(get(base), get(i));
  const locals = { scalar, temporary };

  return fn.define([
    local.set(blockBytes, i32.mul(get(inner), i32.const(F))),
    local.set(vectorBytes, i32.and(get(blockBytes), i32.const(-VECTOR_BYTES))),
    forLoop(o, i32.const(0), get(outer), i32.const(1),
      forLoop(r, i32.const(0), get(repeat), i32.const(1),
        local.set(xBlock, i32.add(get(x), i32.add(i32.mul(get(o), get(xOuterStride)), i32.mul(get(r), get(xRepeatStride))))),
        local.set(yBlock, i32.add(get(y), i32.add(i32.mul(get(o), get(yOuterStride)), i32.mul(get(r), get(yRepeatStride))))),

        // Four lanes at a time, then the rest of the block one lane at a time.
        forLoop(i, i32.const(0), get(vectorBytes), i32.const(VECTOR_BYTES),
          v128.store(at(out), op(v128.load(at(xBlock)), v128.load(at(yBlock)), locals)),
        ),
        forLoop(i, get(vectorBytes), get(blockBytes), i32.const(F),
          v128.store32_lane(at(out), op(v128.load32_zero(at(xBlock)), v128.load32_zero(at(yBlock)), locals), 0),
        ),
        local.set(out, i32.add(get(out), get(blockBytes))),
      ),
    ),
  ]);
}

/**
 * Returns the kernel relu(x, out, count): max(x, 0) on bits, as reluFloat32 in ../unary.ts.
 * A lane with the sign bit set becomes +0 unless it is NaN, so -0 and -Infinity give +0.
 */
export function reluKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('relu');
  const x = fn.param('x');
  const out = fn.param('out');
  const count = fn.param('count');
  const value = fn.local('value', 'v128');
  const i = fn.local('i');
  const bytes = fn.local('bytes');
  const vectorBytes = fn.local('vectorBytes');

  const get = local.get;
  // Clears the lanes whose sign bit is set (negative as int32) and that are not NaN (equal to themselves).
  const relu = (loaded: Code): Code => v128.andnot(local.tee(value, loaded), v128.andnot(i32x4.lt_s(get(value), v128.zero()), f32x4.ne(get(value), get(value))));
  const at = (base: Local): Code => i32.add(get(base), get(i));

  return fn.define([
    local.set(bytes, i32.mul(get(count), i32.const(F))),
    local.set(vectorBytes, i32.and(get(bytes), i32.const(-VECTOR_BYTES))),
    forLoop(i, i32.const(0), get(vectorBytes), i32.const(VECTOR_BYTES),
      v128.store(at(out), relu(v128.load(at(x)))),
    ),
    forLoop(i, get(vectorBytes), get(bytes), i32.const(F),
      v128.store32_lane(at(out), relu(v128.load32_zero(at(x))), 0),
    ),
  ]);
}
