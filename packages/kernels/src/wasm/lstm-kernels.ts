/**
 * The LSTM cell of the WebAssembly backend: the gate nonlinearities and the state update of one
 * step, for every row of a batch, four units at a time. It computes what lstmCellForwardRow
 * (../lstm.ts) computes, with the vector exp of vector-math.ts in place of Math.exp and Math.tanh.
 *
 * lstmCell(rows, hidden, z, zRowStride, bias, cell, cellRowStride, saved, savedRowStride, state, stateRowStride)
 * reads, for each row n, the pre-activations z[n] = [z_i | z_f | z_g | z_o] (4 * hidden floats)
 * and adds the bias (4 * hidden floats, the same for every row). Then
 *   i, f, o = sigmoid(z_i, z_f, z_o),  g = tanh(z_g),  c' = f * c + i * g,  h' = o * tanh(c')
 * with c = cell[n]. It writes [i | f | g | o | tanh(c')] to saved[n] and [h' | c'] to state[n].
 * Pointers and row strides are in bytes; `hidden` must be a multiple of 4. `state` may not
 * overlap `z`, `cell` or `saved`.
 */
import { BYTES_PER_FLOAT } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, f32x4, i32, local, v128 } from './instructions';
import { forLoop } from './loops';
import { vectorSigmoid, vectorTanh } from './vector-math';

const F = BYTES_PER_FLOAT;
const VECTOR_BYTES = 16;

export function lstmCellKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('lstmCell');
  const rows = fn.param('rows');
  const hidden = fn.param('hidden');
  const z = fn.param('z');
  const zRowStride = fn.param('zRowStride');
  const bias = fn.param('bias');
  const cell = fn.param('cell');
  const cellRowStride = fn.param('cellRowStride');
  const saved = fn.param('saved');
  const savedRowStride = fn.param('savedRowStride');
  const state = fn.param('state');
  const stateRowStride = fn.param('stateRowStride');
  const row = fn.local('row');
  const j = fn.local('j');
  const block = fn.local('block');
  const [inputGate, forgetGate, candidate, outputGate, nextCell] = ['inputGate', 'forgetGate', 'candidate', 'outputGate', 'nextCell'].map((name) => fn.local(name, 'v128'));
  const temporaries = { n: fn.local('n', 'v128'), r: fn.local('r', 'v128') };

  const get = local.get;
  const at = (pointer: typeof z, blocks: number): Code => i32.add(i32.add(get(pointer), get(j)), i32.mul(get(block), i32.const(blocks)));
  const preActivation = (gate: number): Code => f32x4.add(v128.load(at(z, gate)), v128.load(at(bias, gate)));
  const advance = (pointer: typeof z, stride: typeof z): Code => local.set(pointer, i32.add(get(pointer), get(stride)));

  return fn.define([
    local.set(block, i32.mul(get(hidden), i32.const(F))),
    forLoop(row, i32.const(0), get(rows), i32.const(1),
      forLoop(j, i32.const(0), get(block), i32.const(VECTOR_BYTES),
        // The gates, from the pre-activations and the bias.
        local.set(inputGate, vectorSigmoid(preActivation(0), temporaries)),
        local.set(forgetGate, vectorSigmoid(preActivation(1), temporaries)),
        local.set(candidate, vectorTanh(preActivation(2), temporaries)),
        local.set(outputGate, vectorSigmoid(preActivation(3), temporaries)),

        // c' = f * c + i * g, kept for the backward pass with the gates and tanh(c').
        local.set(nextCell, f32x4.add(f32x4.mul(get(forgetGate), v128.load(i32.add(get(cell), get(j)))), f32x4.mul(get(inputGate), get(candidate)))),
        v128.store(at(saved, 0), get(inputGate)),
        v128.store(at(saved, 1), get(forgetGate)),
        v128.store(at(saved, 2), get(candidate)),
        v128.store(at(saved, 3), get(outputGate)),
        v128.store(at(state, 1), get(nextCell)),

        // h' = o * tanh(c'); tanh(c') reuses the candidate's local.
        local.set(candidate, vectorTanh(get(nextCell), temporaries)),
        v128.store(at(saved, 4), get(candidate)),
        v128.store(at(state, 0), f32x4.mul(get(outputGate), get(candidate))),
      ),
      advance(z, zRowStride),
      advance(cell, cellRowStride),
      advance(saved, savedRowStride),
      advance(state, stateRowStride),
    ),
  ]);
}
