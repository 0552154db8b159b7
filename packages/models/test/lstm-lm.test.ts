import { lstmLM } from '@metagrad/models';

const tokens = [
  [1, 2, 3, 4, 5, 6],
  [6, 5, 4, 3, 2, 1],
];

describe('lstmLM', () => {
  test('logits shape and state', () => {
    const model = lstmLM({ vocabSize: 7, embedDim: 4, hiddenSize: 8, numLayers: 2, seed: 1 });
    const { logits, state } = model.run(tokens, null);

    expect(logits.shape).toEqual([2, 6, 7]);
    expect(state.hidden.shape).toEqual([2, 2, 8]);
    expect(state.cell.shape).toEqual([2, 2, 8]);
  });

  test('dropout changes training outputs only', () => {
    const plain = lstmLM({ vocabSize: 7, embedDim: 4, hiddenSize: 8, numLayers: 2, seed: 1 });
    const withDropout = lstmLM({ vocabSize: 7, embedDim: 4, hiddenSize: 8, numLayers: 2, dropout: 0.5, seed: 1 });
    const expected = Array.from(plain.forward(tokens).toTypedArray());

    withDropout.train();
    expect(Array.from(withDropout.forward(tokens).toTypedArray())).not.toEqual(expected);
    withDropout.eval();
    expect(Array.from(withDropout.forward(tokens).toTypedArray())).toEqual(expected);
  });

  test('dropout keeps the parameter names', () => {
    const names = (dropout: number) => lstmLM({ vocabSize: 7, hiddenSize: 8, dropout, seed: 1 }).namedParameters().map(([name]) => name);

    expect(names(0.3)).toEqual(names(0));
  });
});
