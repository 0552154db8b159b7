/**
 * Prints generated functions and modules in the WebAssembly text format (WAT), one instruction
 * per line and indented by block, for reading and reviewing what a generator emits.
 *
 * The output is the linear (unfolded) form that `wasm2wat` prints, with the generator's names
 * for locals and labels.
 */
import type { FunctionDefinition, ModuleDefinition } from './encoder';
import { flatten } from './instructions';

const INDENT = '  ';

/**
 * Returns one function in text form.
 *
 * printFunction of `f32x4.add(local.get(a), local.get(b))` with params $a and $b and result
 * v128 is
 *   (func $add (export "add") (param $a v128) (param $b v128) (result v128)
 *     local.get $a
 *     local.get $b
 *     f32x4.add)
 */
export function printFunction(fn: FunctionDefinition): string {
  const signature = [
    `(func $${fn.name}`,
    fn.exported ? ` (export "${fn.name}")` : '',
    ...fn.params.map((p) => ` (param $${p.name} ${p.type})`),
    fn.results.length > 0 ? ` (result ${fn.results.join(' ')})` : '',
  ].join('');
  const lines = [signature];
  for (const local of fn.locals) lines.push(`${INDENT}(local $${local.name} ${local.type})`);

  let depth = 1;
  for (const instruction of flatten(fn.body)) {
    if (instruction.structure === 'end' || instruction.structure === 'else') depth--;
    lines.push(INDENT.repeat(depth) + instruction.text);
    if (instruction.structure === 'open' || instruction.structure === 'else') depth++;
  }
  return lines.join('\n') + ')';
}

/** Returns a whole module in text form: the imported memory, then every function. */
export function printModule(module: ModuleDefinition): string {
  const { initial, maximum, shared } = module.memory;
  const memory = `${INDENT}(import "env" "memory" (memory ${initial} ${maximum}${shared ? ' shared' : ''}))`;
  const functions = module.functions.map((fn) => printFunction(fn).replace(/^/gm, INDENT));
  return ['(module', memory, ...functions].join('\n') + ')';
}
