import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ImageDataset, writeIdx } from '@metagrad/data';

/** Creates a fresh directory under the system's temp dir. Its `remove()` deletes it with its files. */
export function makeTempDir(): { path: string; file: (name: string) => string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'metagrad-data-'));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Builds the header of an IDX file: 00 00, type code, dimension count, then each size big-endian. */
export function idxHeader(typeCode: number, shape: number[]): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = typeCode;
  header[3] = shape.length;
  shape.forEach((size, axis) => view.setUint32(4 + 4 * axis, size, false));
  return header;
}

/** Writes the given byte chunks one after the other to `path`. */
export function writeBytes(path: string, ...chunks: ArrayLike<number>[]): void {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  writeFileSync(path, bytes);
}

/**
 * Writes one split of a small image dataset in MNIST's layout: image i has every pixel equal to
 * `pixelOf(i)`, and its label is labels[i].
 */
export function writeImageSplit(
  dir: string,
  split: 'train' | 'test',
  labels: number[],
  options: { height?: number; width?: number; gzip?: boolean; imageCount?: number; pixelOf?: (index: number) => number } = {},
): void {
  const { height = 3, width = 2, gzip = false, imageCount = labels.length, pixelOf = (index: number) => index } = options;
  const prefix = split === 'train' ? 'train' : 't10k';
  const suffix = gzip ? '.gz' : '';

  const images = new Uint8Array(imageCount * height * width);
  for (let i = 0; i < imageCount; i++) images.fill(pixelOf(i), i * height * width, (i + 1) * height * width);

  writeIdx(`${dir}/${prefix}-images-idx3-ubyte${suffix}`, { dtype: 'uint8', shape: [imageCount, height, width], data: images });
  writeIdx(`${dir}/${prefix}-labels-idx1-ubyte${suffix}`, { dtype: 'uint8', shape: [labels.length], data: new Uint8Array(labels) });
}

/** Builds an in-memory ImageDataset of `count` 2x2 images. Image i has every pixel equal to i and label i % numClasses. */
export function tinyImageDataset(count: number, numClasses = 3): ImageDataset {
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) images.fill(i, i * 4, (i + 1) * 4);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % numClasses);
  return { images, labels, count, height: 2, width: 2, numClasses, name: 'tiny-train' };
}
