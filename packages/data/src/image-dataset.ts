/**
 * Labelled grayscale image datasets stored as a pair of IDX files, in the layout MNIST uses.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type IdxArray, readIdx } from './idx';

/**
 * Grayscale images with one class label each. Pixels stay bytes (0 to 255) in memory: the 60,000
 * MNIST training images are 47 MB as bytes but would be 188 MB as float32, so a DataLoader converts
 * them to floats one batch at a time.
 */
export interface ImageDataset {
  /** Pixels of every image in row-major order: image i is `images.subarray(i * height * width, (i + 1) * height * width)`. */
  readonly images: Uint8Array;
  /** The class index of each image, from 0 to numClasses - 1. */
  readonly labels: Uint8Array;
  /** Number of images. */
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  /** The dataset and split, for example 'mnist-train'. */
  readonly name: string;
}

export type Split = 'train' | 'test';

export interface IdxDatasetOptions {
  split: Split;
  /**
   * The number of classes: every label must be below it. When omitted, it is the largest label
   * plus one, and no label is rejected.
   */
  numClasses?: number;
  /** Name of the dataset, without the split; defaults to the directory's name. */
  name?: string;
}

/** The file names of each split, without the optional .gz suffix. */
const SPLIT_FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/**
 * Loads one split of an image dataset from a directory in MNIST's layout:
 * train-images-idx3-ubyte and train-labels-idx1-ubyte for 'train', t10k-images-idx3-ubyte and
 * t10k-labels-idx1-ubyte for 'test', each plain or with a .gz suffix. Checks that images are
 * unsigned bytes of shape [count, height, width], that labels are unsigned bytes of shape [count],
 * and that every label is below `numClasses`.
 *
 * loadIdxDataset('/usr/share/datasets/fashion-mnist', { split: 'test', numClasses: 10 })
 *   // { count: 10000, height: 28, width: 28, numClasses: 10, name: 'fashion-mnist-test', ... }
 */
export function loadIdxDataset(dir: string, options: IdxDatasetOptions): ImageDataset {
  const { split } = options;
  const files = SPLIT_FILES[split];
  if (files === undefined) {
    throw new Error(`loadIdxDataset: unknown split '${String(split)}'; use 'train' or 'test'`);
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`loadIdxDataset: directory ${dir} not found`);
  }

  const imagesPath = findFile(dir, files.images, split);
  const labelsPath = findFile(dir, files.labels, split);
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);

  const imageData = checkUint8(images, 3, imagesPath, '[count, height, width]');
  const labelData = checkUint8(labels, 1, labelsPath, '[count]');
  const [count, height, width] = images.shape;
  if (labels.shape[0] !== count) {
    throw new Error(`loadIdxDataset: ${labelsPath} has ${labels.shape[0]} labels but ${imagesPath} has ${count} images; the two files must come from the same split`);
  }

  const numClasses = checkLabels(labelData, options.numClasses, labelsPath);

  const name = `${options.name ?? basename(dir)}-${split}`;
  return { images: imageData, labels: labelData, count, height, width, numClasses, name };
}

/** Returns the path of `fileName` or `fileName.gz` in `dir`, preferring the uncompressed file. */
function findFile(dir: string, fileName: string, split: Split): string {
  const candidates = [join(dir, fileName), join(dir, `${fileName}.gz`)];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`loadIdxDataset: no ${fileName} for the ${split} split in ${dir}; expected ${fileName} or ${fileName}.gz`);
  }
  return found;
}

function checkUint8(array: IdxArray, ndim: number, path: string, layout: string): Uint8Array {
  if (array.dtype !== 'uint8') {
    throw new Error(`loadIdxDataset: ${path} contains ${array.dtype} elements; expected unsigned bytes (uint8)`);
  }
  if (array.shape.length !== ndim) {
    throw new Error(`loadIdxDataset: ${path} has shape [${array.shape.join(', ')}]; expected ${ndim} dimensions, ${layout}`);
  }
  return array.data;
}

/** Returns the number of classes, after checking each label against `numClasses` when given. */
function checkLabels(labels: Uint8Array, numClasses: number | undefined, path: string): number {
  if (numClasses === undefined) {
    let max = -1;
    for (const label of labels) max = Math.max(max, label);
    return max + 1;
  }

  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`loadIdxDataset: numClasses must be a positive integer, got ${numClasses}`);
  }
  const badIndex = labels.findIndex((label) => label >= numClasses);
  if (badIndex !== -1) {
    throw new Error(`loadIdxDataset: ${path}: label ${labels[badIndex]} at index ${badIndex} is out of range; expected 0 to ${numClasses - 1}`);
  }
  return numClasses;
}
