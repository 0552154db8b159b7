/** The folder that a command's --report option names, and the files written into it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A writer of report files into one folder, which it creates when missing. */
export interface ReportWriter {
  /** Writes `text` to the file `name` in the folder. */
  write(name: string, text: string): void;
  /** The paths written so far, in order. */
  paths: string[];
}

/** Creates `dir` when missing and returns a writer for files in it. */
export function reportWriter(dir: string): ReportWriter {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  return {
    paths,
    write: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      paths.push(path);
    },
  };
}
