/**
 * Training a character-level language model: the loop behind `metagrad train lm`, usable from
 * code as well. It trains on the first part of a text and measures bits per character on the
 * held-out end of it.
 *
 * A Transformer trains on windows drawn at random offsets, each read from its start. A recurrent
 * model reads the text as parallel streams instead and carries its state from one window to the
 * next, so every position is trained with all the text before it as context. Backpropagation
 * runs through the current window only (truncated backpropagation through time).
 */
import { Generator, type Tensor } from '@metagrad/autodiff';
import { CharacterTokenizer, type LanguageModelBatch, consecutiveWindows, randomWindows, splitHeldOut, streamWindows } from '@metagrad/data';
import { Adam, type LSTMState, clipGradNorm, crossEntropy } from '@metagrad/models';
import { stopIfDiverged } from '../divergence';
import { evaluating } from '../evaluation-mode';
import { startEpochProgress } from '../progress';
import { type LanguageModel, type LanguageModelConfig, buildLanguageModel } from './language-models';

/**
 * Adam's decay rates. The second moment decays faster than PyTorch's default 0.999: in a
 * 10-minute trial on Moby-Dick this ended about 0.02 bits per character lower.
 */
const ADAM_BETAS = [0.9, 0.99] as const;
/** The learning rate's share of its peak at the end of the cosine; 0.01 ended about 0.01 bits lower than 0.1 in the same trial. */
const FINAL_LR_SHARE = 0.01;

/** Settings of one training run. */
export interface LanguageModelTrainingConfig {
  /** Maximum number of optimizer steps. */
  steps: number;
  /** Stops earlier, after this many seconds of training, when given. */
  maxSeconds?: number;
  batchSize: number;
  /** Peak learning rate, reached after the warm-up and decayed along a cosine to a hundredth of it. */
  lr: number;
  warmupSteps: number;
  /** Maximum norm of all gradients together; larger steps are scaled down to it. */
  clipNorm: number;
  /** Share of the text, at its end, held out for measuring bits per character. */
  heldOutFraction: number;
  /** Steps between two measurements on the start of the held-out text. */
  evalEvery: number;
  /** Number of held-out characters measured every evalEvery steps; the final measurement reads all of them. */
  evalCharacters: number;
  /** Number of characters sampled after each measurement. */
  sampleLength: number;
  progress?: boolean;
  log?: (line: string) => void;
}

/** One measurement on held-out text. */
export interface LanguageModelEvaluation {
  step: number;
  /** Seconds of training before the measurement. */
  seconds: number;
  bitsPerCharacter: number;
  /** Number of predicted characters the measurement averaged over. */
  characters: number;
  /** Text sampled after the measurement: the prompt, then the model's continuation. */
  sample?: string;
}

/** Everything a training run produced. */
export interface LanguageModelTrainingResult {
  model: LanguageModel;
  tokenizer: CharacterTokenizer;
  losses: number[];
  evaluations: LanguageModelEvaluation[];
  /** The measurement on the whole held-out text after training. */
  final: LanguageModelEvaluation;
  trainSeconds: number;
}

/**
 * Trains a fresh character model with the sizes in `model` (its vocabSize is taken from the
 * text) on `text`, and returns it with its measurements. The vocabulary is every character of the
 * whole text, so held-out characters are known too.
 */
export function trainLanguageModel(text: string, model: Omit<LanguageModelConfig, 'vocabSize'>, config: LanguageModelTrainingConfig): LanguageModelTrainingResult {
  const tokenizer = CharacterTokenizer.fromText(text);
  const { train, heldOut } = splitHeldOut(tokenizer.encode(text), config.heldOutFraction);
  if (train.length <= model.contextLength || heldOut.length < 2) {
    throw new Error(
      `the text has ${train.length + heldOut.length} characters, too few for a context of ${model.contextLength} with ${100 * config.heldOutFraction}% held out; use a longer text or a shorter --context`,
    );
  }
  const languageModel = buildLanguageModel({ ...model, vocabSize: tokenizer.size });
  const parameters = languageModel.module.parameters();
  const optimizer = new Adam(parameters, { lr: config.lr, betas: ADAM_BETAS });
  const generator = new Generator(model.seed);
  const evaluationText = heldOut.slice(0, config.evalCharacters + 1);
  const prompt = heldOut.slice(0, Math.min(32, heldOut.length - 1));

  const losses: number[] = [];
  const evaluations: LanguageModelEvaluation[] = [];
  const progress = config.progress === false ? undefined : startEpochProgress('training', config.steps, 'steps');
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const measure = (step: number, ids: number[]): LanguageModelEvaluation => {
    const bits = bitsPerCharacter(languageModel, ids, model.contextLength);
    const continuation = languageModel.generate(prompt, { maxTokens: config.sampleLength, temperature: 0.8, seed: step });
    return { step, seconds: elapsed(), ...bits, sample: tokenizer.decode([...prompt, ...continuation]) };
  };

  const nextBatch = trainingBatches(languageModel, train, model.contextLength, config.batchSize, generator);
  let step = 0;
  languageModel.module.train();
  while (step < config.steps && (config.maxSeconds === undefined || elapsed() < config.maxSeconds)) {
    optimizer.lr = config.lr * scheduleFactor(step, config, elapsed());
    const batch = nextBatch();
    const loss = crossEntropy(batch.logits().reshape([-1, tokenizer.size]), batch.targets.flat());
    const value = loss.item();
    stopIfDiverged(value, step + 1, config.lr);
    optimizer.zeroGrad();
    loss.backward();
    clipGradNorm(parameters, config.clipNorm);
    optimizer.step();

    step++;
    losses.push(value);
    progress?.update(step, losses[losses.length - 1]);
    if (step % config.evalEvery === 0) {
      const evaluation = measure(step, evaluationText);
      evaluations.push(evaluation);
      config.log?.(`\nstep ${step}: ${evaluation.bitsPerCharacter.toFixed(3)} bits per character on ${evaluation.characters} held-out characters, ${evaluation.seconds.toFixed(0)} s\n${evaluation.sample}\n`);
    }
  }
  progress?.stop();
  const trainSeconds = elapsed();

  const final = measure(step, heldOut);
  return { model: languageModel, tokenizer, losses, evaluations, final, trainSeconds };
}

/** A training batch and the function that computes its logits. */
interface TrainingBatch extends LanguageModelBatch {
  logits: () => Tensor;
}

/**
 * Returns the batch source of a run: random windows for a Transformer, or consecutive windows of
 * parallel streams for a recurrent model. The recurrent state is carried between batches,
 * detached from the previous batch's graph, and reset when the streams start again.
 */
function trainingBatches(model: LanguageModel, train: number[], contextLength: number, batchSize: number, generator: Generator): () => TrainingBatch {
  const runWithState = model.runWithState;
  if (runWithState === undefined) {
    return () => {
      const batch = randomWindows(train, { contextLength, batchSize, generator });
      return { ...batch, logits: () => model.logits(batch.inputs) };
    };
  }

  const nextWindows = streamWindows(train, { streams: batchSize, contextLength });
  let state: LSTMState | null = null;
  return () => {
    const batch = nextWindows();
    const start = batch.restart ? null : state;
    return {
      ...batch,
      logits: () => {
        const result = runWithState(batch.inputs, start);
        state = { hidden: result.state.hidden.detach(), cell: result.state.cell.detach() };
        return result.logits;
      },
    };
  };
}

/**
 * Returns the learning rate's share of its peak: a linear warm-up, then a cosine down to
 * FINAL_LR_SHARE over the run. A run limited by maxSeconds follows the curve over its time when
 * that is further along.
 */
function scheduleFactor(step: number, config: LanguageModelTrainingConfig, seconds: number): number {
  if (step < config.warmupSteps) return (step + 1) / config.warmupSteps;
  const byTime = config.maxSeconds === undefined ? 0 : seconds / config.maxSeconds;
  const progress = Math.min(1, Math.max((step - config.warmupSteps) / Math.max(1, config.steps - config.warmupSteps), byTime));
  return FINAL_LR_SHARE + ((1 - FINAL_LR_SHARE) / 2) * (1 + Math.cos(Math.PI * progress));
}

/**
 * Measures bits per character of `ids`: the mean of -log2 p(token | previous tokens).
 *
 * A Transformer reads the text in consecutive windows of contextLength characters, each starting
 * with no context, so this is a little above what unlimited context would give. A recurrent model
 * reads it as `batchSize` contiguous streams and carries its state through each stream.
 */
export function bitsPerCharacter(model: LanguageModel, ids: readonly number[], contextLength: number, batchSize = 32): { bitsPerCharacter: number; characters: number } {
  if (model.runWithState !== undefined) return streamedBitsPerCharacter(model, ids, contextLength, batchSize);
  const windows = consecutiveWindows(ids, contextLength);
  let nats = 0;
  let characters = 0;

  evaluating(model.module, () => {
    // The last window may be shorter than the others, so windows are batched by length.
    const byLength = new Map<number, typeof windows>();
    for (const window of windows) {
      const group = byLength.get(window.inputs.length) ?? [];
      group.push(window);
      byLength.set(window.inputs.length, group);
    }
    for (const group of byLength.values()) {
      for (let start = 0; start < group.length; start += batchSize) {
        const batch = group.slice(start, start + batchSize);
        const logits = model.logits(batch.map((window) => window.inputs));
        const targets = batch.flatMap((window) => window.targets);
        nats += crossEntropy(logits.reshape([targets.length, -1]), targets, { reduction: 'sum' }).item();
        characters += targets.length;
      }
    }
  });
  return { bitsPerCharacter: nats / characters / Math.LN2, characters };
}

/**
 * Measures bits per character of a recurrent model on `streams` contiguous pieces of `ids`, read
 * side by side in windows with the state carried through each piece. Every token of a piece after
 * its first is predicted. The last ids.length % streams tokens, fewer than `streams`, are not read.
 */
function streamedBitsPerCharacter(model: LanguageModel, ids: readonly number[], contextLength: number, streams: number): { bitsPerCharacter: number; characters: number } {
  const pieces = Math.max(1, Math.min(streams, Math.floor(ids.length / 2)));
  const pieceLength = Math.floor(ids.length / pieces);
  let nats = 0;
  let characters = 0;

  evaluating(model.module, () => {
    let state: LSTMState | null = null;
    for (let start = 0; start + 1 < pieceLength; start += contextLength) {
      const end = Math.min(start + contextLength, pieceLength - 1);
      const inputs = Array.from({ length: pieces }, (_, piece) => ids.slice(piece * pieceLength + start, piece * pieceLength + end));
      const targets = Array.from({ length: pieces }, (_, piece) => ids.slice(piece * pieceLength + start + 1, piece * pieceLength + end + 1)).flat();
      const result = model.runWithState!(inputs, state);
      state = result.state;
      nats += crossEntropy(result.logits.reshape([targets.length, -1]), targets, { reduction: 'sum' }).item();
      characters += targets.length;
    }
  });
  return { bitsPerCharacter: nats / characters / Math.LN2, characters };
}
