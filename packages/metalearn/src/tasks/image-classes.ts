/**
 * Classes of a labelled image dataset as few-shot learning uses them: each class is a list of
 * image indices into the dataset's bytes, optionally with a rotation that makes it a new class
 * (as in Santoro et al., 2016, and Finn et al., 2017, for Omniglot). Images stay bytes until a
 * task is drawn, and are rotated only then.
 */
import { Generator } from '@metagrad/autodiff';

/** A rotation counterclockwise, in degrees. */
export type Rotation = 0 | 90 | 180 | 270;

/** Grayscale images with one label each, stored as bytes, as @metagrad/data's ImageDataset. */
export interface LabelledImages {
  /** Pixels of every image in row-major order, `height * width` bytes per image. */
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly name: string;
}

/** One class of a few-shot problem: the dataset's images of one label, turned by `rotation`. */
export interface ImageClass {
  /** The dataset label, for example 3, and the rotation, as '3@90'. */
  readonly name: string;
  readonly label: number;
  readonly rotation: Rotation;
  /** Dataset indices of the class's images. */
  readonly indices: Int32Array;
}

/**
 * Returns one class per dataset label and rotation, label-major: with rotations [0, 90, 180,
 * 270], MNIST's 10 labels give 40 classes.
 *
 * imageClasses(mnist, [0, 90]).map((c) => c.name).slice(0, 3); // ['0@0', '0@90', '1@0']
 */
export function imageClasses(dataset: LabelledImages, rotations: readonly Rotation[] = [0]): ImageClass[] {
  for (const rotation of rotations) {
    if (![0, 90, 180, 270].includes(rotation)) throw new Error(`imageClasses: rotation ${rotation} is not one of 0, 90, 180 or 270 degrees`);
    if (rotation % 180 !== 0 && dataset.height !== dataset.width) {
      throw new Error(`imageClasses: a ${rotation} degree rotation needs square images, but ${dataset.name} has ${dataset.height}x${dataset.width}`);
    }
  }

  const byLabel: number[][] = Array.from({ length: dataset.numClasses }, () => []);
  for (let i = 0; i < dataset.count; i++) byLabel[dataset.labels[i]].push(i);

  return byLabel.flatMap((indices, label) =>
    rotations.map((rotation) => ({ name: `${label}@${rotation}`, label, rotation, indices: Int32Array.from(indices) })),
  );
}

/**
 * Splits classes at random into disjoint meta-training and meta-test sets, so that meta-test
 * tasks ask for classes never seen in meta-training.
 *
 * splitClasses(classes, 30, 0); // { metaTrain: 30 classes, metaTest: the other classes }
 */
export function splitClasses(classes: readonly ImageClass[], metaTrainCount: number, seed = 0): { metaTrain: ImageClass[]; metaTest: ImageClass[] } {
  if (!Number.isInteger(metaTrainCount) || metaTrainCount < 1 || metaTrainCount >= classes.length) {
    throw new Error(`splitClasses: metaTrainCount must be a whole number from 1 to ${classes.length - 1} to leave classes for meta-testing, got ${metaTrainCount}`);
  }
  const order = new Generator(seed).permutation(classes.length);
  return {
    metaTrain: order.slice(0, metaTrainCount).map((i) => classes[i]),
    metaTest: order.slice(metaTrainCount).map((i) => classes[i]),
  };
}

/**
 * Copies image `index` of the dataset into `out` (height * width values, from `offset`),
 * rotated counterclockwise by `rotation`, with each byte mapped through `scale`.
 */
export function copyRotatedImage(
  dataset: LabelledImages,
  index: number,
  rotation: Rotation,
  out: Float32Array | Float64Array,
  offset: number,
  scale: (byte: number) => number,
): void {
  const { height, width } = dataset;
  const start = index * height * width;
  const pixels = dataset.images;

  // For output pixel (r, c), the source pixel of a counterclockwise turn by 90 degrees is
  // (c, width - 1 - r); 180 and 270 degrees follow by applying it two and three times.
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let source: number;
      if (rotation === 0) source = r * width + c;
      else if (rotation === 90) source = c * width + (width - 1 - r);
      else if (rotation === 180) source = (height - 1 - r) * width + (width - 1 - c);
      else source = (height - 1 - c) * width + r;
      out[offset + r * width + c] = scale(pixels[start + source]);
    }
  }
}
