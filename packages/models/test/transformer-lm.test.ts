import { isGradEnabled, noGrad } from '@metagrad/autodiff';
import { Adam, crossEntropy, transformerLM } from '@metagrad/models';

const alphabet = 'abcdefgh ';
const encode = (text: string) => Array.from(text, (character) => alphabet.indexOf(character));
const decode = (ids: number[]) => ids.map((id) => alphabet[id]).join('');
const settings = { vocabSize: alphabet.length, dModel: 16, nhead: 2, numLayers: 2, contextLength: 8, dropout: 0, seed: 1 };

/** Windows of a repeating text, each paired with the same window shifted by one character. */
function windows(text: string, length: number): { inputs: number[][]; targets: number[] } {
  const ids = encode(text);
  const inputs: number[][] = [];
  const targets: number[] = [];
  for (let start = 0; start + length < ids.length; start++) {
    inputs.push(ids.slice(start, start + length));
    targets.push(...ids.slice(start + 1, start + length + 1));
  }
  return { inputs, targets };
}

describe('transformerLM', () => {
  test('names and shapes', () => {
    const model = transformerLM(settings);
    const names = model.namedParameters().map(([name]) => name);
    expect(names.slice(0, 3)).toEqual(['token_embedding.weight', 'position_embedding.weight', 'blocks.0.self_attn.in_proj_weight']);
    expect(names.slice(-4)).toEqual(['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
    expect(model.forward([[1, 2, 3]]).shape).toEqual([1, 3, alphabet.length]);
    expect(() => model.forward([new Array(9).fill(0)])).toThrow("sequences of 9 tokens are longer than the model's maximum of 8");
  });

  test('logits depend on earlier tokens only', () => {
    const model = transformerLM(settings);
    const original = model.forward([[1, 2, 3, 4]]).toArray() as number[][][];
    const changed = model.forward([[1, 2, 3, 7]]).toArray() as number[][][];
    expect(changed[0].slice(0, 3)).toEqual(original[0].slice(0, 3));
    expect(changed[0][3]).not.toEqual(original[0][3]);
  });

  test('fits a repeating text', () => {
    const { inputs, targets } = windows('abcdefgh '.repeat(4), 8);
    const model = transformerLM(settings);
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    let loss = Infinity;
    for (let step = 0; step < 80 && loss > 0.01; step++) {
      optimizer.zeroGrad();
      const value = crossEntropy(model.forward(inputs).reshape([-1, alphabet.length]), targets);
      value.backward();
      optimizer.step();
      loss = value.item();
    }
    expect(loss).toBeLessThan(0.01);

    // The prompt plus 12 tokens is longer than the context, so generation crops its input.
    const continuation = decode(model.generate(encode('cde'), { maxTokens: 12, temperature: 0 }));
    expect(continuation).toBe('fgh abcdefgh');
  });
});

describe('TransformerLM.generate', () => {
  const model = transformerLM(settings);
  const prompt = encode('abc');

  test('is deterministic for a seed', () => {
    const first = model.generate(prompt, { maxTokens: 10, seed: 4 });
    expect(model.generate(prompt, { maxTokens: 10, seed: 4 })).toEqual(first);
    expect(model.generate(prompt, { maxTokens: 10, seed: 5 })).not.toEqual(first);
  });

  test('returns maxTokens new ids', () => {
    expect(model.generate(prompt, { maxTokens: 0 })).toEqual([]);
    const tokens = model.generate(prompt, { maxTokens: 20, seed: 1 });
    expect(tokens).toHaveLength(20);
    tokens.forEach((id) => expect(id >= 0 && id < alphabet.length).toBe(true));
  });

  test('topK 1 is greedy', () => {
    const greedy = model.generate(prompt, { maxTokens: 6, temperature: 0 });
    expect(model.generate(prompt, { maxTokens: 6, topK: 1, seed: 9 })).toEqual(greedy);
  });

  test('samples within the top k', () => {
    const topK = 2;
    const tokens = model.generate(prompt, { maxTokens: 12, topK, temperature: 2, seed: 3 });
    const context = prompt.slice();
    for (const token of tokens) {
      const logits = Array.from(noGrad(() => model.forward([context.slice(-8)]).slice(0, -1).toTypedArray()));
      const threshold = logits.slice().sort((a, b) => b - a)[topK - 1];
      expect(logits[token]).toBeGreaterThanOrEqual(threshold);
      context.push(token);
    }
  });

  test('runs without dropout and restores the mode', () => {
    const noisy = transformerLM({ ...settings, dropout: 0.5 });
    expect(noisy.training).toBe(true);
    const inTraining = noisy.generate(prompt, { maxTokens: 8, seed: 2 });
    expect(noisy.training).toBe(true);
    expect(noisy.blocks.at(0).dropout.training).toBe(true);
    expect(noisy.eval().generate(prompt, { maxTokens: 8, seed: 2 })).toEqual(inTraining);
    expect(isGradEnabled()).toBe(true);
  });

  test('rejects invalid options', () => {
    expect(() => model.generate([], { maxTokens: 1 })).toThrow('the prompt needs at least one token');
    expect(() => model.generate(prompt, { maxTokens: -1 })).toThrow('maxTokens must be a non-negative integer, got -1');
    expect(() => model.generate(prompt, { maxTokens: 1, temperature: -1 })).toThrow('temperature must be a finite number >= 0, got -1');
    expect(() => model.generate(prompt, { maxTokens: 1, topK: 0 })).toThrow('topK must be a positive integer, got 0');
    expect(() => model.generate([99], { maxTokens: 1 })).toThrow('token 99 at [0, 0] is not an id in [0, 8]');
  });
});
