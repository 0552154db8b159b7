/** Resolves the --dataset option of the image commands to a pair of labelled image sets. */
import { existsSync, statSync } from 'node:fs';
import {
  FASHION_MNIST_CLASSES, FASHION_MNIST_NORMALIZATION, type ImageDataset, MNIST_NORMALIZATION, loadFashionMnist, loadIdxDataset, loadMnist,
} from '@metagrad/data';

/** A dataset ready for training: both splits, class names and the normalisation to apply. */
export interface ImageTask {
  name: string;
  train: ImageDataset;
  test: ImageDataset;
  classNames: string[];
  normalize: { mean: number; std: number };
}

/** Number of outputs of the reference CNN. */
const CNN_CLASSES = 10;

/** Loads 'mnist', 'fashion-mnist', or a directory of IDX files in MNIST's layout. */
export function loadImageTask(dataset: string, split: 'train' | 'test' | 'both' = 'both'): ImageTask {
  if (dataset === 'mnist') {
    return {
      name: 'mnist',
      train: split === 'test' ? emptyLike('mnist-train') : loadMnist({ split: 'train' }),
      test: split === 'train' ? emptyLike('mnist-test') : loadMnist({ split: 'test' }),
      classNames: Array.from({ length: 10 }, (_, i) => String(i)),
      normalize: { ...MNIST_NORMALIZATION },
    };
  }
  if (dataset === 'fashion-mnist') {
    return {
      name: 'fashion-mnist',
      train: split === 'test' ? emptyLike('fashion-mnist-train') : loadFashionMnist({ split: 'train' }),
      test: split === 'train' ? emptyLike('fashion-mnist-test') : loadFashionMnist({ split: 'test' }),
      classNames: [...FASHION_MNIST_CLASSES],
      normalize: { ...FASHION_MNIST_NORMALIZATION },
    };
  }
  if (!existsSync(dataset) || !statSync(dataset).isDirectory()) {
    throw new Error(`dataset '${dataset}' is neither 'mnist', 'fashion-mnist' nor a directory of IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...)`);
  }
  // The reference CNN reads 28x28 images and has 10 outputs, so labels must be 0 to 9.
  const train = split === 'test' ? undefined : loadIdxDataset(dataset, { split: 'train', numClasses: CNN_CLASSES });
  const test = split === 'train' ? undefined : loadIdxDataset(dataset, { split: 'test', numClasses: CNN_CLASSES });
  const reference = train ?? test!;
  if (reference.height !== 28 || reference.width !== 28) {
    throw new Error(`dataset '${dataset}' has ${reference.height}x${reference.width} images, but the reference CNN reads 28x28 images; resize them first`);
  }
  const numClasses = CNN_CLASSES;
  return {
    name: reference.name.replace(/-(train|test)$/, ''),
    train: train ?? emptyLike(`${reference.name}-train`),
    test: test ?? emptyLike(`${reference.name}-test`),
    classNames: Array.from({ length: numClasses }, (_, i) => String(i)),
    normalize: pixelStatistics(reference),
  };
}

/** Mean and standard deviation of the pixels scaled to [0, 1]. */
export function pixelStatistics(dataset: ImageDataset): { mean: number; std: number } {
  let total = 0;
  let squares = 0;
  for (const byte of dataset.images) {
    total += byte;
    squares += byte * byte;
  }
  const count = Math.max(1, dataset.images.length);
  const mean = total / count / 255;
  const variance = squares / count / (255 * 255) - mean * mean;
  return { mean, std: Math.sqrt(Math.max(variance, 1e-12)) };
}

function emptyLike(name: string): ImageDataset {
  return { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0, height: 28, width: 28, numClasses: 10, name };
}
