/**
 * Few-shot image classification: meta-train an MLP on N-way K-shot tasks drawn from 30 of the
 * 40 rotated MNIST (or Fashion-MNIST) classes, then measure accuracy on tasks from the other 10.
 */
import { Adam, Linear, ReLU, Sequential, crossEntropy } from '@metagrad/models';
import {
  type MAML, type MeanInterval, accuracyPerTask, crossEntropyPerTask, evaluateTaskBatch, fewShotTasks, meanConfidenceInterval,
  rotatedMnistClasses,
} from '@metagrad/metalearn';
import { FASHION_MNIST_NORMALIZATION, MNIST_NORMALIZATION } from '@metagrad/data';
import { startEpochProgress } from '../progress';
import { type AdaptationPath, type Algorithm, createMetaLearner, metaStep } from './algorithms';

export interface FewShotConfig {
  dataset: 'mnist' | 'fashion-mnist';
  algorithm: Algorithm;
  ways: number;
  shots: number;
  queries: number;
  hidden: number;
  innerSteps: number;
  innerLr: number;
  learnInnerLr: boolean;
  metaBatch: number;
  iterations: number;
  metaLr: number;
  seed: number;
  path: AdaptationPath;
  evalTasks: number;
  evalSteps: number[];
  progress: boolean;
}

export interface FewShotResult {
  metaLearner: MAML<Sequential>;
  metaLosses: number[];
  /** Accuracy on meta-test tasks with its 95% interval, by number of fine-tuning steps. */
  accuracy: Record<number, MeanInterval>;
  trainSeconds: number;
  classes: { metaTrain: string[]; metaTest: string[] };
}

/** Meta-trains on tasks from the meta-training classes and evaluates on tasks from the others. */
export function runFewShot(config: FewShotConfig, log: (line: string) => void): FewShotResult {
  const { dataset, metaTrain, metaTest } = rotatedMnistClasses({ dataset: config.dataset, seed: config.seed });
  const normalize = config.dataset === 'mnist' ? MNIST_NORMALIZATION : FASHION_MNIST_NORMALIZATION;
  const taskOptions = { ways: config.ways, shots: config.shots, queries: config.queries, flatten: true, normalize };
  const smallest = Math.min(metaTrain.length, metaTest.length);
  if (config.ways > smallest) {
    throw new Error(`--ways ${config.ways} is more than the ${metaTest.length} meta-test classes (and ${metaTrain.length} meta-training classes) of ${dataset.name}; use --ways ${smallest} or fewer`);
  }
  const fewest = Math.min(...[...metaTrain, ...metaTest].map((c) => c.indices.length));
  if (config.shots + config.queries > fewest) {
    throw new Error(
      `--shots ${config.shots} and --queries ${config.queries} need ${config.shots + config.queries} images of each class, but the smallest class of ${dataset.name} has ${fewest}; ` +
        `lower --queries to ${Math.max(1, fewest - config.shots)} or less`,
    );
  }
  const itemName = config.dataset === 'mnist' ? 'digit' : 'class';
  log(`${dataset.name}: ${metaTrain.length} meta-training classes, ${metaTest.length} meta-test classes (each ${itemName} at 0, 90, 180 and 270 degrees)`);

  const pixels = dataset.height * dataset.width;
  const model = new Sequential(
    new Linear(pixels, config.hidden, { seed: config.seed }), new ReLU(),
    new Linear(config.hidden, config.hidden, { seed: config.seed + 1 }), new ReLU(),
    new Linear(config.hidden, config.ways, { seed: config.seed + 2 }),
  );
  const metaLearner = createMetaLearner(config.algorithm, model, config);
  const optimizer = new Adam(metaLearner.parameters(), { lr: config.metaLr });
  const tasks = fewShotTasks(dataset, { ...taskOptions, classes: metaTrain, seed: config.seed });
  const losses = { taskLoss: crossEntropyPerTask, loss: crossEntropy };

  const progress = config.progress ? startEpochProgress('meta-training', config.iterations, 'steps') : undefined;
  const started = performance.now();
  const metaLosses: number[] = [];
  for (let i = 0; i < config.iterations; i++) {
    metaLosses.push(metaStep(metaLearner, optimizer, tasks.sampleBatch(config.metaBatch), losses, config.path));
    if (progress && (i % 10 === 9 || i === config.iterations - 1)) progress.update(i + 1, metaLosses[i]);
  }
  progress?.stop();
  const trainSeconds = (performance.now() - started) / 1000;
  log(`meta-training: ${config.iterations} meta-steps of ${config.metaBatch} tasks in ${trainSeconds.toFixed(1)} s`);

  // Held-out tasks are evaluated in chunks, so the per-task weights of all of them are never in memory at once.
  const heldOut = fewShotTasks(dataset, { ...taskOptions, classes: metaTest, seed: config.seed + 1_000_003 });
  const values = new Map<number, number[]>(config.evalSteps.map((step) => [step, []]));
  for (let done = 0; done < config.evalTasks; done += 50) {
    const batch = heldOut.sampleBatch(Math.min(50, config.evalTasks - done));
    const curves = evaluateTaskBatch(metaLearner, batch, crossEntropyPerTask, { steps: config.evalSteps, metric: accuracyPerTask });
    for (const [step, accuracies] of curves) values.get(step)!.push(...accuracies);
  }

  const accuracy: Record<number, MeanInterval> = {};
  for (const [step, accuracies] of values) accuracy[step] = meanConfidenceInterval(accuracies);
  return { metaLearner, metaLosses, accuracy, trainSeconds, classes: { metaTrain: metaTrain.map((c) => c.name), metaTest: metaTest.map((c) => c.name) } };
}
