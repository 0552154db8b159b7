/**
 * Training the reference CNN on an image dataset: the loop behind `metagrad train cnn`, usable
 * from code as well.
 */
import { imageLoader } from '@metagrad/data';
import { Adam, CosineAnnealingLR, SGD, type Optimizer, crossEntropy, referenceCnn } from '@metagrad/models';
import { stopIfDiverged } from '../divergence';
import { startEpochProgress } from '../progress';
import { type Evaluation, evaluateClassifier } from './evaluate';
import { type ImageTask } from './datasets';

export interface CnnTrainingConfig {
  epochs: number;
  batchSize: number;
  /** Learning rate of the first step. */
  lr: number;
  optimizer: 'adam' | 'sgd';
  /**
   * Learning-rate schedule. 'cosine' (the default) lowers the rate after each epoch along a cosine
   * that reaches 0 after the last epoch, so 3 epochs run at 1, 0.75 and 0.25 times `lr` and a
   * single epoch runs at `lr`. 'constant' keeps the rate at `lr`.
   */
  schedule?: 'cosine' | 'constant';
  seed: number;
  /** Train on the first N training images only. */
  trainLimit?: number;
  /** Evaluate on the first N test images only. */
  testLimit?: number;
  /** Draw progress bars on stderr. Default true. */
  progress?: boolean;
  /** Called with a line of text after each epoch. */
  log?: (line: string) => void;
}

export interface EpochRecord {
  epoch: number;
  meanLoss: number;
  trainSeconds: number;
  imagesPerSecond: number;
  evaluation: Evaluation;
  peakRssBytes: number;
}

export interface CnnTrainingResult {
  model: ReturnType<typeof referenceCnn>;
  optimizer: Optimizer;
  /** Training loss of every step, in order. */
  losses: number[];
  epochs: EpochRecord[];
  peakRssBytes: number;
}

/** Trains a fresh reference CNN on `task` and evaluates it on the test split after every epoch. */
export function trainCnn(task: ImageTask, config: CnnTrainingConfig): CnnTrainingResult {
  const model = referenceCnn({ seed: config.seed });
  const optimizer: Optimizer = config.optimizer === 'sgd'
    ? new SGD(model.parameters(), { lr: config.lr, momentum: 0.9 })
    : new Adam(model.parameters(), { lr: config.lr });
  const loader = imageLoader(task.train, {
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
    limit: config.trainLimit,
    normalize: task.normalize,
  });
  const schedule = config.schedule === 'constant' ? undefined : new CosineAnnealingLR(optimizer, { tMax: config.epochs });
  const losses: number[] = [];
  const epochs: EpochRecord[] = [];
  let peakRssBytes = process.memoryUsage.rss();

  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const progress = config.progress === false ? undefined : startEpochProgress(`epoch ${epoch}/${config.epochs}`, loader.size, 'images');
    const started = performance.now();
    let seen = 0;
    let epochLoss = 0;
    let steps = 0;
    let epochPeak = process.memoryUsage.rss();

    model.train();
    for (const { x, y } of loader) {
      const loss = crossEntropy(model.forward(x), y);
      const value = loss.item();
      stopIfDiverged(value, losses.length + 1, config.lr);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();

      losses.push(value);
      epochLoss += value;
      steps++;
      seen += y.size;
      if (steps % 20 === 0) epochPeak = Math.max(epochPeak, process.memoryUsage.rss());
      progress?.update(seen, value);
    }
    progress?.stop();
    schedule?.step();
    const trainSeconds = (performance.now() - started) / 1000;

    const evaluation = evaluateClassifier(model, task.test, { normalize: task.normalize, numClasses: task.classNames.length, limit: config.testLimit });
    epochPeak = Math.max(epochPeak, process.memoryUsage.rss());
    peakRssBytes = Math.max(peakRssBytes, epochPeak);
    const record: EpochRecord = {
      epoch,
      meanLoss: epochLoss / Math.max(steps, 1),
      trainSeconds,
      imagesPerSecond: seen / trainSeconds,
      evaluation,
      peakRssBytes: epochPeak,
    };
    epochs.push(record);
    config.log?.(
      `epoch ${epoch}/${config.epochs}: train loss ${record.meanLoss.toFixed(4)}, ` +
        `test accuracy ${(100 * evaluation.accuracy).toFixed(2)}% (${evaluation.correct}/${evaluation.total}), ` +
        `${trainSeconds.toFixed(1)} s training, ${record.imagesPerSecond.toFixed(0)} images/s, peak memory ${(epochPeak / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  return { model, optimizer, losses, epochs, peakRssBytes };
}
