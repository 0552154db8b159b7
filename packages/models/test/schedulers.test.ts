import { zeros } from '@metagrad/autodiff';
import { CosineAnnealingLR, type LRScheduler, LinearWarmupLR, SGD, StepLR } from '@metagrad/models';
import { type SchedulerCase, coreReference } from './core-reference';

function sgd(lr = 0.1): SGD {
  return new SGD([zeros([1], { requiresGrad: true })], { lr });
}

function createScheduler(reference: SchedulerCase, optimizer: SGD): LRScheduler {
  const options = reference.options as never;
  switch (reference.scheduler) {
    case 'StepLR':
      return new StepLR(optimizer, options);
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(optimizer, options);
    case 'LinearWarmupLR': {
      const after = reference.after ? new CosineAnnealingLR(optimizer, reference.after.options) : undefined;
      return new LinearWarmupLR(optimizer, { ...(reference.options as { warmupSteps: number }), after });
    }
  }
}

/** Returns the optimizer's learning rate before the first step and after each of `steps` scheduler steps. */
function learningRates(scheduler: LRScheduler, steps: number): number[] {
  const rates = [scheduler.optimizer.lr];
  for (let i = 0; i < steps; i++) {
    scheduler.optimizer.step();
    scheduler.step();
    rates.push(scheduler.optimizer.lr);
  }
  return rates;
}

describe('schedulers against PyTorch', () => {
  test.each(coreReference().schedulers)('$name', (reference) => {
    const rates = learningRates(createScheduler(reference, sgd()), reference.lrs.length - 1);
    // PyTorch updates most rates recursively from the previous one, so they differ from the closed forms by rounding.
    expect(rates).toHaveLength(reference.lrs.length);
    rates.forEach((rate, epoch) => expect(rate).toBeCloseTo(reference.lrs[epoch], 14));
  });
});

describe('StepLR', () => {
  test('lrAt is the closed form', () => {
    const scheduler = new StepLR(sgd(1), { stepSize: 2, gamma: 0.5 });
    expect([0, 1, 2, 3, 4, 5].map((epoch) => scheduler.lrAt(epoch))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });

  test('lastEpoch and getLastLr follow the steps', () => {
    const scheduler = new StepLR(sgd(1), { stepSize: 1, gamma: 0.5 });
    scheduler.step();
    scheduler.step();
    expect(scheduler.lastEpoch).toBe(2);
    expect(scheduler.getLastLr()).toBe(0.25);
    expect(scheduler.baseLr).toBe(1);
  });

  test.each([0, 1.5, -1])('stepSize %p is rejected', (stepSize) => {
    expect(() => new StepLR(sgd(), { stepSize })).toThrow(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
  });
});

describe('CosineAnnealingLR', () => {
  test('rate stays at etaMin after tMax', () => {
    // PyTorch 1.13's rate rises again after tMax, following the cosine, but this scheduler keeps etaMin.
    const scheduler = new CosineAnnealingLR(sgd(0.1), { tMax: 4, etaMin: 0.01 });
    const rates = learningRates(scheduler, 8);
    expect(rates[4]).toBeCloseTo(0.01, 15);
    expect(rates.slice(5)).toEqual([0.01, 0.01, 0.01, 0.01]);
  });

  test('rate falls monotonically to etaMin', () => {
    const rates = learningRates(new CosineAnnealingLR(sgd(0.1), { tMax: 10 }), 10);
    rates.slice(1).forEach((rate, i) => expect(rate).toBeLessThan(rates[i]));
    expect(rates[10]).toBeCloseTo(0, 15);
  });

  test.each([0, -2])('tMax %p is rejected', (tMax) => {
    expect(() => new CosineAnnealingLR(sgd(), { tMax })).toThrow(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
  });
});

describe('LinearWarmupLR', () => {
  test('default startFactor ramps up from 0', () => {
    expect(learningRates(new LinearWarmupLR(sgd(0.4), { warmupSteps: 4 }), 6)).toEqual([0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4]);
  });

  test('construction sets the first rate', () => {
    const optimizer = sgd(0.2);
    new LinearWarmupLR(optimizer, { warmupSteps: 2, startFactor: 0.5 });
    expect(optimizer.lr).toBe(0.1);
  });

  test('zero warmup steps start at the base rate', () => {
    expect(learningRates(new LinearWarmupLR(sgd(0.2), { warmupSteps: 0 }), 2)).toEqual([0.2, 0.2, 0.2]);
  });

  test('hands off to the wrapped scheduler at its epoch 0', () => {
    const optimizer = sgd(1);
    const after = new StepLR(optimizer, { stepSize: 2, gamma: 0.5 });
    const rates = learningRates(new LinearWarmupLR(optimizer, { warmupSteps: 2, startFactor: 0.5, after }), 6);
    expect(rates).toEqual([0.5, 0.75, 1, 1, 0.5, 0.5, 0.25]);
  });

  test('wrapped scheduler built later sees lowered rate', () => {
    // The wrapped scheduler takes its base rate from the optimizer when it is built, so build it first.
    const optimizer = sgd(1);
    const warmup = new LinearWarmupLR(optimizer, { warmupSteps: 2, startFactor: 0.5 });
    expect(new StepLR(optimizer, { stepSize: 1 }).baseLr).toBe(0.5);
    expect(warmup.baseLr).toBe(1);
  });

  test.each([-1, 0.5])('warmupSteps %p is rejected', (warmupSteps) => {
    expect(() => new LinearWarmupLR(sgd(), { warmupSteps })).toThrow(`LinearWarmupLR: warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  });
});
