/**
 * WebAssembly instructions as TypeScript helpers named after the text format, so that a kernel
 * generator reads like the code it emits: `f32x4.mul(a, b)` is the instruction `f32x4.mul`.
 *
 * Every helper returns `Code`, a list of instructions. Operands may be passed to a helper, and
 * they are emitted before it, which is the text format's folded form:
 *
 *   local.set(sum, f32x4.add(local.get(sum), f32x4.mul(local.get(a), local.get(b))))
 *
 * is `local.get $sum; local.get $a; local.get $b; f32x4.mul; f32x4.add; local.set $sum`.
 * Helpers called without operands emit the bare instruction, for code that keeps values on the
 * stack. Opcodes follow the WebAssembly Core Specification 2.0 (section 5.4); the SIMD opcodes
 * follow its 0xFD prefix table, `f32x4.relaxed_madd` the relaxed SIMD proposal (0xFD 0x105), and
 * the atomic instructions the threads proposal (0xFE prefix).
 */
import { signedLeb128, unsignedLeb128 } from './leb128';

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

/** A parameter or local of a function, named for the text form. */
export interface Local {
  readonly index: number;
  readonly name: string;
  readonly type: ValueType;
}

/** The target of a branch: a `block` (branching leaves it) or a `loop` (branching repeats it). */
export class Label {
  constructor(readonly name: string) {}
}

/** One instruction: its text form and its binary encoding. */
export interface Instruction {
  /** Text form, for example 'f32x4.mul', 'local.get $sum' or 'v128.load offset=16'. */
  readonly text: string;
  /**
   * Binary encoding. For a branch or a call the encoder appends the immediate that depends on
   * the whole function: the label's relative depth, or the callee's index.
   */
  readonly bytes: readonly number[];
  /** How the instruction shapes the block structure, when it does. */
  readonly structure?: 'open' | 'else' | 'end' | 'branch' | 'call';
  readonly label?: Label;
  readonly callee?: string;
}

/** A sequence of instructions, nested arbitrarily, as the helpers build it. */
export type Code = Instruction | readonly Code[];

/** Returns the instructions of `code` in order. */
export function flatten(code: Code, into: Instruction[] = []): Instruction[] {
  if (Array.isArray(code)) {
    for (const part of code as readonly Code[]) flatten(part, into);
  } else {
    into.push(code as Instruction);
  }
  return into;
}

function instruction(text: string, bytes: readonly number[]): Instruction {
  return { text, bytes };
}

/** An instruction without immediates that pops `operands` (if given) and pushes its result. */
function plain(text: string, bytes: readonly number[]) {
  const emitted = instruction(text, bytes);
  return (...operands: Code[]): Code => [...operands, emitted];
}

function simd(text: string, opcode: number) {
  return plain(text, [0xfd, ...unsignedLeb128(opcode)]);
}

/**
 * A load: `address` is the i32 byte address, to which the constant `offset` is added. The
 * alignment hint is the natural one (log2 of the access size); wasm allows unaligned access.
 */
function load(text: string, prefix: readonly number[], alignLog2: number) {
  return (address: Code, offset = 0): Code => [
    address,
    instruction(offset === 0 ? text : `${text} offset=${offset}`, [...prefix, alignLog2, ...unsignedLeb128(offset)]),
  ];
}

/** A store of `value` at byte address `address` + `offset`. */
function store(text: string, prefix: readonly number[], alignLog2: number) {
  return (address: Code, value: Code, offset = 0): Code => [
    address,
    value,
    instruction(offset === 0 ? text : `${text} offset=${offset}`, [...prefix, alignLog2, ...unsignedLeb128(offset)]),
  ];
}

export const local = {
  get: (variable: Local): Code => instruction(`local.get $${variable.name}`, [0x20, ...unsignedLeb128(variable.index)]),
  set: (variable: Local, value: Code = []): Code => [value, instruction(`local.set $${variable.name}`, [0x21, ...unsignedLeb128(variable.index)])],
  tee: (variable: Local, value: Code = []): Code => [value, instruction(`local.tee $${variable.name}`, [0x22, ...unsignedLeb128(variable.index)])],
};

export const i32 = {
  const: (value: number): Code => instruction(`i32.const ${value | 0}`, [0x41, ...signedLeb128(value | 0)]),
  load: load('i32.load', [0x28], 2),
  store: store('i32.store', [0x36], 2),
  eqz: plain('i32.eqz', [0x45]),
  eq: plain('i32.eq', [0x46]),
  ne: plain('i32.ne', [0x47]),
  lt_s: plain('i32.lt_s', [0x48]),
  lt_u: plain('i32.lt_u', [0x49]),
  gt_s: plain('i32.gt_s', [0x4a]),
  gt_u: plain('i32.gt_u', [0x4b]),
  le_s: plain('i32.le_s', [0x4c]),
  le_u: plain('i32.le_u', [0x4d]),
  ge_s: plain('i32.ge_s', [0x4e]),
  ge_u: plain('i32.ge_u', [0x4f]),
  add: plain('i32.add', [0x6a]),
  sub: plain('i32.sub', [0x6b]),
  mul: plain('i32.mul', [0x6c]),
  div_u: plain('i32.div_u', [0x6e]),
  and: plain('i32.and', [0x71]),
  or: plain('i32.or', [0x72]),
  shl: plain('i32.shl', [0x74]),
  shr_s: plain('i32.shr_s', [0x75]),
  shr_u: plain('i32.shr_u', [0x76]),
  /**
   * Atomic memory access (the threads proposal, 0xFE prefix). An atomic load returns the value
   * of another thread's Atomics.store to the same word once that store happened, never a torn one.
   */
  atomic: {
    load: load('i32.atomic.load', [0xfe, 0x10], 2),
    rmw: {
      /** Adds `value` to the word at `address` and returns the word's old value, as one step. */
      add: (address: Code, value: Code): Code => [address, value, instruction('i32.atomic.rmw.add', [0xfe, 0x1e, 2, 0])],
      /**
       * Stores `replacement` at `address` if the word there equals `expected`, as one step, and
       * returns the word's old value: `expected` when the store happened.
       */
      cmpxchg: (address: Code, expected: Code, replacement: Code): Code => [address, expected, replacement, instruction('i32.atomic.rmw.cmpxchg', [0xfe, 0x48, 2, 0])],
    },
  },
};

export const i64 = {
  load: load('i64.load', [0x29], 3),
  store: store('i64.store', [0x37], 3),
};

export const f32 = {
  const: (value: number): Code => {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return instruction(`f32.const ${value}`, [0x43, ...bytes]);
  },
  load: load('f32.load', [0x2a], 2),
  store: store('f32.store', [0x38], 2),
  add: plain('f32.add', [0x92]),
  mul: plain('f32.mul', [0x94]),
  /** Rounds a float64 to the nearest float32. */
  demote_f64: plain('f32.demote_f64', [0xb6]),
};

export const f64 = {
  load: load('f64.load', [0x2b], 3),
  store: store('f64.store', [0x39], 3),
  add: plain('f64.add', [0xa0]),
  /** Widens a float32 to float64, exactly. */
  promote_f32: plain('f64.promote_f32', [0xbb]),
};

export const v128 = {
  load: load('v128.load', [0xfd, 0x00], 4),
  load32_splat: load('v128.load32_splat', [0xfd, 0x09], 2),
  load64_zero: load('v128.load64_zero', [0xfd, 0x5d], 3),
  /** Loads one float32 into lane 0 and zeros the other lanes. */
  load32_zero: load('v128.load32_zero', [0xfd, 0x5c], 2),
  store: store('v128.store', [0xfd, 0x0b], 4),
  /** Stores lane `lane` of a vector as one 32-bit value. */
  store32_lane: (address: Code, value: Code, lane: number): Code => [address, value, instruction(`v128.store32_lane ${lane}`, [0xfd, 0x5a, 2, 0, lane])],
  and: simd('v128.and', 0x4e),
  /** a & ~b, lane by lane on bits. */
  andnot: simd('v128.andnot', 0x4f),
  /** The all-zero vector. */
  zero: (): Code => instruction('v128.const i32x4 0 0 0 0', [0xfd, 0x0c, ...new Array<number>(16).fill(0)]),
  /** A vector constant of four equal float32 lanes: `v128.const f32x4 x x x x`. */
  const_f32x4: (value: number): Code => {
    const lane = [...new Uint8Array(new Float32Array([value]).buffer)];
    return instruction(`v128.const f32x4 ${value} ${value} ${value} ${value}`, [0xfd, 0x0c, ...lane, ...lane, ...lane, ...lane]);
  },
  /** A vector constant of four equal int32 lanes: `v128.const i32x4 x x x x`. */
  const_i32x4: (value: number): Code => {
    const lane = [...new Uint8Array(new Int32Array([value]).buffer)];
    return instruction(`v128.const i32x4 ${value | 0} ${value | 0} ${value | 0} ${value | 0}`, [0xfd, 0x0c, ...lane, ...lane, ...lane, ...lane]);
  },
};

export const i8x16 = {
  /**
   * Picks 16 bytes out of the 32 bytes of `a` (lanes 0-15) and `b` (lanes 16-31). Lanes are
   * bytes, so one f32 lane k of `a` is bytes 4k..4k+3.
   */
  shuffle: (lanes: readonly number[], a: Code = [], b: Code = []): Code => {
    if (lanes.length !== 16 || lanes.some((lane) => !Number.isInteger(lane) || lane < 0 || lane > 31)) {
      throw new RangeError(`i8x16.shuffle: expected 16 lane indices in [0, 31], got [${lanes.join(', ')}]`);
    }
    return [a, b, instruction(`i8x16.shuffle ${lanes.join(' ')}`, [0xfd, 0x0d, ...lanes])];
  },
};

export const f32x4 = {
  splat: simd('f32x4.splat', 0x13),
  extract_lane: (lane: number, vector: Code = []): Code => [vector, instruction(`f32x4.extract_lane ${lane}`, [0xfd, 0x1f, lane])],
  /** Rounds each lane to the nearest integer, ties to even. */
  nearest: simd('f32x4.nearest', 0x6a),
  add: simd('f32x4.add', 0xe4),
  sub: simd('f32x4.sub', 0xe5),
  mul: simd('f32x4.mul', 0xe6),
  div: simd('f32x4.div', 0xe7),
  /** Lane-wise minimum and maximum; a NaN in either operand gives NaN. */
  min: simd('f32x4.min', 0xe8),
  max: simd('f32x4.max', 0xe9),
  /** All ones in each lane where a > b, else zeros; false when either is NaN. */
  gt: simd('f32x4.gt', 0x44),
  /** All ones in each lane where a != b, which a NaN lane is to itself. */
  ne: simd('f32x4.ne', 0x42),
  /** a * b + c, with or without an intermediate rounding, whichever the hardware does faster. */
  relaxed_madd: simd('f32x4.relaxed_madd', 0x105),
};

export const f64x2 = {
  add: simd('f64x2.add', 0xf0),
  /** Widens float32 lanes 0 and 1 to two float64 lanes, exactly. */
  promote_low_f32x4: simd('f64x2.promote_low_f32x4', 0x5f),
};

export const i64x2 = {
  extract_lane: (lane: number, vector: Code = []): Code => [vector, instruction(`i64x2.extract_lane ${lane}`, [0xfd, 0x1d, lane])],
};

export const i32x4 = {
  add: simd('i32x4.add', 0xae),
  /** All ones in each lane where the int32 lanes are equal, else zeros. */
  eq: simd('i32x4.eq', 0x37),
  /** All ones in each lane where a < b as signed int32, else zeros. */
  lt_s: simd('i32x4.lt_s', 0x39),
  /** Shifts each lane left by the i32 operand (modulo 32). */
  shl: simd('i32x4.shl', 0xab),
  /** Converts each float32 lane to int32, towards zero; NaN gives 0 and out-of-range values saturate. */
  trunc_sat_f32x4_s: simd('i32x4.trunc_sat_f32x4_s', 0xf8),
};

/** Bulk memory instructions (WebAssembly 2.0), on memory 0. */
export const memory = {
  /** Sets `size` bytes from byte address `destination` to the low byte of `value`. */
  fill: (destination: Code, value: Code, size: Code): Code => [destination, value, size, instruction('memory.fill', [0xfc, 0x0b, 0x00])],
  /** Copies `size` bytes from `source` to `destination`; the ranges may overlap. */
  copy: (destination: Code, source: Code, size: Code): Code => [destination, source, size, instruction('memory.copy', [0xfc, 0x0a, 0x00, 0x00])],
};

/** Opens a block: `br` to its label jumps past its `end`. */
export function block(label: Label, ...body: Code[]): Code {
  return [{ text: `block $${label.name}`, bytes: [0x02, 0x40], structure: 'open', label }, body, end()];
}

/** Opens a loop: `br` to its label jumps back to its start. */
export function loop(label: Label, ...body: Code[]): Code {
  return [{ text: `loop $${label.name}`, bytes: [0x03, 0x40], structure: 'open', label }, body, end()];
}

/**
 * `if` and optional `else`: runs `then` when `condition` (an i32) is not zero, else `otherwise`.
 * Named ifElse because `if` is a keyword in TypeScript.
 */
export function ifElse(condition: Code, then: Code, otherwise?: Code): Code {
  const open: Instruction = { text: 'if', bytes: [0x04, 0x40], structure: 'open' };
  const elseBranch: Code = otherwise === undefined ? [] : [{ text: 'else', bytes: [0x05], structure: 'else' }, otherwise];
  return [condition, open, then, elseBranch, end()];
}

function end(): Instruction {
  return { text: 'end', bytes: [0x0b], structure: 'end' };
}

export function br(label: Label): Code {
  return { text: `br $${label.name}`, bytes: [0x0c], structure: 'branch', label };
}

/** Branches to `label` when `condition` (an i32) is not zero. */
export function br_if(label: Label, condition: Code = []): Code {
  return [condition, { text: `br_if $${label.name}`, bytes: [0x0d], structure: 'branch', label }];
}

/** Calls the function of the same module named `callee`, after pushing `args`. */
export function call(callee: string, ...args: Code[]): Code {
  return [...args, { text: `call $${callee}`, bytes: [0x10], structure: 'call', callee }];
}

/** Evaluates `value` and discards it. */
export function drop(value: Code = []): Code {
  return [value, instruction('drop', [0x1a])];
}

/** Returns `whenTrue` if `condition` is not zero, else `whenFalse`; both are evaluated. */
export function select(whenTrue: Code, whenFalse: Code, condition: Code): Code {
  return [whenTrue, whenFalse, condition, instruction('select', [0x1b])];
}
