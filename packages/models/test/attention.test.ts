import { Tensor, grad, gradcheck, gradgradcheck, mul, randn, sum, tensor } from '@metagrad/autodiff';
import { MultiheadAttention, causalMask, functionalCall } from '@metagrad/models';
import { expectMatches, referenceCases, unpack, unpackState } from './attention-reference';

const cases = referenceCases();

function float64Attention(embedDim: number, numHeads: number, options: ConstructorParameters<typeof MultiheadAttention>[2] = {}): MultiheadAttention {
  return new MultiheadAttention(embedDim, numHeads, { dtype: 'float64', seed: 3, ...options });
}

describe('MultiheadAttention parameters', () => {
  test('names and shapes match PyTorch', () => {
    const attention = new MultiheadAttention(8, 2);
    const shapes = Object.fromEntries(attention.namedParameters().map(([name, p]) => [name, p.shape]));
    expect(shapes).toEqual({ in_proj_weight: [24, 8], in_proj_bias: [24], 'out_proj.weight': [8, 8], 'out_proj.bias': [8] });
  });

  test('separate projections for kdim and vdim', () => {
    const attention = new MultiheadAttention(4, 2, { kdim: 3, vdim: 5, bias: false });
    const shapes = Object.fromEntries(attention.namedParameters().map(([name, p]) => [name, p.shape]));
    expect(shapes).toEqual({ q_proj_weight: [4, 4], k_proj_weight: [4, 3], v_proj_weight: [4, 5], 'out_proj.weight': [4, 4] });
  });

  test('initialisation follows PyTorch', () => {
    const attention = new MultiheadAttention(8, 2, { seed: 1 });
    const inProjection = Array.from(attention.stateDict().in_proj_weight.toTypedArray());
    const xavierBound = Math.sqrt(6 / (8 + 24));
    expect(Math.max(...inProjection.map(Math.abs))).toBeLessThanOrEqual(xavierBound);
    expect(Math.max(...inProjection.map(Math.abs))).toBeGreaterThan(0.8 * xavierBound);

    const outProjection = Array.from(attention.outProj.weight.toTypedArray());
    expect(Math.max(...outProjection.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(Array.from(attention.stateDict().in_proj_bias.toTypedArray())).toEqual(new Array(24).fill(0));
    expect(Array.from(attention.stateDict()['out_proj.bias'].toTypedArray())).toEqual(new Array(8).fill(0));
  });

  test('same seed gives the same weights', () => {
    const first = new MultiheadAttention(4, 2, { seed: 7 }).stateDict().in_proj_weight.toArray();
    const second = new MultiheadAttention(4, 2, { seed: 7 }).stateDict().in_proj_weight.toArray();
    expect(first).toEqual(second);
  });

  test('invalid settings are rejected', () => {
    expect(() => new MultiheadAttention(6, 4)).toThrow('embedDim 6 must be divisible by numHeads 4');
    expect(() => new MultiheadAttention(4, 0)).toThrow('numHeads must be a positive integer, got 0');
    expect(() => new MultiheadAttention(4, 2, { dropout: 1.5 })).toThrow('dropout must be in [0, 1], got 1.5');
  });

  test('describe lists the settings', () => {
    expect(new MultiheadAttention(4, 2, { batchFirst: true }).describe()).toBe('embedDim=4, numHeads=2, dropout=0, bias=true, batchFirst=true');
  });
});

describe('MultiheadAttention against PyTorch', () => {
  const names = ['attentionSelfSequenceFirst', 'attentionCrossMasksBatchFirst', 'attentionBooleanMaskPerHead', 'attentionCausalWithPadding', 'attentionKdimVdimNoBias'];

  test.each(names)('%s', (name) => {
    const reference = cases[name];
    const config = reference.config as { embedDim: number; numHeads: number; batchFirst: boolean; kdim?: number; vdim?: number; bias?: boolean };
    const attention = float64Attention(config.embedDim, config.numHeads, { batchFirst: config.batchFirst, kdim: config.kdim, vdim: config.vdim, bias: config.bias });
    attention.loadStateDict(unpackState(reference.state));

    // The self-attention cases pass one tensor as query, key and value, as the script does.
    const sameInput = JSON.stringify(reference.inputs.query) === JSON.stringify(reference.inputs.key);
    const query = unpack(reference.inputs.query, true);
    const key = sameInput ? query : unpack(reference.inputs.key, true);
    const value = sameInput ? query : unpack(reference.inputs.value, true);
    const attnMask = reference.inputs.attnMask ? unpack(reference.inputs.attnMask, true) : reference.boolAttnMask ?? undefined;

    const { output, weights } = attention.forward(query, key, value, {
      keyPaddingMask: reference.keyPaddingMask ?? undefined,
      attnMask,
      isCausal: reference.causal,
      averageAttnWeights: reference.averageAttnWeights,
    });
    expectMatches(output, reference.output, `${name} output`);
    expectMatches(weights, reference.weights!, `${name} weights`);

    const loss = sum(mul(output, unpack(reference.gradOutput))).add(sum(mul(weights!, unpack(reference.gradWeights!))));
    const targets: Array<[string, Tensor]> = [...attention.namedParameters(), ['query', query]];
    if (!sameInput) targets.push(['key', key], ['value', value]);
    if (attnMask instanceof Tensor) targets.push(['attnMask', attnMask]);
    const grads = grad(loss, targets.map(([, t]) => t));
    targets.forEach(([label], i) => expectMatches(grads[i], reference.grads[label], `${name} gradient of ${label}`));
  });
});

describe('MultiheadAttention forward', () => {
  const attention = float64Attention(4, 2, { batchFirst: true });
  const x = randn([2, 3, 4], { dtype: 'float64', seed: 11 });

  test('output and weight shapes', () => {
    const averaged = attention.forward(x, x, x);
    expect(averaged.output.shape).toEqual([2, 3, 4]);
    expect(averaged.weights?.shape).toEqual([2, 3, 3]);
    const perHead = attention.forward(x, x, x, { averageAttnWeights: false });
    expect(perHead.weights?.shape).toEqual([2, 2, 3, 3]);
    expect(attention.forward(x, x, x, { needWeights: false }).weights).toBeNull();
  });

  test('weights of each query sum to one', () => {
    const weights = attention.forward(x, x, x).weights!;
    const rowSums = Array.from(sum(weights, -1).toTypedArray());
    rowSums.forEach((value) => expect(value).toBeCloseTo(1, 12));
  });

  test('unbatched input matches a batch of one', () => {
    const single = x.slice(0);
    const unbatched = attention.forward(single, single, single, { keyPaddingMask: [false, false, true], isCausal: true });
    const batched = attention.forward(single.unsqueeze(0), single.unsqueeze(0), single.unsqueeze(0), { keyPaddingMask: [[false, false, true]], isCausal: true });
    expect(unbatched.output.shape).toEqual([3, 4]);
    expect(unbatched.weights?.shape).toEqual([3, 3]);
    expect(unbatched.output.toArray()).toEqual(batched.output.squeeze(0).toArray());
    expect(unbatched.weights?.toArray()).toEqual(batched.weights?.squeeze(0).toArray());
  });

  test('sequence-first layout matches batch-first', () => {
    const sequenceFirst = float64Attention(4, 2, { batchFirst: false });
    sequenceFirst.loadStateDict(attention.stateDict());
    const xt = x.transpose(0, 1);
    const expected = attention.forward(x, x, x).output.transpose(0, 1).toArray();
    expect(sequenceFirst.forward(xt, xt, xt).output.toArray()).toEqual(expected);
  });

  test('isCausal equals the causal mask', () => {
    const viaFlag = attention.forward(x, x, x, { isCausal: true });
    const viaMask = attention.forward(x, x, x, { attnMask: causalMask(3, 3, { dtype: 'float64' }) });
    expect(viaFlag.output.toArray()).toEqual(viaMask.output.toArray());
    const weights = viaFlag.weights!.toArray() as number[][][];
    expect(weights[0][0].slice(1)).toEqual([0, 0]);
    expect(weights[1][1][2]).toBe(0);
  });

  test('boolean mask equals the additive mask', () => {
    const blocked = [[false, true, false], [false, false, true], [true, false, false]];
    const additive = tensor(blocked.map((row) => row.map((b) => (b ? -Infinity : 0))), { dtype: 'float64' });
    const viaBooleans = attention.forward(x, x, x, { attnMask: blocked }).output.toArray();
    expect(viaBooleans).toEqual(attention.forward(x, x, x, { attnMask: additive }).output.toArray());
  });

  test('0/1 padding tensor equals booleans', () => {
    const viaTensor = attention.forward(x, x, x, { keyPaddingMask: tensor([[0, 0, 1], [0, 1, 1]]) }).output.toArray();
    const viaBooleans = attention.forward(x, x, x, { keyPaddingMask: [[false, false, true], [false, true, true]] }).output.toArray();
    expect(viaTensor).toEqual(viaBooleans);
  });

  test('causalMask table', () => {
    expect(causalMask(3).toArray()).toEqual([[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]);
    expect(causalMask(2, 3).toArray()).toEqual([[0, -Infinity, -Infinity], [0, 0, -Infinity]]);
    expect(causalMask(2, 2, { dtype: 'float64' }).dtype).toBe('float64');
  });
});

describe('MultiheadAttention fully masked query', () => {
  test('gives zero weights and no NaN', () => {
    const attention = float64Attention(4, 2, { batchFirst: true });
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 5, requiresGrad: true });
    const blocked = [[true, true, true], [false, false, false], [false, true, false]];
    const { output, weights } = attention.forward(x, x, x, { attnMask: blocked });

    const rows = weights!.toArray() as number[][][];
    expect(rows[0][0]).toEqual([0, 0, 0]);
    expect(rows[1][0]).toEqual([0, 0, 0]);
    expect(rows[0][1].reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect((output.toArray() as number[][][])[0][0]).toEqual([0, 0, 0, 0]);
    expect(Array.from(output.toTypedArray()).every(Number.isFinite)).toBe(true);

    const grads = grad(sum(output), [x, ...attention.parameters()]);
    grads.forEach((g) => expect(Array.from(g!.toTypedArray()).every(Number.isFinite)).toBe(true));
  });
});

describe('MultiheadAttention input checks', () => {
  const attention = float64Attention(4, 2);
  const x = randn([3, 2, 4], { dtype: 'float64', seed: 1 });

  test('mismatched shapes are named', () => {
    const wrong = randn([3, 2, 5], { dtype: 'float64', seed: 1 });
    expect(() => attention.forward(x, wrong, wrong)).toThrow('query [3, 2, 4], key [3, 2, 5], value [3, 2, 5] do not fit the layout [L, N, E]');
    expect(() => attention.forward(x, x.slice(0), x)).toThrow('must all be 3-D (batched) or all 2-D (unbatched)');
  });

  test('mask shapes are checked', () => {
    expect(() => attention.forward(x, x, x, { attnMask: causalMask(2, 3, { dtype: 'float64' }) })).toThrow('attnMask has shape [2, 3] but must be [3, 3] or [4, 3, 3]');
    expect(() => attention.forward(x, x, x, { keyPaddingMask: [[false, false, false]] })).toThrow('keyPaddingMask has shape [1, 3] but must be [2, 3]');
  });

  test('mask values are checked', () => {
    expect(() => attention.forward(x, x, x, { keyPaddingMask: tensor([[0, 0, -Infinity], [0, 0, 0]]) })).toThrow('keyPaddingMask must hold only 0 and 1');
    expect(() => attention.forward(x, x, x, { attnMask: [[0, 1, 0], [0, 0, 0], [0, 0, 0]] })).toThrow('attnMask given as arrays must hold booleans');
    expect(() => attention.forward(x, x, x, { attnMask: [[false, true], [false]] })).toThrow('ragged');
  });
});

describe('MultiheadAttention dropout', () => {
  test('is seeded and off in eval mode', () => {
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 2 });
    const run = (training: boolean) => {
      const attention = float64Attention(4, 2, { dropout: 0.5, batchFirst: true });
      attention.train(training);
      return attention.forward(x, x, x).weights!.toArray();
    };
    expect(run(true)).toEqual(run(true));
    expect(run(true)).not.toEqual(run(false));
    const evalWeights = run(false) as number[][][];
    evalWeights.flat().forEach((row) => expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 12));
  });
});

describe('MultiheadAttention gradients', () => {
  const attention = float64Attention(4, 2, { batchFirst: true });
  const [inProjection, inBias, outWeight, outBias] = attention.parameters();
  const padding = [[false, false, true], [false, false, false]];
  const additive = randn([3, 3], { dtype: 'float64', seed: 9, requiresGrad: true });

  test('gradcheck with masks', () => {
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 4, requiresGrad: true });
    const f = (input: Tensor, mask: Tensor, w: Tensor, b: Tensor, ow: Tensor, ob: Tensor) => {
      const params = { in_proj_weight: w, in_proj_bias: b, 'out_proj.weight': ow, 'out_proj.bias': ob };
      const { output, weights } = functionalCall(attention, params, input, input, input, { keyPaddingMask: padding, attnMask: mask, isCausal: true });
      return [output, weights!];
    };
    expect(gradcheck(f, [x, additive, inProjection, inBias, outWeight, outBias])).toBe(true);
  });

  test('gradcheck of cross-attention', () => {
    const query = randn([2, 2, 4], { dtype: 'float64', seed: 6, requiresGrad: true });
    const memory = randn([2, 3, 4], { dtype: 'float64', seed: 7, requiresGrad: true });
    const f = (q: Tensor, kv: Tensor) => attention.forward(q, kv, kv, { keyPaddingMask: padding, averageAttnWeights: false }).output;
    expect(gradcheck(f, [query, memory])).toBe(true);
  });

  test('gradgradcheck through attention', () => {
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 8, requiresGrad: true });
    const f = (input: Tensor, w: Tensor) => functionalCall(attention, { in_proj_weight: w }, input, input, input, { keyPaddingMask: padding }).output;
    expect(gradgradcheck(f, [x, inProjection])).toBe(true);
  });
});

describe('MultiheadAttention functionalCall', () => {
  test('matches the module and propagates gradients', () => {
    const attention = float64Attention(4, 2, { batchFirst: true });
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 12 });
    const replacement = Object.fromEntries(attention.namedParameters().map(([name, p]) => [name, p.mul(1).detach().requiresGrad_(true)]));

    const direct = attention.forward(x, x, x, { isCausal: true }).output;
    const functional = functionalCall(attention, replacement, x, x, x, { isCausal: true }).output;
    expect(functional.toArray()).toEqual(direct.toArray());

    const moduleGrads = grad(sum(direct.square()), attention.parameters());
    const functionalGrads = grad(sum(functional.square()), Object.values(replacement));
    functionalGrads.forEach((g, i) => expect(g!.toArray()).toEqual(moduleGrads[i]!.toArray()));
    expect(attention.stateDict().in_proj_weight).toBe(attention.parameters()[0]);
  });
});
