/**
 * A vocabulary: the list of tokens a model can read, where a token's position is its id. Ids 0 and 1
 * are always the padding and unknown tokens, so every tokenizer of this package pads with 0 and
 * maps a token outside the vocabulary to 1.
 */

/** Id of the padding token in every vocabulary. */
export const PADDING_ID = 0;
/** Id of the unknown token, which stands for every token outside the vocabulary. */
export const UNKNOWN_ID = 1;
/** Text of the padding token. It cannot be produced by either tokenizer, so it never collides with real text. */
export const PADDING_TOKEN = '<pad>';
/** Text of the unknown token. */
export const UNKNOWN_TOKEN = '<unk>';

/**
 * Tokens and their ids. Build one with `Vocabulary.fromCounts`, or restore a saved one with
 * `new Vocabulary(tokens)`.
 *
 * const vocabulary = Vocabulary.fromCounts(new Map([['a', 3], ['b', 5]]), 10);
 * vocabulary.tokens // ['<pad>', '<unk>', 'b', 'a']
 */
export class Vocabulary {
  /** Every token, with id = position: padding, unknown, then the known tokens. */
  readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;

  /** Restores a vocabulary from its token list, which must start with the padding and unknown tokens and contain no duplicate. */
  constructor(tokens: readonly string[]) {
    if (tokens[PADDING_ID] !== PADDING_TOKEN || tokens[UNKNOWN_ID] !== UNKNOWN_TOKEN) {
      throw new Error(`Vocabulary: the tokens must start with '${PADDING_TOKEN}' and '${UNKNOWN_TOKEN}', got ${JSON.stringify(tokens.slice(0, 2))}`);
    }
    this.tokens = tokens.slice();
    this.ids = new Map();
    this.tokens.forEach((token, id) => {
      if (typeof token !== 'string') throw new Error(`Vocabulary: token ${id} must be a string, got ${typeof token}`);
      if (this.ids.has(token)) throw new Error(`Vocabulary: token ${JSON.stringify(token)} appears twice, at ids ${this.ids.get(token)} and ${id}`);
      this.ids.set(token, id);
    });
  }

  /**
   * Keeps the `maxTokens` most frequent tokens of `counts`, after the padding and unknown tokens.
   * Ties are broken by code point order, so the same counts always give the same ids.
   */
  static fromCounts(counts: ReadonlyMap<string, number>, maxTokens: number): Vocabulary {
    if (!Number.isInteger(maxTokens) || maxTokens < 0) {
      throw new Error(`Vocabulary.fromCounts: maxTokens must be a non-negative integer, got ${maxTokens}`);
    }
    const ranked = [...counts.entries()]
      .filter(([token]) => token !== PADDING_TOKEN && token !== UNKNOWN_TOKEN)
      .sort(([a, countA], [b, countB]) => countB - countA || compareCodePoints(a, b));
    const kept = ranked.slice(0, maxTokens).map(([token]) => token);
    return new Vocabulary([PADDING_TOKEN, UNKNOWN_TOKEN, ...kept]);
  }

  /** Number of ids, the padding and unknown tokens included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Returns the id of `token`, or UNKNOWN_ID when the vocabulary does not contain it. */
  idOf(token: string): number {
    return this.ids.get(token) ?? UNKNOWN_ID;
  }

  /** Returns whether the vocabulary contains `token`. */
  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** Returns the token of `id`; throws for an id outside [0, size). */
  tokenOf(id: number): string {
    const token = Number.isInteger(id) ? this.tokens[id] : undefined;
    if (token === undefined) throw new Error(`Vocabulary: id ${id} is not in [0, ${this.size - 1}]`);
    return token;
  }
}

/** Orders strings by code point, as `<` does, unlike localeCompare. */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Counts how often each token occurs in `tokenLists`. */
export function countTokens(tokenLists: Iterable<readonly string[]>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const tokens of tokenLists) {
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  return counts;
}
