/** A seeded train/test split that keeps each class's share the same in both parts. */
import { Generator } from '@metagrad/autodiff';

/** Example indices of the two parts of a split, each in ascending order. */
export interface SplitIndices {
  train: number[];
  test: number[];
}

/** Options of `stratifiedSplit`. */
export interface StratifiedSplitOptions {
  /** Share of each class that goes to the test part, in (0, 1). */
  testFraction: number;
  /** Seed of the random choice. Default 0. */
  seed?: number;
}

/**
 * Splits examples by their labels so that each class contributes round(count * testFraction) of
 * its examples, chosen at random, to the test part, and the rest to the train part. The same
 * labels and seed always give the same split.
 *
 * stratifiedSplit([0, 0, 0, 0, 1, 1], { testFraction: 0.5, seed: 1 }) // two 0s and one 1 in each part
 */
export function stratifiedSplit(labels: ArrayLike<number>, options: StratifiedSplitOptions): SplitIndices {
  const { testFraction } = options;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new Error(`stratifiedSplit: testFraction must be a number in (0, 1), got ${testFraction}`);
  }

  const byClass = new Map<number, number[]>();
  for (let index = 0; index < labels.length; index++) {
    const label = labels[index];
    if (!Number.isInteger(label)) throw new Error(`stratifiedSplit: label ${label} of example ${index} is not an integer class index`);
    const members = byClass.get(label) ?? [];
    members.push(index);
    byClass.set(label, members);
  }

  // Classes are visited in label order, so the draws do not depend on which class comes first.
  const generator = new Generator(options.seed ?? 0);
  const train: number[] = [];
  const test: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = generator.shuffle(byClass.get(label)!);
    const testCount = Math.round(members.length * testFraction);
    test.push(...members.slice(0, testCount));
    train.push(...members.slice(testCount));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}
