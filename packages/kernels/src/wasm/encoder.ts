/**
 * The WebAssembly binary format, as much of it as the kernels need: LEB128 integers, function
 * types, an imported memory, functions, exports and their code.
 *
 * A module is written as its sections in the order the format requires (WebAssembly Core
 * Specification 2.0, section 5.5): type (1), import (2), function (3), export (7), code (10).
 * Each section is its id byte, its size in bytes as unsigned LEB128, then its contents.
 */
import { type Code, type Instruction, type Label, type Local, type ValueType, flatten } from './instructions';
import { unsignedLeb128 } from './leb128';

/** Encodes a name as its length, then its bytes. Names here are ASCII, which UTF-8 stores as is. */
export function encodeName(name: string): number[] {
  const bytes = Array.from(name, (character) => character.charCodeAt(0));
  if (bytes.some((byte) => byte > 0x7f)) throw new RangeError(`encodeName: expected an ASCII name, got '${name}'`);
  return [...unsignedLeb128(bytes.length), ...bytes];
}

/** Encodes a vector: its length, then each item's bytes. */
function encodeVector(items: readonly number[][]): number[] {
  return [...unsignedLeb128(items.length), ...items.flat()];
}

/** Byte of each value type in the binary format. */
export const valueTypeCodes: Record<ValueType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Size limits of a memory, in 64 KiB pages. A shared memory needs a maximum. */
export interface MemoryLimits {
  initial: number;
  maximum: number;
  shared: boolean;
}

/** A function of a module: its signature, locals and body, and whether it is exported under its name. */
export interface FunctionDefinition {
  name: string;
  params: readonly Local[];
  results: readonly ValueType[];
  /** Locals declared after the parameters; their indices continue the parameters'. */
  locals: readonly Local[];
  body: Code;
  exported: boolean;
}

/** A module whose functions all use one memory, imported as `env.memory`. */
export interface ModuleDefinition {
  memory: MemoryLimits;
  functions: readonly FunctionDefinition[];
}

/**
 * Declares the parameters and locals of a function in order, so that each gets the next index.
 * Parameters must be declared before any local, as the format numbers them first.
 */
export class FunctionBuilder {
  readonly params: Local[] = [];
  readonly locals: Local[] = [];

  constructor(readonly name: string, readonly results: readonly ValueType[] = []) {}

  param(name: string, type: ValueType = 'i32'): Local {
    if (this.locals.length > 0) throw new Error(`FunctionBuilder ${this.name}: parameter $${name} declared after a local`);
    const param = { index: this.params.length, name, type };
    this.params.push(param);
    return param;
  }

  local(name: string, type: ValueType = 'i32'): Local {
    const local = { index: this.params.length + this.locals.length, name, type };
    this.locals.push(local);
    return local;
  }

  /** Returns the finished definition with `body`. */
  define(body: Code, options: { exported?: boolean } = {}): FunctionDefinition {
    return { name: this.name, params: this.params, results: this.results, locals: this.locals, body, exported: options.exported ?? true };
  }
}

/** Returns the binary module: the `\0asm` magic, version 1, then its sections. */
export function encodeModule(module: ModuleDefinition): Uint8Array {
  const { types, typeIndexOf } = collectTypes(module.functions);
  const functionIndex = new Map(module.functions.map((fn, index) => [fn.name, index]));

  const typeSection = encodeVector(types.map((type) => [0x60, ...encodeVector(type.params.map((t) => [valueTypeCodes[t]])), ...encodeVector(type.results.map((t) => [valueTypeCodes[t]]))]));
  const importSection = encodeVector([[...encodeName('env'), ...encodeName('memory'), 0x02, ...encodeLimits(module.memory)]]);
  const functionSection = encodeVector(module.functions.map((fn) => unsignedLeb128(typeIndexOf(fn))));
  const exportSection = encodeVector(
    module.functions.filter((fn) => fn.exported).map((fn) => [...encodeName(fn.name), 0x00, ...unsignedLeb128(functionIndex.get(fn.name)!)]),
  );
  const codeSection = encodeVector(module.functions.map((fn) => {
    const body = encodeFunctionBody(fn, functionIndex);
    return [...unsignedLeb128(body.length), ...body];
  }));

  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, typeSection),
    ...section(2, importSection),
    ...section(3, functionSection),
    ...section(7, exportSection),
    ...section(10, codeSection),
  ]);
}

function section(id: number, contents: number[]): number[] {
  return [id, ...unsignedLeb128(contents.length), ...contents];
}

/** Limits flag 0x01 is "minimum and maximum"; 0x03 adds "shared" (threads proposal). */
function encodeLimits(limits: MemoryLimits): number[] {
  return [limits.shared ? 0x03 : 0x01, ...unsignedLeb128(limits.initial), ...unsignedLeb128(limits.maximum)];
}

interface FunctionType {
  params: ValueType[];
  results: ValueType[];
}

/** Lists each distinct signature once, in order of first use. */
function collectTypes(functions: readonly FunctionDefinition[]): { types: FunctionType[]; typeIndexOf: (fn: FunctionDefinition) => number } {
  const types: FunctionType[] = [];
  const indexByKey = new Map<string, number>();
  const keyOf = (fn: FunctionDefinition) => `${fn.params.map((p) => p.type).join(',')}->${fn.results.join(',')}`;

  for (const fn of functions) {
    const key = keyOf(fn);
    if (indexByKey.has(key)) continue;
    indexByKey.set(key, types.length);
    types.push({ params: fn.params.map((p) => p.type), results: [...fn.results] });
  }
  return { types, typeIndexOf: (fn) => indexByKey.get(keyOf(fn))! };
}

/**
 * Encodes locals and code of one function. Runs of locals of the same type are grouped, as the
 * format stores (count, type) pairs. Branches name their target label, and the encoder turns the
 * label into the relative depth the format expects: 0 for the innermost enclosing block.
 */
function encodeFunctionBody(fn: FunctionDefinition, functionIndex: Map<string, number>): number[] {
  const groups: number[][] = [];
  let previous: ValueType | undefined;
  for (const local of fn.locals) {
    if (local.type === previous) groups[groups.length - 1][0]++;
    else groups.push([1, valueTypeCodes[local.type]]);
    previous = local.type;
  }

  const bytes = [...unsignedLeb128(groups.length), ...groups.flatMap(([count, type]) => [...unsignedLeb128(count), type])];
  const open: Array<Label | undefined> = [];
  for (const instruction of flatten(fn.body)) bytes.push(...encodeInstruction(instruction, open, fn.name, functionIndex));
  if (open.length > 0) throw new Error(`function ${fn.name}: ${open.length} block(s) left open`);
  bytes.push(0x0b);
  return bytes;
}

function encodeInstruction(instruction: Instruction, open: Array<Label | undefined>, where: string, functionIndex: Map<string, number>): number[] {
  switch (instruction.structure) {
    case 'open':
      open.push(instruction.label);
      return [...instruction.bytes];
    case 'else':
      return [...instruction.bytes];
    case 'end':
      if (open.length === 0) throw new Error(`function ${where}: 'end' without an open block`);
      open.pop();
      return [...instruction.bytes];
    case 'branch': {
      const depth = open.length - 1 - open.lastIndexOf(instruction.label);
      if (depth >= open.length) throw new Error(`function ${where}: ${instruction.text} is not inside block $${instruction.label!.name}`);
      return [...instruction.bytes, ...unsignedLeb128(depth)];
    }
    case 'call': {
      const index = functionIndex.get(instruction.callee!);
      if (index === undefined) throw new Error(`function ${where}: call to unknown function $${instruction.callee}`);
      return [...instruction.bytes, ...unsignedLeb128(index)];
    }
    default:
      return [...instruction.bytes];
  }
}
