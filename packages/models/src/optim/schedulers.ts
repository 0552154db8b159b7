/**
 * Learning-rate schedules, as in torch.optim.lr_scheduler: construct one over an optimizer,
 * then call `step()` once per epoch (or per iteration) after `optimizer.step()`.
 */
import type { Optimizer } from './optimizer';

export abstract class LRScheduler {
  /** The optimizer's learning rate when the scheduler was created. */
  readonly baseLr: number;
  /** Number of `step()` calls so far. */
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer) {
    this.baseLr = optimizer.lr;
  }

  /** The learning rate for epoch `epoch`. */
  abstract lrAt(epoch: number): number;

  /** Advances one epoch and sets the optimizer's learning rate. */
  step(): void {
    this.lastEpoch++;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }

  /** The learning rate set by the last step. */
  getLastLr(): number {
    return this.optimizer.lr;
  }
}

/** Multiplies the learning rate by `gamma` every `stepSize` epochs. */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!(Number.isInteger(options.stepSize) && options.stepSize > 0)) throw new Error(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
  }

  lrAt(epoch: number): number {
    return this.baseLr * (this.options.gamma ?? 0.1) ** Math.floor(epoch / this.options.stepSize);
  }
}

/**
 * Cosine annealing from the base rate to `etaMin` over `tMax` epochs:
 * lr = etaMin + (base - etaMin) * (1 + cos(pi * epoch / tMax)) / 2, held at etaMin after tMax.
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!(options.tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be positive, got ${options.tMax}`);
  }

  lrAt(epoch: number): number {
    const etaMin = this.options.etaMin ?? 0;
    const progress = Math.min(epoch, this.options.tMax) / this.options.tMax;
    return etaMin + ((this.baseLr - etaMin) * (1 + Math.cos(Math.PI * progress))) / 2;
  }
}

/**
 * Linear warm-up: the rate grows from `startFactor` * base to base over `warmupSteps` steps,
 * then follows `after` (a scheduler over the same optimizer, counted from the end of the
 * warm-up) or stays at base.
 */
export class LinearWarmupLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { warmupSteps: number; startFactor?: number; after?: LRScheduler }) {
    super(optimizer);
    if (!(Number.isInteger(options.warmupSteps) && options.warmupSteps >= 0)) {
      throw new Error(`LinearWarmupLR: warmupSteps must be a non-negative integer, got ${options.warmupSteps}`);
    }
    optimizer.lr = this.lrAt(0);
  }

  lrAt(epoch: number): number {
    const { warmupSteps, after } = this.options;
    const startFactor = this.options.startFactor ?? 0;
    if (epoch < warmupSteps) return this.baseLr * (startFactor + ((1 - startFactor) * epoch) / warmupSteps);
    return after ? after.lrAt(epoch - warmupSteps) : this.baseLr;
  }
}
