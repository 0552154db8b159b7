import { Tensor, grad, gradcheck, gradgradcheck, mul, randn, sum } from '@metagrad/autodiff';
import {
  CausalDecoderBlock, LayerNorm, TransformerEncoder, TransformerEncoderLayer, type TransformerEncoderLayerOptions, functionalCall,
  parseSafetensors, serializeSafetensors,
} from '@metagrad/models';
import { expectMatches, referenceCases, unpack, unpackState } from './attention-reference';

const cases = referenceCases();

interface EncoderConfig {
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  layerNormEps: number;
  activation: 'relu' | 'gelu';
  batchFirst: boolean;
  normFirst: boolean;
  numLayers: number | null;
}

function layerOptions(config: EncoderConfig): TransformerEncoderLayerOptions {
  return {
    dimFeedforward: config.dimFeedforward, dropout: 0, activation: config.activation, layerNormEps: config.layerNormEps,
    batchFirst: config.batchFirst, normFirst: config.normFirst, dtype: 'float64',
  };
}

function tinyLayer(options: TransformerEncoderLayerOptions = {}): TransformerEncoderLayer {
  return new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, dtype: 'float64', seed: 1, ...options });
}

describe('TransformerEncoderLayer parameters', () => {
  test('names match PyTorch', () => {
    const names = Object.keys(tinyLayer().stateDict());
    expect(names).toEqual(Object.keys(cases.encoderPostNormRelu.state));
  });

  test('encoder names match PyTorch', () => {
    const encoder = new TransformerEncoder(tinyLayer(), 2, { norm: new LayerNorm(4) });
    expect(Object.keys(encoder.stateDict())).toEqual(Object.keys(cases.encoderStackWithNorm.state));
  });

  test('defaults follow PyTorch', () => {
    const layer = new TransformerEncoderLayer(8, 2);
    expect(layer.linear1.outFeatures).toBe(2048);
    expect(layer.dropout.p).toBe(0.1);
    expect(layer.selfAttn.dropout).toBe(0.1);
    expect(layer.norm1.eps).toBe(1e-5);
    expect(layer.normFirst).toBe(false);
    expect(layer.batchFirst).toBe(false);
    expect(layer.describe()).toBe('dModel=8, nhead=2, activation=relu, normFirst=false, batchFirst=false');
  });

  test('layer copies start equal', () => {
    const encoder = new TransformerEncoder(tinyLayer(), 3);
    const [first, second, third] = [0, 1, 2].map((i) => encoder.layers.at(i).stateDict()['linear1.weight'].toArray());
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(encoder.layers.at(0).parameters()[0]).not.toBe(encoder.layers.at(1).parameters()[0]);
  });

  test('factory layers start different', () => {
    const encoder = new TransformerEncoder((index) => tinyLayer({ seed: index }), 2);
    const [first, second] = [0, 1].map((i) => encoder.layers.at(i).stateDict()['linear1.weight'].toArray());
    expect(second).not.toEqual(first);
  });

  test('clone keeps the class', () => {
    const block = new CausalDecoderBlock(4, 2, { dimFeedforward: 6, dtype: 'float64' });
    const copy = block.clone();
    expect(copy).toBeInstanceOf(CausalDecoderBlock);
    expect(copy.normFirst).toBe(true);
    expect(copy.stateDict()['self_attn.in_proj_weight'].toArray()).toEqual(block.stateDict()['self_attn.in_proj_weight'].toArray());
  });

  test('invalid settings are rejected', () => {
    expect(() => new TransformerEncoder(tinyLayer(), 0)).toThrow('numLayers must be a positive integer, got 0');
    expect(() => tinyLayer({ activation: 'tanh' as 'relu' })).toThrow("activation must be 'relu', 'gelu' or a function, got 'tanh'");
  });
});

describe('TransformerEncoderLayer against PyTorch', () => {
  test.each(['encoderPostNormRelu', 'encoderPreNormGelu', 'encoderStackWithNorm', 'causalDecoderBlock'])('%s', (name) => {
    const reference = cases[name];
    const config = reference.config as unknown as EncoderConfig;
    let model: TransformerEncoderLayer | TransformerEncoder;
    if (config.numLayers !== null) {
      model = new TransformerEncoder(new TransformerEncoderLayer(config.dModel, config.nhead, layerOptions(config)), config.numLayers, {
        norm: new LayerNorm(config.dModel, { eps: config.layerNormEps, dtype: 'float64' }),
      });
    } else if (name === 'causalDecoderBlock') {
      model = new CausalDecoderBlock(config.dModel, config.nhead, layerOptions(config));
    } else {
      model = new TransformerEncoderLayer(config.dModel, config.nhead, layerOptions(config));
    }
    model.loadStateDict(unpackState(reference.state));

    const src = unpack(reference.inputs.src, true);
    const attnMask = reference.inputs.attnMask ? unpack(reference.inputs.attnMask, true) : undefined;
    const padding = reference.keyPaddingMask ?? undefined;
    const output = model instanceof TransformerEncoder
      ? model.forward(src, { mask: attnMask, srcKeyPaddingMask: padding, isCausal: reference.causal })
      : model.forward(src, { srcMask: attnMask, srcKeyPaddingMask: padding, isCausal: reference.causal });
    expectMatches(output, reference.output, `${name} output`);

    const targets: Array<[string, Tensor]> = [...model.namedParameters(), ['src', src]];
    if (attnMask) targets.push(['attnMask', attnMask]);
    const grads = grad(sum(mul(output, unpack(reference.gradOutput))), targets.map(([, t]) => t));
    targets.forEach(([label], i) => expectMatches(grads[i], reference.grads[label], `${name} gradient of ${label}`));
  });
});

describe('TransformerEncoder weight files', () => {
  test('PyTorch weights survive safetensors', () => {
    const reference = cases.encoderStackWithNorm;
    const config = reference.config as unknown as EncoderConfig;
    const build = () =>
      new TransformerEncoder(new TransformerEncoderLayer(config.dModel, config.nhead, layerOptions(config)), 2, {
        norm: new LayerNorm(config.dModel, { eps: config.layerNormEps, dtype: 'float64' }),
      });
    const bytes = serializeSafetensors(unpackState(reference.state), { source: 'attention_reference.py' });

    const model = build();
    model.loadStateDict(parseSafetensors(bytes).tensors);
    const output = model.forward(unpack(reference.inputs.src), { srcKeyPaddingMask: reference.keyPaddingMask ?? undefined });
    expectMatches(output, reference.output, 'output after a safetensors round trip');
  });
});

describe('CausalDecoderBlock', () => {
  test('later positions do not change earlier outputs', () => {
    const block = new CausalDecoderBlock(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, dtype: 'float64', seed: 2 });
    const x = randn([1, 4, 4], { dtype: 'float64', seed: 3 });
    const changed = x.detach().clone();
    changed.data.fill(7, 12, 16);

    const original = block.forward(x).toArray() as number[][][];
    const modified = block.forward(changed).toArray() as number[][][];
    expect(modified[0].slice(0, 3)).toEqual(original[0].slice(0, 3));
    expect(modified[0][3]).not.toEqual(original[0][3]);
  });

  test('defaults to GELU and pre-norm', () => {
    const block = new CausalDecoderBlock(4, 2);
    expect(block.describe()).toBe('dModel=4, nhead=2, activation=gelu, normFirst=true, batchFirst=false');
  });
});

describe('TransformerEncoderLayer dropout', () => {
  test('is seeded and off in eval mode', () => {
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 4 });
    const run = (training: boolean) => tinyLayer({ dropout: 0.5 }).train(training).forward(x).toArray();
    expect(run(true)).toEqual(run(true));
    expect(run(true)).not.toEqual(run(false));
    expect(run(false)).toEqual(tinyLayer({ dropout: 0 }).forward(x).toArray());
  });
});

describe('Transformer gradients', () => {
  const padding = [[false, false, true], [false, false, false]];

  test.each([['post-norm relu', {}], ['pre-norm gelu', { normFirst: true, activation: 'gelu' as const }]])('gradcheck %s layer', (_label, options) => {
    const layer = tinyLayer(options);
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 5, requiresGrad: true });
    const [inProjection] = layer.parameters();
    const norm = layer.norm1.weight!;
    const f = (input: Tensor, w: Tensor, gamma: Tensor) =>
      functionalCall(layer, { 'self_attn.in_proj_weight': w, 'norm1.weight': gamma }, input, { srcKeyPaddingMask: padding });
    expect(gradcheck(f, [x, inProjection, norm])).toBe(true);
  });

  test('gradcheck of a causal block', () => {
    const block = new CausalDecoderBlock(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, dtype: 'float64', seed: 6 });
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 7, requiresGrad: true });
    const linear = block.linear1.weight;
    const f = (input: Tensor, w: Tensor) => functionalCall(block, { 'linear1.weight': w }, input);
    expect(gradcheck(f, [x, linear])).toBe(true);
  });

  test('gradgradcheck through a layer', () => {
    const layer = tinyLayer({ normFirst: true, activation: 'gelu' });
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 8, requiresGrad: true });
    const f = (input: Tensor) => layer.forward(input, { srcKeyPaddingMask: padding });
    expect(gradgradcheck(f, [x])).toBe(true);
  });
});

describe('TransformerEncoderLayer functionalCall', () => {
  test('matches the module and propagates gradients', () => {
    const encoder = new TransformerEncoder((index) => tinyLayer({ seed: index }), 2);
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 9 });
    const replacement = Object.fromEntries(encoder.namedParameters().map(([name, p]) => [name, p.mul(1).detach().requiresGrad_(true)]));

    const direct = encoder.forward(x, { isCausal: true });
    const functional = functionalCall(encoder, replacement, x, { isCausal: true });
    expect(functional.toArray()).toEqual(direct.toArray());

    const moduleGrads = grad(sum(direct.square()), encoder.parameters());
    const functionalGrads = grad(sum(functional.square()), Object.values(replacement));
    functionalGrads.forEach((g, i) => expect(g!.toArray()).toEqual(moduleGrads[i]!.toArray()));
  });
});
