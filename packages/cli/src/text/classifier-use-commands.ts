/** The commands `metagrad eval lstm|transformer` and `metagrad predict lstm|transformer`. */
import { type Command, Option } from 'commander';
import { softmax } from '@metagrad/autodiff';
import { textBatches } from '@metagrad/data';
import { evaluating } from '../evaluation-mode';
import { givenExplicitly, positiveInteger, seedNumber } from '../options';
import { formatEvaluation } from './classifier-commands';
import { evaluateTextClassifier } from './classifier-training';
import { DEFAULT_TEST_FRACTION, TEXT_DATASETS, type TextSplitOptions, emptySplitError, loadTextTestSet } from './classification-task';
import { type TextCheckpointInfo, loadTextWeights, readTextCheckpoint } from './text-checkpoint';
import { type ClassifierArchitecture, type ClassifierConfig, type TextClassifier, buildTextClassifier } from './text-classifiers';
import { probability } from './text-options';

interface EvalClassifierOptions {
  weights: string;
  dataset?: string;
  testFraction?: number;
  seed?: number;
  limit?: number;
}

interface PredictClassifierOptions {
  weights: string;
  text: string;
}

/** A classifier rebuilt from a weights file, with the settings stored beside its weights. */
interface SavedClassifier {
  classifier: TextClassifier;
  config: ClassifierConfig;
  classNames: string[];
  info: TextCheckpointInfo;
}

/** Adds `eval lstm` and `eval transformer` under `eval`. */
export function addEvalTextClassifierCommands(evaluate: Command): void {
  for (const architecture of ['lstm', 'transformer'] as const) {
    evaluate
      .command(architecture)
      .description(`evaluate ${architecture} classifier weights saved by \`metagrad train ${architecture} --save\` on the texts its training run tested on, with accuracy, precision and recall`)
      .requiredOption('--weights <file>', `a .safetensors file written by \`metagrad train ${architecture} --save\`, with its tokenizer, sizes and split in the metadata`)
      .addOption(new Option('--dataset <name>', 'labelled texts: spam-assassin (default: the one saved with the weights)').choices([...TEXT_DATASETS]))
      .option('--test-fraction <x>', 'share of each class held out for testing, between 0 and 1 (default: the one saved with the weights)', probability)
      .option('--seed <n>', 'seed of the split (default: the one saved with the weights)', seedNumber)
      .option('--limit <n>', 'use a random subset of n texts with the class shares of the whole dataset (default: the one saved with the weights)', positiveInteger)
      .action((options: EvalClassifierOptions, command: Command) => runEvalClassifier(architecture, options, command));
  }
}

/** Adds `predict lstm` and `predict transformer` under `predict`. */
export function addPredictTextClassifierCommands(predict: Command): void {
  for (const architecture of ['lstm', 'transformer'] as const) {
    predict
      .command(architecture)
      .description(`classify one text with ${architecture} classifier weights saved by \`metagrad train ${architecture} --save\``)
      .requiredOption('--weights <file>', `a .safetensors file written by \`metagrad train ${architecture} --save\`, with its tokenizer and class names in the metadata`)
      .requiredOption('--text <text>', "the text to classify, such as an e-mail's sender, subject and body; words the model never saw are read as unknown")
      .action((options: PredictClassifierOptions) => runPredictClassifier(architecture, options));
  }
}

function runEvalClassifier(architecture: ClassifierArchitecture, options: EvalClassifierOptions, command: Command): void {
  const { classifier, config, classNames, info } = loadSavedClassifier(options.weights, architecture, 'eval');
  const split = chooseSplit(options, command, info, config);
  const task = loadTextTestSet(split, info.tokenizer);
  if (task.classNames.join('\n') !== classNames.join('\n')) {
    throw new Error(`weights file ${options.weights} has the classes ${classNames.join(', ')}, but dataset ${split.dataset} has ${task.classNames.join(', ')}; evaluate it on the dataset it was trained on`);
  }
  if (task.test.sequences.length === 0) throw emptySplitError(split, 'testing');

  const limit = split.limit === undefined ? '' : ` --limit ${split.limit}`;
  console.log(`${task.name}: testing on ${task.test.sequences.length.toLocaleString('en-US')} texts (--test-fraction ${split.testFraction} --seed ${split.seed}${limit})`);
  const evaluation = evaluateTextClassifier(classifier, task.test, { maxLength: config.maxLength, numClasses: classNames.length });
  console.log(`${task.name} test accuracy ${(100 * evaluation.accuracy).toFixed(2)}% (${evaluation.correct}/${evaluation.total})`);
  console.log(formatEvaluation(evaluation, classNames));
}

/**
 * Returns the split to test on: each option the user gave, else the value saved with the weights.
 * A file without a saved split gets the defaults of `train` with the seed of its weights, and a
 * warning, because its training run may have used other values.
 */
function chooseSplit(options: EvalClassifierOptions, command: Command, info: TextCheckpointInfo, config: ClassifierConfig): TextSplitOptions {
  const saved: TextSplitOptions = info.split ?? { dataset: 'spam-assassin', testFraction: DEFAULT_TEST_FRACTION, seed: config.seed };
  const limit = options.limit ?? saved.limit;
  const split: TextSplitOptions = {
    dataset: options.dataset ?? saved.dataset,
    testFraction: options.testFraction ?? saved.testFraction,
    seed: options.seed ?? saved.seed,
    ...(limit !== undefined ? { limit } : {}),
  };

  const overridden = ['dataset', 'testFraction', 'seed', 'limit'].some((key) => givenExplicitly(command, key));
  if (info.split === undefined && !overridden) {
    process.stderr.write(
      `metagrad: weights file ${options.weights} does not record the split it was trained on, so eval tests on the default split of train ` +
        `(--test-fraction ${DEFAULT_TEST_FRACTION} --seed ${config.seed}, all texts); give --test-fraction and --limit if the training run changed them\n`,
    );
  }
  return split;
}

function runPredictClassifier(architecture: ClassifierArchitecture, options: PredictClassifierOptions): void {
  const { classifier, config, classNames, info } = loadSavedClassifier(options.weights, architecture, 'predict');
  const tokens = info.tokenizer.encode(options.text);
  if (tokens.length === 0) throw new Error('--text is empty or only whitespace; give the text to classify');

  const read = tokens.slice(0, config.maxLength);
  const unknown = read.filter((id) => id === info.tokenizer.unknownId).length;
  const cut = tokens.length > read.length ? `the first ${read.length} of ${tokens.length} word tokens (the model's maximum length)` : `${read.length} word token(s)`;
  console.log(`read ${cut}, ${unknown} of them not in the vocabulary`);

  // textBatches cuts and pads the text as evaluation does; its label is unused.
  const batch = textBatches([tokens], [0], { maxLength: config.maxLength }).batch([0]);
  const probabilities = evaluating(classifier.module, () => softmax(classifier.logits(batch.tokens, batch.lengths), 1)).toTypedArray();
  const ranked = Array.from(probabilities, (p, c) => ({ c, p })).sort((a, b) => b.p - a.p);
  console.log(`prediction: ${classNames[ranked[0].c]} (probability ${ranked[0].p.toFixed(4)})`);
  console.log(`probabilities: ${ranked.map(({ c, p }) => `${classNames[c]} ${p.toFixed(4)}`).join(', ')}`);
}

/**
 * Reads a weights file, checks that it contains a classifier of `architecture`, rebuilds the
 * classifier from its config and loads the weights. `action` names the command in the message
 * for a file of another kind.
 */
function loadSavedClassifier(path: string, architecture: ClassifierArchitecture, action: 'eval' | 'predict'): SavedClassifier {
  const { info, tensors } = readTextCheckpoint(path);
  const expected = `${architecture}-classifier`;
  if (info.model !== expected) {
    const languageModel = info.model.endsWith('-lm');
    const kind = languageModel ? `${info.model} (a language model)` : info.model;
    const use = languageModel ? 'metagrad generate' : `metagrad ${action} ${info.model.replace('-classifier', '')}`;
    throw new Error(`weights file ${path} contains a model of kind ${kind}, not ${expected}; use it with ${use}`);
  }
  if (info.classNames === undefined) {
    throw new Error(`weights file ${path} lacks the 'classNames' metadata; save it with metagrad train ${architecture} --save`);
  }

  const config = info.config as unknown as ClassifierConfig;
  let classifier: TextClassifier;
  try {
    classifier = buildTextClassifier(config);
  } catch (error) {
    throw new Error(`weights file ${path} has an invalid 'config' metadata entry: ${(error as Error).message}`);
  }
  loadTextWeights(path, classifier.module, tensors);
  return { classifier, config, classNames: info.classNames, info };
}
