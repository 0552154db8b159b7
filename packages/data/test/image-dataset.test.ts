import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadIdxDataset, writeIdx } from '@metagrad/data';
import { makeTempDir, writeImageSplit } from './helpers';

const temp = makeTempDir();
afterAll(() => temp.remove());

/** Creates an empty directory inside the temp dir. */
function freshDir(name: string): string {
  const dir = temp.file(name);
  mkdirSync(dir);
  return dir;
}

describe('loadIdxDataset', () => {
  test('plain files of both splits', () => {
    const dir = freshDir('plain');
    writeImageSplit(dir, 'train', [3, 1, 4, 1, 5]);
    writeImageSplit(dir, 'test', [2, 7], { height: 4, width: 5 });

    const train = loadIdxDataset(dir, { split: 'train' });
    expect(train.count).toBe(5);
    expect(train.height).toBe(3);
    expect(train.width).toBe(2);
    expect(Array.from(train.labels)).toEqual([3, 1, 4, 1, 5]);
    expect(train.images.length).toBe(5 * 3 * 2);
    expect(Array.from(train.images.subarray(6, 12))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(train.name).toBe('plain-train');

    const test = loadIdxDataset(dir, { split: 'test', name: 'digits' });
    expect(test.count).toBe(2);
    expect([test.height, test.width]).toEqual([4, 5]);
    expect(test.name).toBe('digits-test');
  });

  test('gzip files', () => {
    const dir = freshDir('gzip');
    writeImageSplit(dir, 'test', [0, 9, 9], { gzip: true });

    const dataset = loadIdxDataset(dir, { split: 'test', numClasses: 10 });
    expect(dataset.count).toBe(3);
    expect(Array.from(dataset.labels)).toEqual([0, 9, 9]);
    expect(dataset.numClasses).toBe(10);
  });

  test('numClasses defaults to largest label plus one', () => {
    const dir = freshDir('inferred-classes');
    writeImageSplit(dir, 'train', [0, 2, 6, 1]);

    expect(loadIdxDataset(dir, { split: 'train' }).numClasses).toBe(7);
  });

  test('rejects label out of range', () => {
    const dir = freshDir('bad-label');
    writeImageSplit(dir, 'train', [1, 9, 10, 12]);
    const labelsPath = join(dir, 'train-labels-idx1-ubyte');

    expect(() => loadIdxDataset(dir, { split: 'train', numClasses: 10 })).toThrow(
      `loadIdxDataset: ${labelsPath}: label 10 at index 2 is out of range; expected 0 to 9`,
    );
  });

  test('rejects label count that disagrees', () => {
    const dir = freshDir('count-mismatch');
    writeImageSplit(dir, 'train', [1, 2, 3], { imageCount: 4 });
    const labelsPath = join(dir, 'train-labels-idx1-ubyte');
    const imagesPath = join(dir, 'train-images-idx3-ubyte');

    expect(() => loadIdxDataset(dir, { split: 'train' })).toThrow(`loadIdxDataset: ${labelsPath} has 3 labels but ${imagesPath} has 4 images`);
  });

  test('rejects images that are not 3-dimensional', () => {
    const dir = freshDir('flat-images');
    writeImageSplit(dir, 'train', [1, 2]);
    const imagesPath = join(dir, 'train-images-idx3-ubyte');
    writeIdx(imagesPath, { dtype: 'uint8', shape: [2, 6], data: new Uint8Array(12) });

    expect(() => loadIdxDataset(dir, { split: 'train' })).toThrow(
      `loadIdxDataset: ${imagesPath} has shape [2, 6]; expected 3 dimensions, [count, height, width]`,
    );
  });

  test('rejects labels that are not bytes', () => {
    const dir = freshDir('int-labels');
    writeImageSplit(dir, 'train', [1, 2]);
    const labelsPath = join(dir, 'train-labels-idx1-ubyte');
    writeIdx(labelsPath, { dtype: 'int32', shape: [2], data: new Int32Array([1, 2]) });

    expect(() => loadIdxDataset(dir, { split: 'train' })).toThrow(
      `loadIdxDataset: ${labelsPath} contains int32 elements; expected unsigned bytes (uint8)`,
    );
  });

  test('rejects missing label file', () => {
    const dir = freshDir('no-labels');
    writeIdx(join(dir, 't10k-images-idx3-ubyte'), { dtype: 'uint8', shape: [1, 1, 1], data: new Uint8Array(1) });

    expect(() => loadIdxDataset(dir, { split: 'test' })).toThrow(
      `loadIdxDataset: no t10k-labels-idx1-ubyte for the test split in ${dir}; expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz`,
    );
  });

  test('rejects missing directory', () => {
    const dir = temp.file('no-such-dir');
    expect(() => loadIdxDataset(dir, { split: 'train' })).toThrow(`loadIdxDataset: directory ${dir} not found`);
  });

  test('rejects unknown split', () => {
    const dir = freshDir('unknown-split');
    expect(() => loadIdxDataset(dir, { split: 'validation' as 'train' })).toThrow("unknown split 'validation'");
  });

  test('reports corrupt file errors', () => {
    const dir = freshDir('corrupt');
    writeImageSplit(dir, 'train', [1, 2], { gzip: true });
    const imagesPath = join(dir, 'train-images-idx3-ubyte.gz');
    writeIdx(imagesPath, { dtype: 'uint8', shape: [5], data: new Uint8Array(5) }, { gzip: false });

    expect(() => loadIdxDataset(dir, { split: 'train' })).toThrow(`IDX file ${imagesPath}: gzip stream failed to decompress`);
  });
});
