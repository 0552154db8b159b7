import { Generator, type Tensor, zeros } from '@metagrad/autodiff';
import { Conv2d, Linear, init } from '@metagrad/models';
import { coreReference } from './core-reference';

function valuesOf(x: Tensor): number[] {
  return Array.from(x.toTypedArray());
}

function statistics(values: number[]): { mean: number; std: number; maxAbs: number } {
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  const variance = values.reduce((total, value) => total + (value - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance), maxAbs: Math.max(...values.map(Math.abs)) };
}

/** Checks that every value lies in [-bound, bound] and that the draws reach close to both ends. */
function expectUniformWithin(values: number[], bound: number): void {
  expect(Math.max(...values)).toBeLessThanOrEqual(bound);
  expect(Math.min(...values)).toBeGreaterThanOrEqual(-bound);
  expect(Math.max(...values)).toBeGreaterThan(0.9 * bound);
  expect(Math.min(...values)).toBeLessThan(-0.9 * bound);
}

describe('default layer init', () => {
  test.each([
    ['Linear', () => new Linear(50, 40), 50],
    ['Conv2d', () => new Conv2d(6, 16, [3, 2]), 6 * 3 * 2],
    ['Conv2d with groups', () => new Conv2d(6, 12, 3, { groups: 3 }), 2 * 3 * 3],
  ] as Array<[string, () => Linear | Conv2d, number]>)('%s draws from U(-1/sqrt(fanIn), 1/sqrt(fanIn))', (_name, make, fanIn) => {
    const layer = make();
    const bound = 1 / Math.sqrt(fanIn);
    expectUniformWithin(valuesOf(layer.weight), bound);
    const bias = valuesOf(layer.bias!);
    expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(statistics(valuesOf(layer.weight)).std).toBeCloseTo(bound / Math.sqrt(3), 2);
  });

  test('same seed gives the same weights', () => {
    expect(valuesOf(new Linear(4, 3, { seed: 5 }).weight)).toEqual(valuesOf(new Linear(4, 3, { seed: 5 }).weight));
    expect(valuesOf(new Conv2d(2, 3, 3, { seed: 5 }).bias!)).toEqual(valuesOf(new Conv2d(2, 3, 3, { seed: 5 }).bias!));
  });

  test('unseeded layers are the same on every run', () => {
    expect(valuesOf(new Linear(4, 3).weight)).toEqual(valuesOf(new Linear(4, 3, { seed: 0 }).weight));
  });

  test('different seeds give different weights', () => {
    expect(valuesOf(new Linear(4, 3, { seed: 1 }).weight)).not.toEqual(valuesOf(new Linear(4, 3, { seed: 2 }).weight));
  });

  test('shared generator gives distinct draws', () => {
    const generator = new Generator(3);
    const first = new Linear(4, 3, { generator });
    const second = new Linear(4, 3, { generator });
    expect(valuesOf(first.weight)).not.toEqual(valuesOf(second.weight));
  });

  test('float64 layers draw the same numbers as float32 ones, unrounded', () => {
    const wide = valuesOf(new Linear(4, 3, { seed: 2, dtype: 'float64' }).weight);
    const narrow = valuesOf(new Linear(4, 3, { seed: 2 }).weight);
    expect(wide.map(Math.fround)).toEqual(narrow);
  });

  test('seed and generator together are rejected', () => {
    expect(() => new Linear(2, 2, { seed: 1, generator: new Generator(1) })).toThrow('layer options: pass either a seed or a generator, not both');
  });
});

describe('init functions', () => {
  const reference = coreReference().init;

  test.each(reference.gains.map((gain) => [gain.nonlinearity, gain.param, gain.gain] as const))('calculateGain(%s, %p) is %p', (nonlinearity, param, gain) => {
    const value = param === null
      ? init.calculateGain(nonlinearity as 'leaky_relu')
      : init.calculateGain(nonlinearity as 'leaky_relu', param);
    expect(value).toBeCloseTo(gain, 14);
  });

  test.each(reference.formulas.map((formula) => [formula.shape, formula] as const))('fans of %j', (shape, formula) => {
    expect(init.fans(zeros(shape))).toEqual({ fanIn: formula.fanIn, fanOut: formula.fanOut });
  });

  test('fans of a vector are rejected', () => {
    expect(() => init.fans(zeros([5]))).toThrow('init: fan in and fan out need a tensor with at least 2 axes, got shape [5]');
  });

  const formulaCases = reference.formulas.flatMap((formula) => formula.cases.map((entry) => ({ ...entry, shape: formula.shape, label: `${entry.init} ${JSON.stringify(entry.options)} on ${JSON.stringify(formula.shape)}` })));

  test.each(formulaCases)('$label', (entry) => {
    const initialise = init[entry.init] as (tensor: Tensor, options: object) => Tensor;
    // Repeating the draw over several seeds gives a large sample with the fans of `shape`.
    const values = [1, 2, 3, 4].flatMap((seed) => valuesOf(initialise(zeros(entry.shape, { dtype: 'float64' }), { ...entry.options, seed })));
    const { mean, std } = statistics(values);
    if (entry.bound !== undefined) {
      expectUniformWithin(values, entry.bound);
      expect(std / (entry.bound / Math.sqrt(3))).toBeCloseTo(1, 1);
      expect(Math.abs(mean)).toBeLessThan(0.05 * entry.bound);
    } else {
      expect(std / entry.std!).toBeCloseTo(1, 1);
      expect(Math.abs(mean)).toBeLessThan(0.05 * entry.std!);
    }
  });

  test('uniform spans [low, high)', () => {
    const values = valuesOf(init.uniform(zeros([20000], { dtype: 'float64' }), -1, 3, { seed: 1 }));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values)).toBeLessThan(3);
    const { mean, std } = statistics(values);
    expect(mean).toBeCloseTo(1, 1);
    expect(std).toBeCloseTo(4 / Math.sqrt(12), 1);
  });

  test('uniform defaults to [0, 1)', () => {
    const values = valuesOf(init.uniform(zeros([1000], { dtype: 'float64' })));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });

  test('normal has the given mean and std', () => {
    const { mean, std } = statistics(valuesOf(init.normal(zeros([20000], { dtype: 'float64' }), 2, 0.5, { seed: 2 })));
    expect(mean).toBeCloseTo(2, 1);
    expect(std).toBeCloseTo(0.5, 1);
  });

  test('same seed gives the same draws', () => {
    const draw = () => valuesOf(init.kaimingNormal(zeros([5, 4]), { seed: 8 }));
    expect(draw()).toEqual(draw());
  });

  test('zeros, ones and constant fill every element', () => {
    const x = init.uniform(zeros([2, 3]), -1, 1, { seed: 1 });
    expect(valuesOf(init.zeros(x))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(valuesOf(init.ones(x))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(valuesOf(init.constant(x, 0.25))).toEqual([0.25, 0.25, 0.25, 0.25, 0.25, 0.25]);
  });

  test('initialisers fill in place and return the same tensor', () => {
    const layer = new Linear(3, 2);
    expect(init.xavierUniform(layer.weight)).toBe(layer.weight);
    expect(layer.weight.requiresGrad).toBe(true);
  });
});
