import { writeFileSync } from 'node:fs';
import { loadMobyDick, loadSpamAssassin, readTextFile, senderSubjectAndBody } from '@metagrad/data';
import { makeTempDir } from './helpers';

describe('text corpora', () => {
  test('SpamAssassin has 4,150 ham and 1,896 spam', () => {
    const corpus = loadSpamAssassin();

    expect(corpus.texts).toHaveLength(6046);
    expect(corpus.labels.filter((label) => label === 0)).toHaveLength(4150);
    expect(corpus.labels.filter((label) => label === 1)).toHaveLength(1896);
    expect(corpus.classNames).toEqual(['ham', 'spam']);
  });

  test('SpamAssassin drops headers by default', () => {
    const stripped = loadSpamAssassin().texts;
    const full = loadSpamAssassin({ keepHeaders: true }).texts;

    expect(stripped.some((text) => /^Received:/m.test(text.split('\n\n')[0]))).toBe(false);
    expect(stripped.every((text) => text.startsWith('From: '))).toBe(true);
    expect(full[0]).toMatch(/^Received:/m);
  });

  test('sender, subject and body of a message', () => {
    const message = 'From a@b  Mon\r\nSubject: Cheap\r\n  watches\r\nFrom: "Ann" <a@b>\r\nTo: c@d\r\n\r\nBuy now.\r\n\r\nBye';

    expect(senderSubjectAndBody(message)).toBe('From: "Ann" <a@b>\nSubject: Cheap watches\n\nBuy now.\r\n\r\nBye');
  });

  test('missing headers are left empty', () => {
    expect(senderSubjectAndBody('To: x\n\nhello')).toBe('From: \nSubject: \n\nhello');
  });

  test('Moby-Dick starts with its contents', () => {
    const text = loadMobyDick();

    expect(text.length).toBeGreaterThan(1_200_000);
    expect(text.startsWith('CONTENTS')).toBe(true);
    expect(text).toContain('Call me Ishmael.');
  });

  test('text file is read as UTF-8', () => {
    const dir = makeTempDir();
    try {
      writeFileSync(dir.file('whale.txt'), '\uFEFF鲸鱼 🐋\n');
      writeFileSync(dir.file('latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));

      expect(readTextFile(dir.file('whale.txt'))).toBe('鲸鱼 🐋\n');
      expect(() => readTextFile(dir.file('latin1.txt'))).toThrow('is not valid UTF-8');
      expect(() => readTextFile(dir.file('missing.txt'))).toThrow(`cannot read text file ${dir.file('missing.txt')}: file not found`);
      expect(() => readTextFile(dir.file(''))).toThrow('it is a folder; give the path of a UTF-8 text file');
    } finally {
      dir.remove();
    }
  });
});
