import { Generator, type Tensor, gradcheck, ones, randn } from '@metagrad/autodiff';
import { Dropout, Linear, Sequential } from '@metagrad/models';

function valuesOf(x: Tensor): number[] {
  return Array.from(x.toTypedArray());
}

describe('Dropout', () => {
  test('training keeps each element scaled by 1 / (1 - p) or zeroes it', () => {
    const output = new Dropout(0.25, { seed: 3 }).forward(ones([4000], { dtype: 'float64' }));
    const values = valuesOf(output);
    const kept = values.filter((value) => value !== 0);
    expect(kept.every((value) => value === 1 / 0.75)).toBe(true);
    // 3000 expected kept, with a binomial standard deviation of about 27.
    expect(Math.abs(kept.length - 3000)).toBeLessThan(150);
  });

  test('mean is preserved in expectation', () => {
    const output = new Dropout(0.5, { seed: 4 }).forward(ones([20000], { dtype: 'float64' }));
    expect(Math.abs(output.mean().item() - 1)).toBeLessThan(0.05);
  });

  test('eval mode returns the input', () => {
    const dropout = new Dropout(0.5).eval();
    const x = randn([3, 4]);
    expect(dropout.forward(x)).toBe(x);
  });

  test('train after eval drops again', () => {
    const dropout = new Dropout(0.5, { seed: 1 }).eval().train();
    expect(valuesOf(dropout.forward(ones([100]))).some((value) => value === 0)).toBe(true);
  });

  test('same seed gives the same masks', () => {
    const x = ones([50], { dtype: 'float64' });
    const first = new Dropout(0.5, { seed: 7 });
    const second = new Dropout(0.5, { seed: 7 });
    expect(valuesOf(first.forward(x))).toEqual(valuesOf(second.forward(x)));
    expect(valuesOf(first.forward(x))).toEqual(valuesOf(second.forward(x)));
  });

  test('each call draws a new mask', () => {
    const dropout = new Dropout(0.5, { seed: 7 });
    const x = ones([50], { dtype: 'float64' });
    expect(valuesOf(dropout.forward(x))).not.toEqual(valuesOf(dropout.forward(x)));
  });

  test('different seeds give different masks', () => {
    const x = ones([50], { dtype: 'float64' });
    expect(valuesOf(new Dropout(0.5, { seed: 1 }).forward(x))).not.toEqual(valuesOf(new Dropout(0.5, { seed: 2 }).forward(x)));
  });

  test('shared generator continues its stream', () => {
    const x = ones([30], { dtype: 'float64' });
    const shared = new Generator(9);
    const first = new Dropout(0.5, { generator: shared });
    const second = new Dropout(0.5, { generator: shared });
    const replay = new Dropout(0.5, { seed: 9 });
    const expected = [...valuesOf(replay.forward(x)), ...valuesOf(replay.forward(x))];
    expect([...valuesOf(first.forward(x)), ...valuesOf(second.forward(x))]).toEqual(expected);
  });

  test('gradient is the mask', () => {
    const x = randn([40], { seed: 2, dtype: 'float64', requiresGrad: true });
    const output = new Dropout(0.4, { seed: 5 }).forward(x);
    output.sum().backward();
    const mask = valuesOf(output).map((value, i) => value / x.toTypedArray()[i]);
    const gradient = valuesOf(x.grad!);
    gradient.forEach((value, i) => expect(value).toBeCloseTo(mask[i], 12));
    expect(new Set(gradient.map((value) => value.toFixed(12)))).toEqual(new Set(['0.000000000000', (1 / 0.6).toFixed(12)]));
  });

  test('gradcheck with a fixed mask', () => {
    const x = randn([6], { seed: 3, dtype: 'float64', requiresGrad: true });
    // A new layer per call replays the same mask, so finite differences see a fixed function.
    expect(gradcheck((input) => new Dropout(0.5, { seed: 11 }).forward(input), [x])).toBe(true);
  });

  test('p 0 is identity and p 1 zeroes', () => {
    const x = randn([10], { seed: 1, dtype: 'float64' });
    expect(valuesOf(new Dropout(0).forward(x))).toEqual(valuesOf(x));
    expect(valuesOf(new Dropout(1).forward(x)).every((value) => value === 0)).toBe(true);
  });

  test('eval propagates from a container', () => {
    const model = new Sequential(new Linear(3, 3, { dtype: 'float64' }), new Dropout(0.9, { seed: 1 }));
    const x = randn([2, 3], { seed: 1, dtype: 'float64' });
    const expected = valuesOf((model.at(0) as Linear).forward(x));
    expect(valuesOf(model.eval().forward(x))).toEqual(expected);
  });

  test.each([-0.1, 1.5, Number.NaN])('probability %p is rejected', (p) => {
    expect(() => new Dropout(p)).toThrow(`Dropout: probability p must be in [0, 1], got ${p}`);
  });

  test('describe shows p', () => {
    expect(new Dropout(0.3).describe()).toBe('p=0.3');
  });
});
