/**
 * Tokenizers turn text into token ids and back. Two kinds exist: characters (Unicode code
 * points, so a Chinese character or an emoji is one token, never a byte or a UTF-16 unit) and
 * words (split as BERT's basic tokenizer splits them). Both serialise to JSON, so a trained model
 * can be reloaded with the exact vocabulary it was trained with.
 */
import { PADDING_ID, UNKNOWN_ID, Vocabulary, countTokens } from './vocabulary';

/** Format tag and version written into every tokenizer JSON. */
const FORMAT = 'metagrad-tokenizer';
const VERSION = 1;

/** Decoded text of the unknown token: U+FFFD, the Unicode replacement character. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/** The JSON form of a tokenizer, as `toJSON` returns and `tokenizerFromJson` reads it. */
export interface TokenizerJson {
  format: typeof FORMAT;
  version: typeof VERSION;
  kind: 'characters' | 'words';
  /** Whether words are lowercased before lookup (words only). */
  lowercase?: boolean;
  /** Every token, with id = position, starting with '<pad>' and '<unk>'. */
  tokens: string[];
}

/** The methods and fields shared by CharacterTokenizer and WordTokenizer. */
export interface Tokenizer {
  readonly kind: 'characters' | 'words';
  readonly vocabulary: Vocabulary;
  /** Number of ids, the padding and unknown tokens included: the rows an embedding needs. */
  readonly size: number;
  readonly paddingId: number;
  readonly unknownId: number;
  /** Splits text into token strings, before any vocabulary lookup. */
  tokenize(text: string): string[];
  /** Returns the ids of the tokens of `text`; tokens outside the vocabulary get the unknown id. */
  encode(text: string): number[];
  /** Returns the text of `ids`; padding decodes to nothing and the unknown id to U+FFFD. */
  decode(ids: readonly number[]): string;
  toJSON(): TokenizerJson;
}

/** Options of `CharacterTokenizer.fromText`. */
export interface CharacterTokenizerOptions {
  /** Keeps only this many of the most frequent characters. Default: every character of the text. */
  maxCharacters?: number;
}

/**
 * A tokenizer whose tokens are Unicode code points. decode(encode(text)) returns `text` for any
 * text made of known characters, whatever its script.
 *
 * const tokenizer = CharacterTokenizer.fromText('鲸鱼 🐋');
 * tokenizer.decode(tokenizer.encode('鱼🐋')) // '鱼🐋'
 */
export class CharacterTokenizer implements Tokenizer {
  readonly kind = 'characters' as const;
  readonly paddingId = PADDING_ID;
  readonly unknownId = UNKNOWN_ID;

  constructor(readonly vocabulary: Vocabulary) {
    vocabulary.tokens.forEach((token, id) => {
      if (id > UNKNOWN_ID && Array.from(token).length !== 1) {
        throw new Error(`CharacterTokenizer: token ${id} ${JSON.stringify(token)} is not one code point`);
      }
    });
  }

  /** Builds the vocabulary from the characters of `text`, most frequent first. */
  static fromText(text: string, options: CharacterTokenizerOptions = {}): CharacterTokenizer {
    const counts = countTokens([Array.from(text)]);
    return new CharacterTokenizer(Vocabulary.fromCounts(counts, options.maxCharacters ?? counts.size));
  }

  get size(): number {
    return this.vocabulary.size;
  }

  tokenize(text: string): string[] {
    return Array.from(text);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const character of text) ids.push(this.vocabulary.idOf(character));
    return ids;
  }

  decode(ids: readonly number[]): string {
    let text = '';
    for (const id of ids) {
      if (id === PADDING_ID) continue;
      text += id === UNKNOWN_ID ? REPLACEMENT_CHARACTER : this.vocabulary.tokenOf(id);
    }
    return text;
  }

  toJSON(): TokenizerJson {
    return { format: FORMAT, version: VERSION, kind: this.kind, tokens: this.vocabulary.tokens.slice() };
  }
}

/** Options of `WordTokenizer.fromTexts`. */
export interface WordTokenizerOptions {
  /** Number of most frequent words to keep, besides the padding and unknown tokens. Default 10,000. */
  maxWords?: number;
  /** Whether to lowercase text before splitting it. Default true. */
  lowercase?: boolean;
}

/**
 * Matches one word token, the way BERT's basic tokenizer splits text. Each CJK character (Han,
 * Hiragana, Katakana) and each emoji is a token of its own, because those scripts put no spaces
 * between words. A run of other letters, marks and digits is one token. Every other character
 * that is not whitespace (punctuation, symbols) is a token of its own.
 */
const WORD_PATTERN =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Extended_Pictographic}]|(?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{M}\p{N}])+|[^\s\p{L}\p{M}\p{N}]/gu;

/**
 * A tokenizer whose tokens are words and punctuation marks, with a vocabulary of the most
 * frequent words. Spacing and (by default) case are not kept, so decode joins the tokens with
 * single spaces: decode(encode(text)) equals tokenize(text).join(' ') when every word is known.
 *
 * const tokenizer = WordTokenizer.fromTexts(['Call me Ishmael.', '我喜欢鲸鱼']);
 * tokenizer.tokenize('Call me!') // ['call', 'me', '!']
 */
export class WordTokenizer implements Tokenizer {
  readonly kind = 'words' as const;
  readonly paddingId = PADDING_ID;
  readonly unknownId = UNKNOWN_ID;

  constructor(readonly vocabulary: Vocabulary, readonly lowercase = true) {}

  /** Builds the vocabulary from the `maxWords` most frequent tokens of `texts`. */
  static fromTexts(texts: Iterable<string>, options: WordTokenizerOptions = {}): WordTokenizer {
    const lowercase = options.lowercase ?? true;
    const counts = countTokens(mapIterable(texts, (text) => splitWords(text, lowercase)));
    return new WordTokenizer(Vocabulary.fromCounts(counts, options.maxWords ?? 10_000), lowercase);
  }

  get size(): number {
    return this.vocabulary.size;
  }

  tokenize(text: string): string[] {
    return splitWords(text, this.lowercase);
  }

  encode(text: string): number[] {
    return this.tokenize(text).map((token) => this.vocabulary.idOf(token));
  }

  decode(ids: readonly number[]): string {
    const words: string[] = [];
    for (const id of ids) {
      if (id === PADDING_ID) continue;
      words.push(id === UNKNOWN_ID ? REPLACEMENT_CHARACTER : this.vocabulary.tokenOf(id));
    }
    return words.join(' ');
  }

  toJSON(): TokenizerJson {
    return { format: FORMAT, version: VERSION, kind: this.kind, lowercase: this.lowercase, tokens: this.vocabulary.tokens.slice() };
  }
}

/**
 * Splits text into word tokens as WordTokenizer does, lowercased when `lowercase` is true.
 *
 * splitWords("Don't panic, 鲸鱼!", true) // ['don', "'", 't', 'panic', ',', '鲸', '鱼', '!']
 */
export function splitWords(text: string, lowercase: boolean): string[] {
  const source = lowercase ? text.toLowerCase() : text;
  return source.match(WORD_PATTERN) ?? [];
}

/**
 * Restores a tokenizer from its JSON form (an object or a JSON string), as written by `toJSON`.
 * Throws naming the field that is missing or invalid.
 *
 * tokenizerFromJson(JSON.stringify(tokenizer)).encode('abc') // the same ids as tokenizer.encode('abc')
 */
export function tokenizerFromJson(json: unknown): Tokenizer {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  if (typeof value !== 'object' || value === null) throw new Error(`tokenizerFromJson: expected an object, got ${value === null ? 'null' : typeof value}`);
  const record = value as Record<string, unknown>;
  if (record.format !== FORMAT || record.version !== VERSION) {
    throw new Error(`tokenizerFromJson: expected format '${FORMAT}' version ${VERSION}, got format ${JSON.stringify(record.format)} version ${JSON.stringify(record.version)}`);
  }
  if (!Array.isArray(record.tokens) || record.tokens.some((token) => typeof token !== 'string')) {
    throw new Error('tokenizerFromJson: tokens must be an array of strings');
  }
  const vocabulary = new Vocabulary(record.tokens as string[]);

  if (record.kind === 'characters') return new CharacterTokenizer(vocabulary);
  if (record.kind === 'words') {
    if (typeof record.lowercase !== 'boolean') throw new Error(`tokenizerFromJson: lowercase must be true or false, got ${JSON.stringify(record.lowercase)}`);
    return new WordTokenizer(vocabulary, record.lowercase);
  }
  throw new Error(`tokenizerFromJson: kind must be 'characters' or 'words', got ${JSON.stringify(record.kind)}`);
}

function* mapIterable<T, U>(items: Iterable<T>, map: (item: T) => U): Iterable<U> {
  for (const item of items) yield map(item);
}
