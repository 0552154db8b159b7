/**
 * Training a text classifier on a tokenized task: the loop behind `metagrad train lstm` and
 * `metagrad train transformer`, usable from code as well.
 */
import { textLoader } from '@metagrad/data';
import { Adam, AdamW, clipGradNorm, crossEntropy } from '@metagrad/models';
import { stopIfDiverged } from '../divergence';
import { evaluating } from '../evaluation-mode';
import { startEpochProgress } from '../progress';
import type { EncodedTexts, TextClassificationTask } from './classification-task';
import { type ClassifierConfig, type TextClassifier, buildTextClassifier } from './text-classifiers';

/** Settings of one training run. */
export interface ClassifierTrainingConfig {
  epochs: number;
  batchSize: number;
  /**
   * Peak learning rate, reached after a linear warm-up over the first tenth of the steps (at most
   * 100), then decayed along a cosine to a twentieth of it by the last step.
   */
  lr: number;
  /** Maximum norm of all gradients together; larger steps are scaled down to it. */
  clipNorm: number;
  /** Decoupled weight decay of AdamW; 0 (the default) trains with plain Adam. */
  weightDecay?: number;
  /** Share of each target's probability spread evenly over all classes in the loss. Default 0. */
  labelSmoothing?: number;
  /** Draw progress bars on stderr. Default true. */
  progress?: boolean;
  /** Called with a line of text after each epoch. */
  log?: (line: string) => void;
}

/** Test-set results of a classifier. */
export interface ClassifierEvaluation {
  correct: number;
  total: number;
  accuracy: number;
  /** confusion[actual][predicted] = number of test texts. */
  confusion: number[][];
  /** Per class: share of the texts predicted as the class that belong to it (NaN when none were predicted). */
  precision: number[];
  /** Per class: share of the texts of the class that were predicted as it (NaN when the class has none). */
  recall: number[];
}

/** One epoch of training and the test results after it. */
export interface ClassifierEpoch {
  epoch: number;
  meanLoss: number;
  trainSeconds: number;
  textsPerSecond: number;
  evaluation: ClassifierEvaluation;
}

/** Everything a training run produced. */
export interface ClassifierTrainingResult {
  classifier: TextClassifier;
  optimizer: Adam;
  /** Training loss of every step, in order. */
  losses: number[];
  epochs: ClassifierEpoch[];
}

/**
 * Trains a fresh classifier with the sizes in `model` on the training part of `task` with Adam (AdamW with weight decay),
 * in length-bucketed batches, and evaluates it on the test part after every epoch. The warm-up
 * keeps the first steps of a post-norm Transformer stable. The cosine decay lets the last epochs
 * take small steps around a minimum instead of jumping between neighbouring ones.
 */
export function trainTextClassifier(task: TextClassificationTask, model: ClassifierConfig, config: ClassifierTrainingConfig): ClassifierTrainingResult {
  const classifier = buildTextClassifier(model);
  const parameters = classifier.module.parameters();
  const weightDecay = config.weightDecay ?? 0;
  const labelSmoothing = config.labelSmoothing ?? 0;
  const optimizer = weightDecay > 0 ? new AdamW(parameters, { lr: config.lr, weightDecay }) : new Adam(parameters, { lr: config.lr });
  const loader = textLoader(task.train.sequences, task.train.labels, { maxLength: model.maxLength, batchSize: config.batchSize, seed: model.seed });
  const losses: number[] = [];
  const epochs: ClassifierEpoch[] = [];
  const totalSteps = config.epochs * loader.length;
  const warmupSteps = Math.min(100, Math.ceil(totalSteps / 10));

  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const progress = config.progress === false ? undefined : startEpochProgress(`epoch ${epoch}/${config.epochs}`, loader.size, 'texts');
    const started = performance.now();
    let seen = 0;
    let epochLoss = 0;
    let steps = 0;

    classifier.module.train();
    for (const batch of loader) {
      optimizer.lr = config.lr * learningRateFactor(losses.length, warmupSteps, totalSteps);
      const loss = crossEntropy(classifier.logits(batch.tokens, batch.lengths), batch.y, { labelSmoothing });
      const value = loss.item();
      stopIfDiverged(value, losses.length + 1, config.lr);
      optimizer.zeroGrad();
      loss.backward();
      clipGradNorm(parameters, config.clipNorm);
      optimizer.step();

      losses.push(value);
      epochLoss += value;
      steps++;
      seen += batch.indices.length;
      progress?.update(seen, value);
    }
    progress?.stop();
    const trainSeconds = (performance.now() - started) / 1000;

    const evaluation = evaluateTextClassifier(classifier, task.test, { maxLength: model.maxLength, numClasses: task.classNames.length });
    const record: ClassifierEpoch = { epoch, meanLoss: epochLoss / Math.max(steps, 1), trainSeconds, textsPerSecond: seen / trainSeconds, evaluation };
    epochs.push(record);
    config.log?.(
      `epoch ${epoch}/${config.epochs}: train loss ${record.meanLoss.toFixed(4)}, ` +
        `test accuracy ${(100 * evaluation.accuracy).toFixed(2)}% (${evaluation.correct}/${evaluation.total}), ` +
        `${trainSeconds.toFixed(1)} s training, ${record.textsPerSecond.toFixed(1)} texts/s`,
    );
  }
  return { classifier, optimizer, losses, epochs };
}

/** Returns the share of the peak learning rate at `step`: a linear warm-up, then a cosine down to 0.05. */
function learningRateFactor(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (step + 1) / warmupSteps;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return 0.05 + 0.475 * (1 + Math.cos(Math.PI * progress));
}

/**
 * Runs the classifier in evaluation mode over `texts` in length-sorted batches and counts its
 * predictions into a confusion matrix, with accuracy, precision and recall.
 */
export function evaluateTextClassifier(
  classifier: TextClassifier,
  texts: EncodedTexts,
  options: { maxLength: number; numClasses: number; batchSize?: number },
): ClassifierEvaluation {
  const loader = textLoader(texts.sequences, texts.labels, { maxLength: options.maxLength, batchSize: options.batchSize ?? 64, shuffle: false });
  const confusion = Array.from({ length: options.numClasses }, () => new Array<number>(options.numClasses).fill(0));

  evaluating(classifier.module, () => {
    for (const batch of loader) {
      const predicted = classifier.logits(batch.tokens, batch.lengths).argmax(1).toTypedArray();
      batch.indices.forEach((index, row) => confusion[texts.labels[index]][predicted[row]]++);
    }
  });
  return summarizeConfusion(confusion);
}

/** Computes accuracy, precision and recall from a confusion matrix. */
export function summarizeConfusion(confusion: number[][]): ClassifierEvaluation {
  const classes = confusion.length;
  const total = confusion.flat().reduce((sum, count) => sum + count, 0);
  const correct = confusion.reduce((sum, row, c) => sum + row[c], 0);
  const predictedAs = (c: number) => confusion.reduce((sum, row) => sum + row[c], 0);
  const actually = (c: number) => confusion[c].reduce((sum, count) => sum + count, 0);

  return {
    correct,
    total,
    accuracy: total > 0 ? correct / total : NaN,
    confusion,
    precision: Array.from({ length: classes }, (_, c) => confusion[c][c] / predictedAs(c)),
    recall: Array.from({ length: classes }, (_, c) => confusion[c][c] / actually(c)),
  };
}
