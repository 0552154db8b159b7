import { Generator, type Tensor, randn, tensor } from '@metagrad/autodiff';
import { Adam, crossEntropy, referenceCnn } from '@metagrad/models';
import { coreReference, decode, expectMatches } from './core-reference';

const reference = coreReference().cnn;

/** Decodes the reference weights: int8 values from base64, times each tensor's power-of-two scale. */
function referenceWeights(): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(reference.weights).map(([name, { shape, scale, int8 }]) => {
    const bytes = Buffer.from(int8, 'base64');
    const values = Float64Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length), (value) => value * scale);
    return [name, tensor(values, { shape, dtype: 'float64' })];
  }));
}

describe('referenceCnn against PyTorch', () => {
  test('parameter names and shapes', () => {
    expect(referenceCnn().namedParameters().map(([name, value]) => [name, value.shape])).toEqual(reference.parameters);
  });

  test('output, loss and gradients for the same weights', () => {
    const model = referenceCnn({ dtype: 'float64' });
    model.loadStateDict(referenceWeights());
    const input = decode(reference.input, true);
    const output = model.forward(input);
    expectMatches(output, reference.output, 'logits');

    const loss = crossEntropy(output, reference.targets);
    expect(loss.item()).toBeCloseTo(reference.loss, 12);
    loss.backward();
    expectMatches(input.grad, reference.inputGrad, 'input gradient');
    for (const [name, parameter] of model.namedParameters()) {
      const squaredNorm = parameter.grad!.square().sum().item();
      expect({ name, squaredNorm: squaredNorm.toPrecision(10) }).toEqual({ name, squaredNorm: reference.gradSquaredNorms[name].toPrecision(10) });
      if (reference.grads[name]) expectMatches(parameter.grad, reference.grads[name], `${name} gradient`);
    }
  });
});

describe('referenceCnn', () => {
  test('is float32 with 93,322 parameters', () => {
    const model = referenceCnn();
    expect(model.numParameters()).toBe(93_322);
    expect(model.parameters().every((parameter) => parameter.dtype === 'float32')).toBe(true);
  });

  test('same seed gives the same weights', () => {
    const values = (seed: number) => referenceCnn({ seed }).parameters().map((parameter) => Array.from(parameter.toTypedArray()));
    expect(values(3)).toEqual(values(3));
    expect(values(3)).not.toEqual(values(4));
  });

  test('generator option continues its stream', () => {
    const generator = new Generator(5);
    const first = referenceCnn({ generator }).parameters()[0].toTypedArray();
    const second = referenceCnn({ generator }).parameters()[0].toTypedArray();
    expect(Array.from(first)).not.toEqual(Array.from(second));
  });

  test('fits 16 noisy images of 4 classes', () => {
    // Each class brightens one quadrant of Gaussian noise. Pure noise is learnable too, but the
    // same model in PyTorch 1.13 took about 40 Adam steps (lr 3e-3) to reach a loss of 0.02 on it.
    const labels = Array.from({ length: 16 }, (_, i) => i % 4);
    const pixels = randn([16, 1, 28, 28], { seed: 2 }).mul(0.5).toTypedArray();
    labels.forEach((label, image) => {
      const [top, left] = [14 * Math.floor(label / 2), 14 * (label % 2)];
      for (let row = top; row < top + 14; row++) {
        for (let column = left; column < left + 14; column++) pixels[image * 784 + row * 28 + column] += 1;
      }
    });
    const images = tensor(pixels, { shape: [16, 1, 28, 28] });

    const model = referenceCnn({ seed: 1 });
    const optimizer = new Adam(model.parameters(), { lr: 3e-3 });
    const losses: number[] = [];
    for (let step = 0; step < 30 && !(losses[losses.length - 1] < 0.01); step++) {
      optimizer.zeroGrad();
      const loss = crossEntropy(model.forward(images), labels);
      loss.backward();
      optimizer.step();
      losses.push(loss.item());
    }

    expect(losses[0]).toBeGreaterThan(2);
    expect(losses[losses.length - 1]).toBeLessThan(0.01);
    expect(Array.from(model.forward(images).argmax(1).toTypedArray())).toEqual(labels);
  });
});
