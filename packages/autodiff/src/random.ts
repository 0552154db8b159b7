/**
 * A seedable pseudo-random generator that gives the same numbers on every machine.
 *
 * The algorithm is xoshiro128** (Blackman and Vigna, 2018): 128 bits of state, 32-bit
 * outputs, period 2^128 - 1. It uses only 32-bit integer arithmetic (math.imul, shifts), which
 * JavaScript defines exactly, so a seed gives the same stream in every engine. The four state
 * words are initialised from the seed with SplitMix32, so nearby seeds give unrelated streams.
 *
 * const g = new Generator(42); g.uniform(); g.normal(); g.integer(0, 10);
 */

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;
const { isInteger, isFinite: isFiniteNumber } = Number;
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** The second value of the last Box-Muller pair, returned by the next `normal()`. */
  private spareNormal: number | undefined;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Restarts the stream from `seed`, an integer (only its low 32 bits are used) or any finite number. */
  seed(seed: number): this {
    if (!isFiniteNumber(seed)) throw new Error(`Generator: seed must be a finite number, got ${seed}`);
    let state = math.trunc(seed) >>> 0;
    const next = () => {
      // SplitMix32: a 32-bit variant of SplitMix64's mixing function.
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spareNormal = undefined;
    return this;
  }

  /** Next 32-bit unsigned integer of the stream. */
  nextUint32(): number {
    const result = math.imul(rotateLeft(math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** Uniform number in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Standard normal number, by the Box-Muller transform. */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    // 1 - uniform() is in (0, 1], so the logarithm is finite.
    const radius = math.sqrt(-2 * math.log(1 - this.uniform()));
    const angle = 2 * math.PI * this.uniform();
    this.spareNormal = radius * math.sin(angle);
    return radius * math.cos(angle);
  }

  /** Uniform integer in [low, high), without modulo bias. */
  integer(low: number, high: number): number {
    if (!isInteger(low) || !isInteger(high) || high <= low || high - low > 2 ** 32) {
      throw new Error(`Generator.integer: need integers low < high with high - low <= 2^32, got [${low}, ${high})`);
    }
    const range = high - low;
    // Reject the top part of [0, 2^32) that does not divide evenly into `range`.
    const limit = 2 ** 32 - (2 ** 32 % range);
    let draw = this.nextUint32();
    while (draw >= limit) draw = this.nextUint32();
    return low + (draw % range);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.integer(0, i + 1);
      const swap = items[i];
      items[i] = items[j];
      items[j] = swap;
    }
    return items;
  }

  /** Returns a permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** Returns a new generator seeded from this one's stream, for an independent sub-stream. */
  fork(): Generator {
    return new Generator(this.nextUint32());
  }
}

function rotateLeft(x: number, bits: number): number {
  return (x << bits) | (x >>> (32 - bits));
}

/** The generator used when a random function gets neither a seed nor a generator. */
let defaultGenerator = new Generator(0);

/** Reseeds the default generator, like `torch.manual_seed`. */
export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

/** Where a random function draws from: a seed, an explicit generator, or the default one. */
export interface RandomOptions {
  seed?: number;
  generator?: Generator;
}

/** Returns the generator that `options` selects. A seed makes a fresh generator. */
export function resolveGenerator(options: RandomOptions | undefined): Generator {
  if (options?.generator && options.seed !== undefined) {
    throw new Error('pass either a seed or a generator, not both');
  }
  if (options?.generator) return options.generator;
  if (options?.seed !== undefined) return new Generator(options.seed);
  return defaultGenerator;
}
