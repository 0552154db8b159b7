import type { Tensor } from '@metagrad/autodiff';
import { type Module, crossEntropy, lstmClassifier, transformerClassifier } from '@metagrad/models';

/** Returns the loss of `logits` against `labels` and every parameter's gradient, by name. */
function lossAndGradients(model: Module, logits: () => Tensor, labels: number[]): { loss: number; grads: Map<string, number[]> } {
  model.zeroGrad();
  const loss = crossEntropy(logits(), labels, { reduction: 'sum' });
  loss.backward();
  const grads = new Map(model.namedParameters().map(([name, p]): [string, number[]] => [name, p.grad ? Array.from(p.grad.toTypedArray()) : []]));
  return { loss: loss.item(), grads };
}

/** Asserts that two gradient maps agree parameter by parameter within `tolerance`. */
function expectSameGradients(actual: Map<string, number[]>, expected: Map<string, number[]>, tolerance: number): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, values] of expected) {
    const other = actual.get(name)!;
    expect(other).toHaveLength(values.length);
    const worst = values.reduce((max, value, i) => Math.max(max, Math.abs(value - other[i])), 0);
    expect({ name, worst: worst <= tolerance }).toEqual({ name, worst: true });
  }
}

/** Adds the gradients of several runs, parameter by parameter. */
function addGradients(runs: Array<Map<string, number[]>>): Map<string, number[]> {
  const total = new Map<string, number[]>();
  for (const run of runs) {
    for (const [name, values] of run) {
      const sum = total.get(name) ?? new Array<number>(values.length).fill(0);
      total.set(name, sum.map((value, i) => value + (values[i] ?? 0)));
    }
  }
  return total;
}

describe('classifier padding', () => {
  test('LSTM gradients ignore trailing padding', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dtype: 'float64', seed: 3 });
    const padded = lossAndGradients(model, () => model.forward([[5, 9, 2, 0, 0], [7, 1, 0, 0, 0]]), [1, 0]);
    const first = lossAndGradients(model, () => model.forward([[5, 9, 2]]), [1]);
    const second = lossAndGradients(model, () => model.forward([[7, 1]]), [0]);

    expect(padded.loss).toBeCloseTo(first.loss + second.loss, 12);
    expectSameGradients(padded.grads, addGradients([first.grads, second.grads]), 1e-12);
  });

  test('LSTM ignores tokens past the lengths', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dtype: 'float64', seed: 4 });
    const clean = lossAndGradients(model, () => model.forward([[5, 9, 0, 0], [7, 1, 3, 0]], { lengths: [2, 3] }), [1, 0]);
    const noisy = lossAndGradients(model, () => model.forward([[5, 9, 11, 12], [7, 1, 3, 19]], { lengths: [2, 3] }), [1, 0]);

    expect(noisy.loss).toBe(clean.loss);
    expectSameGradients(noisy.grads, clean.grads, 0);
  });

  test('LSTM padding embedding gets no gradient', () => {
    const model = lstmClassifier({ vocabSize: 20, embedDim: 4, hiddenSize: 5, numClasses: 2, dtype: 'float64', seed: 5 });
    const { grads } = lossAndGradients(model, () => model.forward([[5, 9, 2, 0, 0]]), [1]);

    expect(grads.get('embedding.weight')!.slice(0, 4)).toEqual([0, 0, 0, 0]);
  });

  test.each([
    ['cls', false],
    ['mean', false],
    ['cls+mean', false],
    ['cls+mean', true],
  ] as const)('Transformer %s readout ignores padding, normFirst %s', (readout, normFirst) => {
    const settings = { vocabSize: 12, dModel: 8, nhead: 2, numLayers: 2, dimFeedforward: 16, maxLen: 6, numClasses: 3, dropout: 0, readout, normFirst, dtype: 'float64' as const, seed: 2 };
    const model = transformerClassifier(settings);
    const padded = lossAndGradients(model, () => model.forward([[3, 4, 0, 0, 0, 0], [5, 6, 7, 8, 0, 0]]), [2, 1]);
    const first = lossAndGradients(model, () => model.forward([[3, 4]]), [2]);
    const second = lossAndGradients(model, () => model.forward([[5, 6, 7, 8]]), [1]);

    expect(padded.loss).toBeCloseTo(first.loss + second.loss, 10);
    expectSameGradients(padded.grads, addGradients([first.grads, second.grads]), 1e-10);
  });

  test('Transformer rejects an unknown readout', () => {
    const settings = { vocabSize: 12, dModel: 8, nhead: 2, numLayers: 1, maxLen: 6, numClasses: 3, readout: 'max' as 'mean' };
    expect(() => transformerClassifier(settings)).toThrow("invalid readout 'max'; use one of cls, mean, cls+mean");
  });
});
