/** The commands `metagrad train lstm` and `metagrad train transformer`. */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { TRANSFORMER_READOUTS, type TransformerReadout } from '@metagrad/models';
import { nonNegativeNumber, positiveInteger, positiveNumber, seedNumber } from '../options';
import { prepareOutputPaths } from '../output-paths';
import { type ClassifierEvaluation, trainTextClassifier } from './classifier-training';
import { DEFAULT_TEST_FRACTION, TEXT_DATASETS, emptySplitError, loadTextClassificationTask } from './classification-task';
import { dropoutProbability, probability, smoothingShare } from './text-options';
import { saveTextCheckpoint } from './text-checkpoint';
import { type ClassifierArchitecture, type ClassifierConfig } from './text-classifiers';
import { writeClassifierReport } from './text-report';

interface ClassifierOptions {
  dataset: string;
  epochs: number;
  maxLen: number;
  batchSize: number;
  lr: number;
  seed: number;
  testFraction: number;
  vocabSize: number;
  limit?: number;
  width: number;
  layers: number;
  /** Absent for train lstm, which has no --heads option. */
  heads?: number;
  dropout: number;
  readout?: TransformerReadout;
  normFirst?: boolean;
  clipNorm: number;
  labelSmoothing: number;
  weightDecay: number;
  save?: string;
  report?: string;
  progress: boolean;
}

/** Defaults of each architecture, chosen so that a default run reaches its accuracy on spam-assassin in minutes. */
const DEFAULTS: Record<ClassifierArchitecture, { epochs: number; maxLen: number; lr: number; width: number; layers: number; dropout: number }> = {
  lstm: { epochs: 6, maxLen: 64, lr: 5e-3, width: 64, layers: 2, dropout: 0.2 },
  transformer: { epochs: 5, maxLen: 64, lr: 2e-3, width: 64, layers: 2, dropout: 0.1 },
};

const DESCRIPTIONS: Record<ClassifierArchitecture, string> = {
  lstm: 'train the LSTM text classifier (word embedding, stacked LSTMs, linear head on the last state) and report test accuracy, precision and recall',
  transformer: 'train the BERT-style Transformer encoder classifier (pre-norm layers, read out at a learned [CLS] position plus the mean of the token positions) and report test accuracy, precision and recall',
};

/** Adds `train lstm` and `train transformer` under `train`. */
export function addTrainTextClassifierCommands(train: Command): void {
  for (const architecture of ['lstm', 'transformer'] as const) addClassifierCommand(train, architecture);
}

function addClassifierCommand(train: Command, architecture: ClassifierArchitecture): void {
  const defaults = DEFAULTS[architecture];
  const command = train
    .command(architecture)
    .description(DESCRIPTIONS[architecture])
    .addOption(new Option('--dataset <name>', 'labelled texts: spam-assassin (6,046 e-mails, ham or spam; sender, subject and body)').choices([...TEXT_DATASETS]).default('spam-assassin'))
    .option('--epochs <n>', 'number of passes over the training texts', positiveInteger, defaults.epochs)
    .option('--max-len <n>', 'maximum number of word tokens read from each text; longer texts are cut at the end', positiveInteger, defaults.maxLen)
    .option('--batch-size <n>', 'texts per optimizer step', positiveInteger, 32)
    .option('--lr <x>', 'peak learning rate of Adam, after a warm-up over a tenth of the steps (at most 100), decayed along a cosine to a twentieth', positiveNumber, defaults.lr)
    .option('--seed <n>', 'seed of the split, the initial weights and the batch order', seedNumber, 0)
    .option('--test-fraction <x>', 'share of each class held out for testing, between 0 and 1', probability, DEFAULT_TEST_FRACTION)
    .option('--vocab-size <n>', 'number of most frequent training words in the vocabulary, besides padding and unknown', positiveInteger, 10_000)
    .option('--limit <n>', 'use a random subset of n texts with the class shares of the whole dataset (default: all)', positiveInteger)
    .option('--width <n>', architecture === 'lstm' ? 'embedding and hidden size of the LSTM layers' : 'model width (dModel) of the encoder', positiveInteger, defaults.width)
    .option('--layers <n>', architecture === 'lstm' ? 'number of stacked LSTM layers' : 'number of encoder layers', positiveInteger, defaults.layers)
    .option(
      '--dropout <x>',
      architecture === 'lstm'
        ? 'dropout probability on the embeddings, between the LSTM layers and before the head, at least 0 and below 1'
        : 'dropout probability after the embeddings and inside each layer, at least 0 and below 1',
      dropoutProbability,
      defaults.dropout,
    );
  if (architecture === 'transformer') {
    command
      .option('--heads <n>', 'attention heads per layer; must divide --width', positiveInteger, 4)
      .addOption(
        new Option('--readout <kind>', 'what the head reads: the [CLS] position (cls), the mean of the token positions (mean) or their sum (cls+mean)')
          .choices([...TRANSFORMER_READOUTS])
          .default('cls+mean'),
      )
      .option('--norm-first', 'normalise before attention and the feed-forward block of each layer, with a final LayerNorm (pre-norm)', true)
      .option('--no-norm-first', 'normalise after each residual sum instead (post-norm, as BERT)');
  }
  command
    .option('--clip-norm <x>', 'maximum norm of all gradients together; larger gradients are scaled down to it', positiveNumber, 1)
    .option('--label-smoothing <x>', 'share of each target spread evenly over all classes in the training loss, at least 0 and below 1', smoothingShare, 0)
    .option('--weight-decay <x>', 'decoupled weight decay (AdamW) per step, scaled by the learning rate; 0 trains with plain Adam', nonNegativeNumber, 0)
    .option('--save <file>', 'write the trained weights, with the tokenizer and sizes in their metadata, to this .safetensors file')
    .option('--report <dir>', 'write loss.svg, accuracy.svg, confusion.svg and summary.json into this directory')
    .option('--no-progress', 'do not draw progress bars')
    .action(async (options: ClassifierOptions) => runClassifierCommand(architecture, options));
}

async function runClassifierCommand(architecture: ClassifierArchitecture, options: ClassifierOptions): Promise<void> {
  if (options.heads !== undefined && options.width % options.heads !== 0) {
    throw new Error(`--heads ${options.heads} must divide --width ${options.width}`);
  }
  prepareOutputPaths(options);
  const loadStarted = performance.now();
  const task = loadTextClassificationTask({ dataset: options.dataset, testFraction: options.testFraction, seed: options.seed, vocabularySize: options.vocabSize, limit: options.limit });
  for (const [part, texts] of [['training', task.train.sequences.length], ['testing', task.test.sequences.length]] as const) {
    if (texts === 0) throw emptySplitError(options, part);
  }
  console.log(
    `${task.name}: training on ${task.train.sequences.length.toLocaleString('en-US')} texts, testing on ${task.test.sequences.length.toLocaleString('en-US')}, ` +
      `vocabulary of ${task.tokenizer.size.toLocaleString('en-US')} tokens (loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s)`,
  );

  const model: ClassifierConfig = {
    architecture,
    vocabSize: task.tokenizer.size,
    numClasses: task.classNames.length,
    width: options.width,
    layers: options.layers,
    ...(options.heads !== undefined ? { heads: options.heads } : {}),
    maxLength: options.maxLen,
    dropout: options.dropout ?? 0,
    ...(options.readout ? { readout: options.readout } : {}),
    ...(options.normFirst !== undefined ? { normFirst: options.normFirst } : {}),
    seed: options.seed,
  };
  const started = performance.now();
  const result = trainTextClassifier(task, model, { ...options, log: (line) => console.log(line) });
  const totalSeconds = (performance.now() - started) / 1000;
  const final = result.epochs[result.epochs.length - 1].evaluation;
  console.log(`final test accuracy ${(100 * final.accuracy).toFixed(2)}% after ${options.epochs} epoch(s), ${totalSeconds.toFixed(1)} s in all`);
  console.log(formatEvaluation(final, task.classNames));

  if (options.save) {
    const split = { dataset: options.dataset, testFraction: options.testFraction, seed: options.seed, ...(options.limit !== undefined ? { limit: options.limit } : {}) };
    saveTextCheckpoint(options.save, result.classifier.module, { model: `${architecture}-classifier`, config: { ...model }, tokenizer: task.tokenizer, classNames: task.classNames, split });
    console.log(`saved weights, tokenizer and sizes to ${options.save}`);
  }
  if (options.report) {
    const summary = {
      command: process.argv.slice(2).join(' '),
      dataset: task.name,
      model,
      config: { epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, clipNorm: options.clipNorm, weightDecay: options.weightDecay, labelSmoothing: options.labelSmoothing, testFraction: options.testFraction, trainTexts: task.train.sequences.length, testTexts: task.test.sequences.length },
      epochs: result.epochs.map((e) => ({ epoch: e.epoch, meanTrainLoss: e.meanLoss, trainSeconds: e.trainSeconds, textsPerSecond: e.textsPerSecond, ...e.evaluation })),
      classNames: task.classNames,
      totalSeconds,
      node: process.version,
    };
    const files = await writeClassifierReport(options.report, result, summary, task.classNames);
    console.log(`wrote ${files.map((file) => resolve(file)).join(', ')}`);
  }
}

/** Formats precision and recall per class and the confusion matrix as aligned text. */
export function formatEvaluation(evaluation: ClassifierEvaluation, classNames: readonly string[]): string {
  const width = Math.max(10, ...classNames.map((name) => name.length + 2));
  const percent = (value: number) => (Number.isNaN(value) ? 'n/a' : `${(100 * value).toFixed(2)}%`);
  const lines = [`${'class'.padEnd(width)}${'precision'.padStart(11)}${'recall'.padStart(11)}${'texts'.padStart(8)}`];
  classNames.forEach((name, c) => {
    const texts = evaluation.confusion[c].reduce((sum, count) => sum + count, 0);
    lines.push(`${name.padEnd(width)}${percent(evaluation.precision[c]).padStart(11)}${percent(evaluation.recall[c]).padStart(11)}${String(texts).padStart(8)}`);
  });

  lines.push('', `confusion matrix (rows: true class, columns: predicted class)`);
  lines.push(`${''.padEnd(width)}${classNames.map((name) => name.padStart(width)).join('')}`);
  classNames.forEach((name, c) => lines.push(`${name.padEnd(width)}${evaluation.confusion[c].map((count) => String(count).padStart(width)).join('')}`));
  return lines.join('\n');
}
