/**
 * The adapter between an ImageDataset and a DataLoader: it turns the byte images at some indices
 * into a float32 batch, scaled, optionally augmented and normalised.
 */
import { Tensor } from '@metagrad/autodiff';
import { type BatchSource, DataLoader, type DataLoaderOptions } from './data-loader';
import type { ImageDataset } from './image-dataset';

/** A batch of images and their labels. */
export interface ImageBatch {
  /** Images as float32 of shape [B, 1, height, width]. */
  x: Tensor;
  /** Class indices as float32 of shape [B]. */
  y: Tensor;
  /** The dataset index of each example, in batch order. */
  indices: number[];
}

/** Position and size of the image passed to a transform. */
export interface TransformContext {
  /** Index of the example in the dataset. */
  index: number;
  height: number;
  width: number;
}

/**
 * Changes one image, for augmentation. `image` contains height * width pixels scaled to [0, 1], in
 * row-major order, before normalisation. The transform either changes `image` in place and
 * returns nothing, or returns a new array of the same length.
 */
export type ImageTransform = (image: Float32Array, context: TransformContext) => Float32Array | void;

export interface ImageBatchOptions {
  /**
   * Mean and standard deviation that normalise each pixel, as (pixel - mean) / std, after it is
   * scaled to [0, 1]. MNIST_NORMALIZATION contains MNIST's. Without it, pixels stay in [0, 1].
   */
  normalize?: { mean: number; std: number };
  /** Called on each image of each batch, so a random transform gives new images every epoch. */
  transform?: ImageTransform;
}

/**
 * Wraps an ImageDataset as a BatchSource of ImageBatch.
 *
 * const source = imageBatches(loadMnist({ split: 'test' }), { normalize: MNIST_NORMALIZATION });
 * source.batch([0, 1]).x.shape // [2, 1, 28, 28]
 */
export function imageBatches(dataset: ImageDataset, options: ImageBatchOptions = {}): BatchSource<ImageBatch> {
  const { mean, std } = options.normalize ?? { mean: 0, std: 1 };
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std <= 0) {
    throw new Error(`imageBatches: normalize needs a finite mean and a positive std, got mean ${mean}, std ${std}`);
  }
  const { height, width, count } = dataset;
  const pixels = height * width;
  if (dataset.images.length !== count * pixels || dataset.labels.length !== count) {
    throw new Error(
      `imageBatches: ${dataset.name} declares ${count} images of ${height}x${width}, ` +
        `but has ${dataset.images.length} pixels and ${dataset.labels.length} labels`,
    );
  }
  const { transform } = options;
  const normalizedByte = byteTable(mean, std);

  const batch = (indices: readonly number[]): ImageBatch => {
    const x = new Float32Array(indices.length * pixels);
    const y = new Float32Array(indices.length);

    indices.forEach((index, row) => {
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new Error(`imageBatches: index ${index} is out of range for ${dataset.name}, which has ${count} images`);
      }
      const bytes = dataset.images.subarray(index * pixels, (index + 1) * pixels);
      const offset = row * pixels;

      if (transform) {
        const image = applyTransform(transform, scaleImage(bytes), { index, height, width });
        for (let i = 0; i < pixels; i++) x[offset + i] = (image[i] - mean) / std;
      } else {
        for (let i = 0; i < pixels; i++) x[offset + i] = normalizedByte[bytes[i]];
      }
      y[row] = dataset.labels[index];
    });

    return {
      x: new Tensor(x, [indices.length, 1, height, width]),
      y: new Tensor(y, [indices.length]),
      indices: [...indices],
    };
  };

  return { length: count, batch };
}

/**
 * Creates a DataLoader over the images of `dataset`: imageBatches and DataLoader in one call.
 *
 * const train = loadMnist({ split: 'train' });
 * const loader = imageLoader(train, { batchSize: 64, shuffle: true, seed: 0, normalize: MNIST_NORMALIZATION });
 * for (const { x, y } of loader) { ... } // x: [64, 1, 28, 28], y: [64]
 */
export function imageLoader(dataset: ImageDataset, options: DataLoaderOptions & ImageBatchOptions = {}): DataLoader<ImageBatch> {
  return new DataLoader(imageBatches(dataset, options), options);
}

/** Converts bytes 0..255 to floats in [0, 1]. */
function scaleImage(bytes: Uint8Array): Float32Array {
  const image = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) image[i] = bytes[i] / 255;
  return image;
}

/**
 * Tabulates the normalised value of each byte, so images without a transform take one lookup per
 * pixel. It scales through float32 as scaleImage does, so both paths give the same floats.
 */
function byteTable(mean: number, std: number): Float32Array {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = (Math.fround(byte / 255) - mean) / std;
  return table;
}

function applyTransform(transform: ImageTransform, image: Float32Array, context: TransformContext): Float32Array {
  const result = transform(image, context) ?? image;
  if (!(result instanceof Float32Array) || result.length !== image.length) {
    const got = result instanceof Float32Array ? `a Float32Array of length ${result.length}` : typeof result;
    throw new Error(
      `imageBatches: the transform of example ${context.index} returned ${got}; ` +
        `return nothing (after changing the image in place) or a Float32Array of ${image.length} (${context.height}x${context.width}) pixels`,
    );
  }
  return result;
}
