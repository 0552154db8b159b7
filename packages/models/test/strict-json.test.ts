import fc from 'fast-check';
import { parseStrictJson } from '../src/strict-json';

describe('parseStrictJson', () => {
  test('agrees with JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value, null, 1);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 200 },
    );
  });

  test('decodes escapes and numbers', () => {
    expect(parseStrictJson('{"a\\u00e9\\n": [-1.5e3, 0, true, false, null, "\\"x\\""]}')).toEqual({ 'a\u00e9\n': [-1500, 0, true, false, null, '"x"'] });
  });

  test('rejects a repeated key', () => {
    expect(() => parseStrictJson('{"a": 1, "b": {"c": 1, "c": 2}}')).toThrow('duplicate key "c" at position 23');
  });

  test('keeps __proto__ as a key', () => {
    const parsed = parseStrictJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test.each([
    ['{"a": 1,}', "expected a string key at position 8"],
    ['[1 2]', "expected ',' or ']' at position 3"],
    ['{"a" 1}', "expected ':' at position 5"],
    ['01', 'unexpected text after the JSON value at position 1'],
    ['"tab\there"', 'invalid string at position 0'],
    ['"open', 'unterminated string at position 0'],
    ['tru', "unexpected character 't' at position 0"],
    ['', 'unexpected end of the text at position 0'],
  ])('rejects %j', (text, message) => {
    expect(() => parseStrictJson(text)).toThrow(message);
  });

  test('rejects deep nesting', () => {
    expect(() => parseStrictJson('['.repeat(129) + ']'.repeat(129))).toThrow('nested deeper than 128 levels');
    expect(parseStrictJson('['.repeat(128) + ']'.repeat(128))).toBeDefined();
  });
});
