/**
 * A JSON parser for untrusted headers. It accepts exactly the JSON that JSON.parse accepts, but
 * rejects an object that repeats a key (JSON.parse keeps the last value without a word) and
 * nesting deeper than a fixed limit.
 */

/** A parsed JSON value. Objects have no prototype, so a key such as "__proto__" is an ordinary key. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A parsed JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Objects and arrays nested deeper than this are rejected, as serde_json does by default (128 levels). */
const MAX_DEPTH = 128;

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * Parses JSON text, throwing a SyntaxError that names the position for invalid JSON, a
 * repeated key or too deep nesting.
 *
 * parseStrictJson('{"a": 1}') is { a: 1 }; parseStrictJson('{"a": 1, "a": 2}') throws.
 */
export function parseStrictJson(text: string): JsonValue {
  const parser = new Parser(text);
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.position < text.length) parser.fail('unexpected text after the JSON value');
  return value;
}

class Parser {
  position = 0;

  constructor(private readonly text: string) {}

  fail(reason: string): never {
    throw new SyntaxError(`${reason} at position ${this.position}`);
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.position;
    WHITESPACE.exec(this.text);
    this.position = WHITESPACE.lastIndex;
  }

  /** Consumes `expected` after optional whitespace, or fails naming it. */
  private expect(expected: string): void {
    this.skipWhitespace();
    if (this.text[this.position] !== expected) this.fail(`expected '${expected}'`);
    this.position++;
  }

  value(depth: number): JsonValue {
    this.skipWhitespace();
    const start = this.text[this.position];
    if (start === '{') return this.object(depth + 1);
    if (start === '[') return this.array(depth + 1);
    if (start === '"') return this.string();
    for (const [literal, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(literal, this.position)) {
        this.position += literal.length;
        return value;
      }
    }

    NUMBER.lastIndex = this.position;
    const number = NUMBER.exec(this.text);
    if (!number) this.fail(start === undefined ? 'unexpected end of the text' : `unexpected character '${start}'`);
    this.position = NUMBER.lastIndex;
    return Number(number[0]);
  }

  private object(depth: number): JsonObject {
    if (depth > MAX_DEPTH) this.fail(`objects and arrays nested deeper than ${MAX_DEPTH} levels`);
    this.position++;
    const result = Object.create(null) as JsonObject;
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position++;
      return result;
    }

    for (;;) {
      this.skipWhitespace();
      const keyPosition = this.position;
      if (this.text[this.position] !== '"') this.fail('expected a string key');
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(result, key)) {
        this.position = keyPosition;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      this.expect(':');
      result[key] = this.value(depth);

      this.skipWhitespace();
      const separator = this.text[this.position++];
      if (separator === '}') return result;
      if (separator !== ',') {
        this.position--;
        this.fail("expected ',' or '}'");
      }
    }
  }

  private array(depth: number): JsonValue[] {
    if (depth > MAX_DEPTH) this.fail(`objects and arrays nested deeper than ${MAX_DEPTH} levels`);
    this.position++;
    const result: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return result;
    }

    for (;;) {
      result.push(this.value(depth));
      this.skipWhitespace();
      const separator = this.text[this.position++];
      if (separator === ']') return result;
      if (separator !== ',') {
        this.position--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  /** Reads a string literal. JSON.parse decodes its escapes and rejects raw control characters. */
  private string(): string {
    const start = this.position;
    let end = start + 1;
    while (end < this.text.length && this.text[end] !== '"') end += this.text[end] === '\\' ? 2 : 1;
    if (end >= this.text.length) this.fail('unterminated string');
    this.position = end + 1;
    try {
      return JSON.parse(this.text.slice(start, end + 1)) as string;
    } catch {
      this.position = start;
      return this.fail('invalid string');
    }
  }
}
