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

/**
 * lstmCellBackward(rows, hidden, grad, gradRowStride, carriedH, carriedC, saved, savedRowStride, cell, cellRowStride, dz, dzRowStride)
 * is the VJP of lstmCell for every row n, as lstmCellBackwardRow (../lstm.ts) computes it. It reads
 * [dh' | dc'] from grad[n] and adds the gradients carried back from the next step, carriedH[n] and
 * carriedC[n] ([rows, hidden], contiguous). With i, f, g, o and t = tanh(c') from saved[n] and the
 * cell state before the step from cell[n]:
 *   dc'_total = dc' + dh' * o * (1 - t^2)
 *   dz = [dc'_total * g * i(1 - i) | dc'_total * c * f(1 - f) | dc'_total * i * (1 - g^2) | dh' * t * o(1 - o)]
 * It writes dz to dz[n] and dc'_total * f, the gradient carried to the step before, over carriedC[n].
 */
export function lstmCellBackwardKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('lstmCellBackward');
  const rows = fn.param('rows');
  const hidden = fn.param('hidden');
  const grad = fn.param('grad');
  const gradRowStride = fn.param('gradRowStride');
  const carriedH = fn.param('carriedH');
  const carriedC = fn.param('carriedC');
  const saved = fn.param('saved');
  const savedRowStride = fn.param('savedRowStride');
  const cell = fn.param('cell');
  const cellRowStride = fn.param('cellRowStride');
  const dz = fn.param('dz');
  const dzRowStride = fn.param('dzRowStride');
  const row = fn.local('row');
  const j = fn.local('j');
  const block = fn.local('block');
  const [gradHidden, gradCell, inputGate, forgetGate, candidate, outputGate, squashedCell] = [
    'gradHidden', 'gradCell', 'inputGate', 'forgetGate', 'candidate', 'outputGate', 'squashedCell',
  ].map((name) => fn.local(name, 'v128'));

  const get = local.get;
  const one = v128.const_f32x4(1);
  const at = (pointer: typeof grad, blocks: number): Code => i32.add(i32.add(get(pointer), get(j)), i32.mul(get(block), i32.const(blocks)));
  const derivative = (gate: typeof inputGate): Code => f32x4.mul(get(gate), f32x4.sub(one, get(gate)));
  const advance = (pointer: typeof grad, stride: Code): Code => local.set(pointer, i32.add(get(pointer), stride));

  return fn.define([
    local.set(block, i32.mul(get(hidden), i32.const(F))),
    forLoop(row, i32.const(0), get(rows), i32.const(1),
      forLoop(j, i32.const(0), get(block), i32.const(VECTOR_BYTES),
        local.set(inputGate, v128.load(at(saved, 0))),
        local.set(forgetGate, v128.load(at(saved, 1))),
        local.set(candidate, v128.load(at(saved, 2))),
        local.set(outputGate, v128.load(at(saved, 3))),
        local.set(squashedCell, v128.load(at(saved, 4))),

        // The step's own gradient plus what the next step carried back, then dc'_total.
        local.set(gradHidden, f32x4.add(v128.load(at(grad, 0)), v128.load(at(carriedH, 0)))),
        local.set(gradCell, f32x4.add(
          f32x4.add(v128.load(at(grad, 1)), v128.load(at(carriedC, 0))),
          f32x4.mul(f32x4.mul(get(gradHidden), get(outputGate)), f32x4.sub(one, f32x4.mul(get(squashedCell), get(squashedCell)))))),

        v128.store(at(dz, 0), f32x4.mul(f32x4.mul(get(gradCell), get(candidate)), derivative(inputGate))),
        v128.store(at(dz, 1), f32x4.mul(f32x4.mul(get(gradCell), v128.load(at(cell, 0))), derivative(forgetGate))),
        v128.store(at(dz, 2), f32x4.mul(f32x4.mul(get(gradCell), get(inputGate)), f32x4.sub(one, f32x4.mul(get(candidate), get(candidate))))),
        v128.store(at(dz, 3), f32x4.mul(f32x4.mul(get(gradHidden), get(squashedCell)), derivative(outputGate))),
        v128.store(at(carriedC, 0), f32x4.mul(get(gradCell), get(forgetGate))),
      ),
      advance(grad, get(gradRowStride)),
      advance(carriedH, get(block)),
      advance(carriedC, get(block)),
      advance(saved, get(savedRowStride)),
      advance(cell, get(cellRowStride)),
      advance(dz, get(dzRowStride)),
    ),
  ]);
}
