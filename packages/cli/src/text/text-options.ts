/** Parsers for the command-line values of the text commands, in the style of ../options.ts. */
import { InvalidArgumentError } from 'commander';

/** Parses a number strictly between 0 and 1. */
export function probability(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed > 0 && parsed < 1)) {
    throw new InvalidArgumentError('Expected a number between 0 and 1 (exclusive), such as 0.2.');
  }
  return parsed;
}

/** Parses a dropout probability: a number of at least 0 and below 1. */
export function dropoutProbability(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed < 1)) {
    throw new InvalidArgumentError('Expected a number of at least 0 and below 1, such as 0.1.');
  }
  return parsed;
}

/** Parses a label smoothing share: a number of at least 0 and below 1. */
export function smoothingShare(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed < 1)) {
    throw new InvalidArgumentError('Expected a share of at least 0 and below 1, such as 0.1.');
  }
  return parsed;
}
