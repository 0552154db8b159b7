import { existsSync } from 'node:fs';
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, type ImageDataset, loadFashionMnist, loadMnist } from '@metagrad/data';
import { makeTempDir } from './helpers';

describe('loadMnist', () => {
  test('train split', () => {
    const train = loadMnist({ split: 'train' });

    expect(train.count).toBe(60_000);
    expect([train.height, train.width]).toEqual([28, 28]);
    expect(train.images.length).toBe(60_000 * 28 * 28);
    expect(train.labels.length).toBe(60_000);
    expect(train.numClasses).toBe(10);
    expect(train.name).toBe('mnist-train');
    expect(train.labels[0]).toBe(5);
  });

  let testSplit: ImageDataset;
  beforeAll(() => {
    testSplit = loadMnist({ split: 'test' });
  });

  test('test split', () => {
    expect(testSplit.count).toBe(10_000);
    expect([testSplit.height, testSplit.width]).toEqual([28, 28]);
    expect(testSplit.name).toBe('mnist-test');
    expect(testSplit.labels[0]).toBe(7);
    expect(Array.from(testSplit.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });

  test('first test image is drawn on black', () => {
    const first = testSplit.images.subarray(0, 28 * 28);

    // The corners are background, and the stroke reaches full intensity somewhere.
    expect(first[0]).toBe(0);
    expect(first[28 * 28 - 1]).toBe(0);
    expect(Math.max(...first)).toBeGreaterThan(250);
  });
});

describe('loadFashionMnist', () => {
  test('missing directory explains how to install', () => {
    const temp = makeTempDir();
    const dir = temp.file('no-fashion-mnist-here');
    try {
      expect(() => loadFashionMnist({ split: 'test', dir })).toThrow(`loadFashionMnist: directory ${dir} not found`);
      expect(() => loadFashionMnist({ split: 'test', dir })).toThrow("'sudo apt-get install dataset-fashion-mnist'");
      expect(() => loadFashionMnist({ split: 'test', dir })).toThrow('or pass { dir }');
    } finally {
      temp.remove();
    }
  });

  // Runs only where Debian's dataset-fashion-mnist package is installed.
  const testIfInstalled = existsSync(DEBIAN_FASHION_MNIST_DIR) ? test : test.skip;
  testIfInstalled('test split from the Debian package', () => {
    const test = loadFashionMnist({ split: 'test' });

    expect(test.count).toBe(10_000);
    expect([test.height, test.width]).toEqual([28, 28]);
    expect(test.numClasses).toBe(10);
    expect(test.name).toBe('fashion-mnist-test');
    expect(FASHION_MNIST_CLASSES[test.labels[0]]).toBe('Ankle boot');
  });
});
