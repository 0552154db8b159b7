import { Generator, type Tensor, gradcheck, noGrad, tensor } from '@metagrad/autodiff';
import { Adam, crossEntropy, functionalCall, transformerClassifier } from '@metagrad/models';

const settings = { vocabSize: 6, dModel: 16, nhead: 2, numLayers: 2, dimFeedforward: 32, maxLen: 6, numClasses: 3, dropout: 0, seed: 1 };

/** Sequences of 1 to 6 tokens in 1..5, padded with 0, labelled by their first token's class. */
function dataset(count: number, seed: number): { tokens: number[][]; labels: number[] } {
  const generator = new Generator(seed);
  const tokens: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const length = generator.integer(1, 7);
    const row = Array.from({ length: 6 }, (_, position) => (position < length ? generator.integer(1, 6) : 0));
    tokens.push(row);
    labels.push(row[0] % 3);
  }
  return { tokens, labels };
}

describe('transformerClassifier', () => {
  test('names and shapes', () => {
    const model = transformerClassifier(settings);
    const names = model.namedParameters().map(([name]) => name);
    expect(names.slice(0, 4)).toEqual(['cls_token', 'token_embedding.weight', 'position_embedding.weight', 'encoder.layers.0.self_attn.in_proj_weight']);
    expect(names).toContain('encoder.layers.1.norm2.bias');
    expect(names.slice(-2)).toEqual(['head.weight', 'head.bias']);
    expect(model.stateDict()['position_embedding.weight'].shape).toEqual([7, 16]);
    expect(model.forward([[1, 2, 0], [3, 0, 0]]).shape).toEqual([2, 3]);
  });

  test('padding changes no logits', () => {
    const model = transformerClassifier({ ...settings, dropout: 0.3 }).eval();
    const short = model.forward([[3, 4]]).toArray() as number[][];
    const padded = model.forward([[3, 4, 0, 0, 0, 0]]).toArray() as number[][];
    padded[0].forEach((value, i) => expect(value).toBeCloseTo(short[0][i], 5));
  });

  test('takes a token tensor', () => {
    const model = transformerClassifier(settings);
    const fromArrays = model.forward([[1, 2, 3]]).toArray();
    expect(model.forward(tensor([[1, 2, 3]])).toArray()).toEqual(fromArrays);
  });

  test('rejects invalid tokens', () => {
    const model = transformerClassifier(settings);
    expect(() => model.forward([[1, 9]])).toThrow('token 9 at [0, 1] is not an id in [0, 5]');
    expect(() => model.forward([[1, 2], [1]])).toThrow('sequence 1 has 1 tokens but sequence 0 has 2; pad them to one length');
    expect(() => model.forward([[1, 1, 1, 1, 1, 1, 1]])).toThrow("sequences of 7 tokens are longer than the model's maximum of 6");
  });

  test('is seeded', () => {
    const first = transformerClassifier(settings).forward([[1, 2]]).toArray();
    expect(transformerClassifier(settings).forward([[1, 2]]).toArray()).toEqual(first);
    expect(transformerClassifier({ ...settings, seed: 2 }).forward([[1, 2]]).toArray()).not.toEqual(first);
  });

  test('fits a small problem', () => {
    const { tokens, labels } = dataset(24, 3);
    const model = transformerClassifier(settings);
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    let loss = Infinity;
    for (let step = 0; step < 60 && loss > 0.01; step++) {
      optimizer.zeroGrad();
      const value = crossEntropy(model.forward(tokens), labels);
      value.backward();
      optimizer.step();
      loss = value.item();
    }
    expect(loss).toBeLessThan(0.01);

    const predictions = noGrad(() => model.forward(tokens).argmax(1).toArray()) as number[];
    expect(predictions).toEqual(labels);
  });

  test('pre-norm layers end with a final norm', () => {
    const model = transformerClassifier({ ...settings, normFirst: true });
    const names = model.namedParameters().map(([name]) => name);
    expect(names).toContain('encoder.norm.weight');
    expect(names.slice(-4)).toEqual(['encoder.norm.weight', 'encoder.norm.bias', 'head.weight', 'head.bias']);
    expect(model.encoder.layers.at(0).normFirst).toBe(true);
    expect(model.forward([[1, 2, 0], [3, 0, 0]]).shape).toEqual([2, 3]);
    expect(model.describe()).toContain('normFirst=true');
    expect(transformerClassifier(settings).namedParameters().map(([name]) => name)).not.toContain('encoder.norm.weight');
  });

  test('gradcheck of a pre-norm classifier', () => {
    const model = transformerClassifier({ ...settings, dModel: 4, dimFeedforward: 6, numLayers: 1, readout: 'cls+mean', normFirst: true, dtype: 'float64' });
    const state = model.stateDict();
    const picked = ['encoder.layers.0.self_attn.in_proj_weight', 'encoder.layers.0.norm1.weight', 'encoder.norm.weight'];
    const inputs = picked.map((name) => state[name].mul(1).detach().requiresGrad_(true));
    const f = (...weights: Tensor[]) => functionalCall(model, Object.fromEntries(picked.map((name, i) => [name, weights[i]])), [[1, 2, 0], [3, 4, 5]]);
    expect(gradcheck(f, inputs)).toBe(true);
  });
});
