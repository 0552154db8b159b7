import { type Tensor, tensor } from '@metagrad/autodiff';
import { Adam, crossEntropy, lstmClassifier } from '@metagrad/models';

describe('lstmClassifier', () => {
  test('parameter names and shapes with the default sizes', () => {
    const model = lstmClassifier({ numClasses: 3 });
    const shapes = Object.fromEntries(model.namedParameters().map(([name, p]) => [name, p.shape]));
    expect(shapes).toEqual({
      'embedding.weight': [10000, 64],
      'lstm.weight_ih_l0': [256, 64], 'lstm.weight_hh_l0': [256, 64], 'lstm.bias_ih_l0': [256], 'lstm.bias_hh_l0': [256],
      'lstm.weight_ih_l1': [256, 64], 'lstm.weight_hh_l1': [256, 64], 'lstm.bias_ih_l1': [256], 'lstm.bias_hh_l1': [256],
      'head.weight': [3, 64], 'head.bias': [3],
    });
    expect(Array.from(model.embedding.weight.narrow(0, 0, 1).toTypedArray()).every((value) => value === 0)).toBe(true);
  });

  test('dropout changes training outputs only', () => {
    const tokens = [[5, 9, 2, 4], [7, 1, 3, 0]];
    const plain = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, seed: 3 });
    const withDropout = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dropout: 0.5, seed: 3 });
    const expected = Array.from(plain.forward(tokens).toTypedArray());

    withDropout.train();
    expect(Array.from(withDropout.forward(tokens).toTypedArray())).not.toEqual(expected);
    withDropout.eval();
    expect(Array.from(withDropout.forward(tokens).toTypedArray())).toEqual(expected);
  });

  test.each([[-0.1], [1], [Number.NaN], ['0.2']])('rejects dropout %p', (dropout) => {
    expect(() => lstmClassifier({ numClasses: 2, dropout: dropout as number })).toThrow('lstmClassifier: dropout must be a number of at least 0 and below 1');
  });

  test('dropout keeps parameter names', () => {
    const names = (dropout: number) => lstmClassifier({ numClasses: 2, dropout }).namedParameters().map(([name]) => name);

    expect(names(0.3)).toEqual(names(0));
  });

  test('trailing padding changes nothing', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dtype: 'float64', seed: 3 });
    const padded = model.forward([[5, 9, 2, 0, 0], [7, 1, 0, 0, 0]]);
    const first = model.forward([[5, 9, 2]]);
    const second = model.forward([[7, 1]]);
    expect(Array.from(padded.toTypedArray())).toEqual([...first.toTypedArray(), ...second.toTypedArray()]);
  });

  test('explicit lengths and token tensors', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dtype: 'float64', seed: 3 });
    const tokens = tensor([[5, 9, 2, 4], [7, 1, 3, 3]]);
    const cut = model.forward(tokens, { lengths: [3, 2] });
    const inferred = model.forward([[5, 9, 2, 0], [7, 1, 0, 0]]);
    expect(Array.from(cut.toTypedArray())).toEqual(Array.from(inferred.toTypedArray()));
  });

  test('a row of padding only is rejected', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2 });
    expect(() => model.forward([[3, 4], [0, 0]])).toThrow('LSTMClassifier: sequence 1 contains only padding (id 0); give it at least one token');
  });

  test('fits a tiny problem', () => {
    // The class is whether token 1 occurs anywhere in the sequence.
    const sequences = [
      [1, 4, 5, 0], [3, 1, 0, 0], [6, 7, 1, 2], [1, 0, 0, 0],
      [4, 5, 6, 0], [3, 2, 0, 0], [6, 7, 4, 2], [5, 0, 0, 0],
    ];
    const labels = [1, 1, 1, 1, 0, 0, 0, 0];
    const model = lstmClassifier({ vocabSize: 8, embedDim: 8, hiddenSize: 8, numClasses: 2, seed: 1 });
    const optimizer = new Adam(model.parameters(), { lr: 0.03 });

    let loss: Tensor | undefined;
    for (let step = 0; step < 150; step++) {
      optimizer.zeroGrad();
      loss = crossEntropy(model.forward(sequences), labels);
      loss.backward();
      optimizer.step();
    }
    expect(loss!.item()).toBeLessThan(0.01);
  });
});
