/**
 * Parsers for command-line values. Each throws commander's InvalidArgumentError with a message
 * that names the expected form, so commander prints "error: option '--epochs <n>' argument 'x'
 * is invalid. ..." and exits with a non-zero code.
 */
import { type Command, InvalidArgumentError } from 'commander';

/** Parses an integer >= 1. */
export function positiveInteger(value: string): number {
  return wholeNumber(value, 1, Number.MAX_SAFE_INTEGER, 'Expected a whole number of at least 1.');
}

/** Parses an integer >= 2, for counts such as classes per task where one makes no sense. */
export function integerAtLeastTwo(value: string): number {
  return wholeNumber(value, 2, Number.MAX_SAFE_INTEGER, 'Expected a whole number of at least 2.');
}

/** Parses an integer >= 0. */
export function nonNegativeInteger(value: string): number {
  return wholeNumber(value, 0, Number.MAX_SAFE_INTEGER, 'Expected a whole number of at least 0.');
}

/** Largest seed: the generators take 32-bit seeds, so a larger one would repeat a smaller one's numbers. */
const MAX_SEED = 2 ** 32 - 1;

/** Parses a seed, an integer from 0 to 2^32 - 1. */
export function seedNumber(value: string): number {
  return wholeNumber(value, 0, MAX_SEED, `Expected a whole number from 0 to ${MAX_SEED}.`);
}

/** Parses decimal digits, with optional spaces around them, as an integer from `min` to `max`. */
function wholeNumber(value: string, min: number, max: number, expected: string): number {
  const parsed = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new InvalidArgumentError(expected);
  }
  return parsed;
}

/** Parses a finite number > 0. */
export function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError('Expected a finite number greater than 0, such as 0.001 or 1e-3.');
  }
  return parsed;
}

/** Parses a finite number >= 0. */
export function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) {
    throw new InvalidArgumentError('Expected a number of at least 0.');
  }
  return parsed;
}

/**
 * Tells whether the user gave the option with attribute name `key` (such as 'learnInnerLr') instead
 * of leaving it at its default, so that a check can reject an explicit flag but not the default.
 */
export function givenExplicitly(command: Command, key: string): boolean {
  const source = command.getOptionValueSource(key);
  return source !== undefined && source !== 'default';
}
