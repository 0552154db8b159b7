/** The `metagrad` command: its subcommands, and error handling that prints one clear line. */
import { Command, CommanderError, type OutputConfiguration } from 'commander';
import { getBackend, getThreads } from '@metagrad/kernels';
import { addEvalCnnCommand, addPredictCnnCommand, addTrainCnnCommand } from './cnn/commands';
import { addMamlCommand } from './maml/commands';
import { addTrainTextClassifierCommands } from './text/classifier-commands';
import { addEvalTextClassifierCommands, addPredictTextClassifierCommands } from './text/classifier-use-commands';
import { addGenerateCommand, addTrainLanguageModelCommand } from './text/language-model-commands';

/**
 * Builds the command tree. Parse errors throw a CommanderError instead of exiting, so that
 * `main` sets the exit code and tests can parse arguments in-process; `output` redirects what
 * commander prints. Both settings are made before the subcommands exist, because commander
 * copies them to a subcommand when it is created.
 */
export function buildProgram(output: OutputConfiguration = {}): Command {
  const program = new Command('metagrad')
    .description('Train, evaluate and inspect neural networks built with metagrad, on real data.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput(output)
    .showHelpAfterError('(add --help for the options)')
    // An invalid METAGRAD_BACKEND or METAGRAD_THREADS is reported before a command starts, not at
    // its first matrix product, after it has loaded its data and printed its first lines.
    .hook('preAction', () => {
      getBackend();
      getThreads();
    });

  const train = program.command('train').description('train a model and report its test accuracy');
  addTrainCnnCommand(train);
  addTrainTextClassifierCommands(train);
  addTrainLanguageModelCommand(train);

  const evaluate = program.command('eval').description('evaluate saved weights on a test set');
  addEvalCnnCommand(evaluate);
  addEvalTextClassifierCommands(evaluate);

  const predict = program.command('predict').description('classify one input with saved weights');
  addPredictCnnCommand(predict);
  addPredictTextClassifierCommands(predict);

  addMamlCommand(program);
  addGenerateCommand(program);

  return program;
}

/** Runs the command line `argv` (as process.argv: node, script, arguments...). */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`metagrad: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
