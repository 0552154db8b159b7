import fc from 'fast-check';
import {
  CharacterTokenizer, PADDING_ID, UNKNOWN_ID, Vocabulary, WordTokenizer, splitWords, tokenizerFromJson,
} from '@metagrad/data';

const chinese = '我喜欢鲸鱼。白鲸是一头抹香鲸！';
const emoji = 'whale 🐋, family 👨‍👩‍👧 and a flag 🇯🇵 ✨';

describe('CharacterTokenizer', () => {
  test('round trip of Chinese and emoji', () => {
    const text = `Call me Ishmael. ${chinese} ${emoji}`;
    const tokenizer = CharacterTokenizer.fromText(text);

    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.encode(text)).not.toContain(UNKNOWN_ID);
  });

  test('tokens are code points', () => {
    const tokenizer = CharacterTokenizer.fromText('🐋鲸a');

    expect(tokenizer.tokenize('🐋鲸a')).toEqual(['🐋', '鲸', 'a']);
    expect(tokenizer.encode('🐋')).toHaveLength(1);
    expect(tokenizer.size).toBe(5);
  });

  test('most frequent characters come first', () => {
    const tokenizer = CharacterTokenizer.fromText('abbccc');

    expect(tokenizer.vocabulary.tokens).toEqual(['<pad>', '<unk>', 'c', 'b', 'a']);
  });

  test('unknown characters decode to U+FFFD', () => {
    const tokenizer = CharacterTokenizer.fromText('ab');

    expect(tokenizer.encode('abz')).toEqual([2, 3, UNKNOWN_ID]);
    expect(tokenizer.decode([2, UNKNOWN_ID, PADDING_ID, 3])).toBe('a\uFFFDb');
  });

  test('maxCharacters keeps the most frequent', () => {
    const tokenizer = CharacterTokenizer.fromText('aaabbc', { maxCharacters: 2 });

    expect(tokenizer.size).toBe(4);
    expect(tokenizer.encode('c')).toEqual([UNKNOWN_ID]);
  });

  test('round trip of any string over its own characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const tokenizer = CharacterTokenizer.fromText(text);
        expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
      }),
    );
  });
});

describe('WordTokenizer', () => {
  test('splits like a basic BERT tokenizer', () => {
    expect(splitWords("Don't PANIC, it's 3.14!", true)).toEqual(['don', "'", 't', 'panic', ',', 'it', "'", 's', '3', '.', '14', '!']);
    expect(splitWords('Café naïve', false)).toEqual(['Café', 'naïve']);
  });

  test('Chinese characters are words', () => {
    expect(splitWords(chinese, true)).toEqual(['我', '喜', '欢', '鲸', '鱼', '。', '白', '鲸', '是', '一', '头', '抹', '香', '鲸', '！']);
    expect(splitWords('abc中文def', true)).toEqual(['abc', '中', '文', 'def']);
  });

  test('emoji are words', () => {
    expect(splitWords('hi🐋there ✨', true)).toEqual(['hi', '🐋', 'there', '✨']);
  });

  test('round trip of Chinese, emoji and Latin', () => {
    const texts = [chinese, emoji, 'The whale, the WHALE!'];
    const tokenizer = WordTokenizer.fromTexts(texts);

    for (const text of texts) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(tokenizer.tokenize(text).join(' '));
      expect(tokenizer.encode(text)).not.toContain(UNKNOWN_ID);
    }
  });

  test('maxWords caps the vocabulary', () => {
    const tokenizer = WordTokenizer.fromTexts(['a a a b b c'], { maxWords: 2 });

    expect(tokenizer.size).toBe(4);
    expect(tokenizer.vocabulary.tokens).toEqual(['<pad>', '<unk>', 'a', 'b']);
    expect(tokenizer.encode('a c b')).toEqual([2, UNKNOWN_ID, 3]);
  });

  test('default cap is 10,000 words', () => {
    const words = Array.from({ length: 10_050 }, (_, i) => `w${i}`).join(' ');
    const tokenizer = WordTokenizer.fromTexts([words]);

    expect(tokenizer.size).toBe(10_002);
  });

  test('ties are ordered by code point', () => {
    const tokenizer = WordTokenizer.fromTexts(['zebra apple mango']);

    expect(tokenizer.vocabulary.tokens.slice(2)).toEqual(['apple', 'mango', 'zebra']);
  });
});

describe('tokenizer JSON', () => {
  test('character tokenizer survives JSON', () => {
    const tokenizer = CharacterTokenizer.fromText(`${chinese}${emoji}`);
    const restored = tokenizerFromJson(JSON.stringify(tokenizer));

    expect(restored.kind).toBe('characters');
    expect(restored.encode(emoji)).toEqual(tokenizer.encode(emoji));
    expect(restored.decode(tokenizer.encode(chinese))).toBe(chinese);
  });

  test('word tokenizer survives JSON', () => {
    const tokenizer = WordTokenizer.fromTexts(['Call me Ishmael.', chinese], { lowercase: false });
    const restored = tokenizerFromJson(tokenizer.toJSON());

    expect(restored.kind).toBe('words');
    expect(restored.encode('Call me 鲸鱼')).toEqual(tokenizer.encode('Call me 鲸鱼'));
    expect(restored.encode('call')).toEqual([UNKNOWN_ID]);
  });

  test.each([
    [{ format: 'other', version: 1, kind: 'words', tokens: [] }, "expected format 'metagrad-tokenizer' version 1"],
    [{ format: 'metagrad-tokenizer', version: 1, kind: 'bytes', tokens: ['<pad>', '<unk>'] }, "kind must be 'characters' or 'words'"],
    [{ format: 'metagrad-tokenizer', version: 1, kind: 'words', tokens: ['<pad>', '<unk>'] }, 'lowercase must be true or false'],
    [{ format: 'metagrad-tokenizer', version: 1, kind: 'characters', tokens: ['<unk>', '<pad>'] }, "must start with '<pad>' and '<unk>'"],
    [{ format: 'metagrad-tokenizer', version: 1, kind: 'characters', tokens: ['<pad>', '<unk>', 'ab'] }, 'is not one code point'],
    [{ format: 'metagrad-tokenizer', version: 1, kind: 'characters', tokens: ['<pad>', '<unk>', 'a', 'a'] }, 'appears twice'],
    [null, 'expected an object'],
  ])('rejects invalid JSON %#', (json, message) => {
    expect(() => tokenizerFromJson(json)).toThrow(message);
  });
});

describe('Vocabulary', () => {
  test('rejects ids outside the table', () => {
    const vocabulary = new Vocabulary(['<pad>', '<unk>', 'a']);

    expect(vocabulary.tokenOf(2)).toBe('a');
    expect(() => vocabulary.tokenOf(3)).toThrow('id 3 is not in [0, 2]');
  });
});
