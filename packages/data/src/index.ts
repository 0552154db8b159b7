/**
 * @metagrad/data: readers for IDX files (MNIST, Fashion-MNIST) and a seeded DataLoader that
 * turns any indexable dataset into batches.
 */
export {
  type IdxArray, type IdxDataTypes, type IdxDtype, MAX_IDX_DIMENSIONS, decodeIdx, encodeIdx, readIdx, writeIdx,
} from './idx';
export { type IdxDatasetOptions, type ImageDataset, type Split, loadIdxDataset } from './image-dataset';
export {
  DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FASHION_MNIST_NORMALIZATION, MNIST_NORMALIZATION, type MnistOptions,
  loadFashionMnist, loadMnist,
} from './mnist';
export { type BatchSource, DataLoader, type DataLoaderOptions } from './data-loader';
export {
  type ImageBatch, type ImageBatchOptions, type ImageTransform, type TransformContext, imageBatches, imageLoader,
} from './image-batches';
