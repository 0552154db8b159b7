/**
 * Runs the benchmark suites: all of them, or one with `--suite <name>`. Prints a Markdown
 * table per suite and writes its results to benchmarks/results.
 */
import { parseArgs } from 'node:util';
import { type Suite, runSuite } from './harness';
import { describeRun, formatRun, formatTable, writeResults } from './report';
import { suites } from './suites';

const suiteNames = suites.map((suite) => suite.name).join(', ');

const usage = `Usage: npm run bench [-- --suite <name>]

Options:
  --suite <name>  run only this suite (${suiteNames}); default: all
  --help          print this help`;

/** Returns the suites the command line selects, or exits with the usage on invalid arguments. */
function selectSuites(): Suite[] {
  let values: { suite?: string; help?: boolean };
  try {
    values = parseArgs({ options: { suite: { type: 'string' }, help: { type: 'boolean' } }, strict: true }).values;
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }

  if (values.suite === undefined) return suites;
  const selected = suites.filter((suite) => suite.name === values.suite);
  if (selected.length === 0) {
    process.stderr.write(`bench: unknown suite '${values.suite}'. Choose one of: ${suiteNames}\n`);
    process.exit(2);
  }
  return selected;
}

async function main(): Promise<void> {
  for (const suite of selectSuites()) {
    const run = describeRun(suite);
    process.stdout.write(`\n## ${suite.name}: ${suite.description}\n\n${formatRun(run)}\n\n`);

    const results = await runSuite(suite, (result) => {
      process.stderr.write(`${suite.name}: ${result.name} measured\n`);
    });

    process.stdout.write(formatTable(suite, results) + '\n\n');
    process.stdout.write(`results written to ${writeResults(suite, results, run)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
