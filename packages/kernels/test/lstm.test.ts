import fc from 'fast-check';
import ndarray from 'ndarray';
import {
  type LstmSequenceLayout, type Matrix, getBackend, lstmCellForwardRow, lstmSequenceBackward, lstmSequenceForward, setBackend,
} from '@metagrad/kernels';
import { WasmRuntime, detectFeatures } from '../src/wasm/runtime';
import { WasmBackend } from '../src/wasm/wasm-backend';
import { backends, expectClose, pseudoRandom } from './helpers';

const describeWithSimd = detectFeatures().simd ? describe : describe.skip;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Reference: the recurrence written step by step in float64, from inputGates [T][N][4H], W
 * [4H][H], bias [4H] and the initial states [N][H]. Returns [h' | c'] of every step, [T][N][2H].
 */
function referenceStates(layout: LstmSequenceLayout, inputGates: number[], weight: number[], bias: number[], hidden: number[], cell: number[]): number[] {
  const { steps, rows, hidden: size, order, lengths } = layout;
  const states = new Array<number>(steps * rows * 2 * size).fill(0);
  let h = hidden.slice();
  let c = cell.slice();
  for (const t of order) {
    const nextH = h.slice();
    const nextC = c.slice();
    for (let n = 0; n < rows; n++) {
      if (lengths !== null && t >= lengths[n]) continue;
      for (let j = 0; j < size; j++) {
        const z = [0, 1, 2, 3].map((gate) => {
          let total = inputGates[(t * rows + n) * 4 * size + gate * size + j] + bias[gate * size + j];
          for (let p = 0; p < size; p++) total += h[n * size + p] * weight[(gate * size + j) * size + p];
          return total;
        });
        nextC[n * size + j] = sigmoid(z[1]) * c[n * size + j] + sigmoid(z[0]) * Math.tanh(z[2]);
        nextH[n * size + j] = sigmoid(z[3]) * Math.tanh(nextC[n * size + j]);
      }
    }
    h = nextH;
    c = nextC;
    for (let n = 0; n < rows; n++) {
      for (let j = 0; j < size; j++) {
        states[(t * rows + n) * 2 * size + j] = h[n * size + j];
        states[(t * rows + n) * 2 * size + size + j] = c[n * size + j];
      }
    }
  }
  return states;
}

/** A sequence's layout and operands, with hidden sizes around the WebAssembly path's threshold. */
const sequenceArb = fc
  .record({
    steps: fc.integer({ min: 1, max: 5 }),
    rows: fc.integer({ min: 1, max: 4 }),
    hidden: fc.constantFrom(3, 8, 32, 34, 36),
    reverse: fc.boolean(),
    withLengths: fc.boolean(),
    withBias: fc.boolean(),
    transposedInput: fc.boolean(),
    transposedWeight: fc.boolean(),
    seed: fc.integer(),
  })
  .chain((p) => fc.array(fc.integer({ min: 1, max: p.steps }), { minLength: p.rows, maxLength: p.rows }).map((lengths) => ({ ...p, lengths })));

type Sequence = typeof sequenceArb extends fc.Arbitrary<infer T> ? T : never;

/** Builds the kernel's operands for `p` in `dtype`, strided as `p` specifies, with their plain values. */
function operands(p: Sequence, dtype: 'float32' | 'float64') {
  const { steps, rows, hidden: size } = p;
  const typed = (numbers: ArrayLike<number>) => (dtype === 'float32' ? Float32Array.from(numbers) : Float64Array.from(numbers));
  const layout: LstmSequenceLayout = {
    steps, rows, hidden: size,
    order: Array.from({ length: steps }, (_, i) => (p.reverse ? steps - 1 - i : i)),
    lengths: p.withLengths ? p.lengths : null,
  };
  const values = {
    inputGates: pseudoRandom(steps * rows * 4 * size, p.seed).map((x) => 2 * x),
    weight: pseudoRandom(4 * size * size, p.seed + 1).map((x) => x / Math.sqrt(size)),
    bias: p.withBias ? pseudoRandom(4 * size, p.seed + 2) : new Array<number>(4 * size).fill(0),
    hidden: pseudoRandom(rows * size, p.seed + 3),
    cell: pseudoRandom(rows * size, p.seed + 4),
  };
  // Rounded to the dtype, so that both dtypes compute from the same numbers.
  for (const key of Object.keys(values) as (keyof typeof values)[]) values[key] = Array.from(typed(values[key]));

  // A transposed input is stored [N, T, 4H] and read through swapped strides.
  const gateWidth = 4 * size;
  const inputGates = p.transposedInput
    ? ndarray(typed(Array.from({ length: steps * rows * gateWidth }, (_, i) => {
      const [n, t, g] = [Math.floor(i / (steps * gateWidth)), Math.floor(i / gateWidth) % steps, i % gateWidth];
      return values.inputGates[(t * rows + n) * gateWidth + g];
    })), [steps, rows, gateWidth], [gateWidth, steps * gateWidth, 1])
    : ndarray(typed(values.inputGates), [steps, rows, gateWidth]);
  const weight: Matrix = p.transposedWeight
    ? { data: typed(Array.from({ length: gateWidth * size }, (_, i) => values.weight[(i % gateWidth) * size + Math.floor(i / gateWidth)])), offset: 0, rowStride: 1, colStride: gateWidth }
    : { data: typed(values.weight), offset: 0, rowStride: size, colStride: 1 };
  const matrix = (data: number[]): Matrix => ({ data: typed(data), offset: 0, rowStride: size, colStride: 1 });
  return {
    layout, values, inputGates, weight,
    bias: p.withBias ? typed(values.bias) : null,
    hidden: matrix(values.hidden),
    cell: matrix(values.cell),
  };
}

describe.each(backends)('lstmSequenceForward and lstmSequenceBackward on the %s backend', (backend) => {
  const previous = getBackend();
  beforeAll(() => setBackend(backend));
  afterAll(() => setBackend(previous));

  test('states agree with a step-by-step reference', () => {
    fc.assert(
      fc.property(sequenceArb, fc.constantFrom<'float32' | 'float64'>('float32', 'float64'), (p, dtype) => {
        const o = operands(p, dtype);
        const { states } = lstmSequenceForward(o.layout, o.inputGates, o.weight, o.bias, o.hidden, o.cell);
        const expected = referenceStates(o.layout, o.values.inputGates, o.values.weight, o.values.bias, o.values.hidden, o.values.cell);
        const tolerance = dtype === 'float32' ? 2e-5 : 1e-12;
        expectClose(states, expected, tolerance, tolerance);
      }),
      { numRuns: 60 },
    );
  });

  test('float32 gradients agree with the float64 loops', () => {
    fc.assert(
      fc.property(sequenceArb, (p) => {
        // float64 always runs on the loops, whatever the backend.
        const [single, double] = (['float32', 'float64'] as const).map((dtype) => {
          const o = operands(p, dtype);
          const saved = lstmSequenceForward(o.layout, o.inputGates, o.weight, o.bias, o.hidden, o.cell);
          const gradValues = pseudoRandom(p.steps * p.rows * 2 * p.hidden, p.seed + 5);
          const grad = ndarray(dtype === 'float32' ? Float32Array.from(gradValues) : Float64Array.from(gradValues), [p.steps, p.rows, 2 * p.hidden]);
          return lstmSequenceBackward(o.layout, grad, o.weight, o.cell, saved);
        });
        for (const key of ['gates', 'weight', 'bias', 'hidden', 'cell'] as const) {
          expectClose(single[key], double[key], 1e-4, 1e-4 * p.steps);
        }
      }),
      { numRuns: 40 },
    );
  });

  test('results do not depend on what WebAssembly memory held before', () => {
    const p: Sequence = { steps: 3, rows: 4, hidden: 32, reverse: false, withLengths: true, withBias: true, transposedInput: false, transposedWeight: false, seed: 11, lengths: [3, 1, 2, 3] };
    const o = operands(p, 'float32');
    const first = lstmSequenceForward(o.layout, o.inputGates, o.weight, o.bias, o.hidden, o.cell);
    const grad = ndarray(Float32Array.from(pseudoRandom(3 * 4 * 64, 12)), [3, 4, 64]);
    const firstGradients = lstmSequenceBackward(o.layout, grad, o.weight, o.cell, first);

    // A different sequence of a larger size leaves other values where the next call's buffers go.
    const q = operands({ ...p, steps: 5, seed: 99, withLengths: false }, 'float32');
    lstmSequenceBackward(q.layout, ndarray(Float32Array.from(pseudoRandom(5 * 4 * 64, 13)), [5, 4, 64]), q.weight, q.cell,
      lstmSequenceForward(q.layout, q.inputGates, q.weight, q.bias, q.hidden, q.cell));

    const again = lstmSequenceForward(o.layout, o.inputGates, o.weight, o.bias, o.hidden, o.cell);
    expect(Array.from(again.states)).toEqual(Array.from(first.states));
    const againGradients = lstmSequenceBackward(o.layout, grad, o.weight, o.cell, again);
    for (const key of ['gates', 'weight', 'bias', 'hidden', 'cell'] as const) expect(Array.from(againGradients[key])).toEqual(Array.from(firstGradients[key]));
  });
});

describeWithSimd('WebAssembly LSTM cell', () => {
  const backend = new WasmBackend(new WasmRuntime({ relaxedMadd: false, sharedMemory: false }));

  /** Runs the kernel on one row of pre-activations z [4H] with c, and returns its saved values and state. */
  function runKernel(z: number[], cell: number[]): { saved: number[]; state: number[] } {
    const hidden = cell.length;
    return backend.withArena(() => {
      const [zView, bias, cellView, saved, state] = backend.scratch([4 * hidden, 4 * hidden, hidden, 5 * hidden, 2 * hidden]);
      zView.set(z);
      bias.fill(0);
      cellView.set(cell);
      backend.lstmCell(1, hidden, zView, 0, bias, cellView, 0, hidden, saved, 0, state, 0);
      return { saved: Array.from(saved), state: Array.from(state) };
    });
  }

  /** Runs the same row through lstmCellForwardRow in float64. */
  function runLoops(z: number[], cell: number[]): { saved: number[]; state: number[] } {
    const hidden = cell.length;
    const saved = new Float64Array(5 * hidden);
    const state = new Float64Array(2 * hidden);
    const zero = { data: new Float64Array(4 * hidden), offset: 0, rowStride: 4 * hidden, colStride: 1 };
    lstmCellForwardRow(0, hidden, { data: Float64Array.from(z), offset: 0, rowStride: 4 * hidden, colStride: 1 }, zero, null, { data: Float64Array.from(cell), offset: 0, rowStride: hidden, colStride: 1 }, saved, 0, state, 0);
    return { saved: Array.from(saved), state: Array.from(state) };
  }

  test('gates and states agree with the loops within float32 rounding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer(), fc.double({ min: 0.01, max: 60, noNaN: true }), (quarter, seed, scale) => {
        const hidden = 4 * quarter;
        const z = Array.from(Float32Array.from(pseudoRandom(4 * hidden, seed).map((x) => x * scale)));
        const cell = Array.from(Float32Array.from(pseudoRandom(hidden, seed + 1).map((x) => x * scale)));
        const actual = runKernel(z, cell);
        const expected = runLoops(z, cell);
        expectClose(actual.saved, expected.saved, 1e-6, 1e-6);
        expectClose(actual.state, expected.state, 1e-6, 2e-6 * Math.max(1, scale));
      }),
      { numRuns: 100 },
    );
  });

  test('extreme pre-activations saturate the gates and NaN stays NaN', () => {
    const z = [
      -Infinity, Infinity, -1e30, 1e30, // input gate
      -100, 100, -88, 88, // forget gate
      -Infinity, Infinity, 1e-8, -1e-8, // candidate
      0, 87, -87, NaN, // output gate
    ];
    const { saved, state } = runKernel(z, [1, 1, 1, 1]);
    const expected = runLoops(z, [1, 1, 1, 1]);
    const finite = (values: number[]) => values.filter((_, i) => i !== 15);
    expectClose(finite(saved), finite(expected.saved), 1e-6, 1e-6);
    expect(saved[15]).toBeNaN();
    expect(state[3]).toBeNaN();
    expectClose(state.slice(4), expected.state.slice(4), 1e-6, 1e-6);
  });
});
