/** Runs the metagrad command line in-process for the argument tests. */
import { CommanderError } from 'commander';
import { buildProgram } from '@metagrad/cli';

/**
 * Parses a command line in-process and returns what commander printed and the error it threw,
 * if any. The printed text has its wrapped lines joined, so that phrases can be searched whole.
 */
export async function parse(args: string[]): Promise<{ out: string; err: string; error?: CommanderError }> {
  let out = '';
  let err = '';
  const program = buildProgram({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  try {
    await program.parseAsync(['node', 'metagrad', ...args]);
    return { out: unwrap(out), err };
  } catch (error) {
    if (error instanceof CommanderError) return { out: unwrap(out), err, error };
    throw error;
  }
}

function unwrap(text: string): string {
  return text.replace(/\s+/g, ' ');
}
