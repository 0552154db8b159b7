import { MNIST_NORMALIZATION, type TransformContext, imageBatches, imageLoader, loadMnist } from '@metagrad/data';
import { tinyImageDataset } from './helpers';

describe('imageBatches', () => {
  test('shapes and labels', () => {
    const source = imageBatches(tinyImageDataset(5));

    const batch = source.batch([4, 0, 2]);
    expect(source.length).toBe(5);
    expect(batch.x.shape).toEqual([3, 1, 2, 2]);
    expect(batch.x.dtype).toBe('float32');
    expect(batch.y.shape).toEqual([3]);
    expect(batch.y.dtype).toBe('float32');
    expect(Array.from(batch.y.data)).toEqual([1, 0, 2]);
    expect(batch.indices).toEqual([4, 0, 2]);
  });

  test('scales bytes to [0, 1]', () => {
    const dataset = tinyImageDataset(2);
    dataset.images.set([0, 51, 255, 128], 4);

    const { x } = imageBatches(dataset).batch([1]);
    expect(Array.from(x.data)).toEqual([0, 0.2, 1, 128 / 255].map(Math.fround));
  });

  test('normalises after scaling', () => {
    const dataset = tinyImageDataset(2);
    dataset.images.set([0, 51, 255, 128], 4);
    const { mean, std } = MNIST_NORMALIZATION;

    const { x } = imageBatches(dataset, { normalize: MNIST_NORMALIZATION }).batch([1]);
    const expected = [0, 51, 255, 128].map((byte) => (byte / 255 - mean) / std);
    expect(x.data[0]).toBeCloseTo(expected[0], 6);
    expect(x.data[0]).toBeCloseTo(-0.4242129, 6);
    expect(x.data[1]).toBeCloseTo(expected[1], 6);
    expect(x.data[2]).toBeCloseTo(expected[2], 6);
    expect(x.data[2]).toBeCloseTo(2.8214865, 6);
    expect(x.data[3]).toBeCloseTo(expected[3], 6);
  });

  test('transform sees scaled image and its context', () => {
    const seen: { pixels: number[]; context: TransformContext }[] = [];
    const source = imageBatches(tinyImageDataset(4), {
      transform: (image, context) => {
        seen.push({ pixels: Array.from(image), context });
      },
    });

    source.batch([3, 1]);
    expect(seen).toEqual([
      { pixels: Array(4).fill(Math.fround(3 / 255)), context: { index: 3, height: 2, width: 2 } },
      { pixels: Array(4).fill(Math.fround(1 / 255)), context: { index: 1, height: 2, width: 2 } },
    ]);
  });

  test('transform in place, then normalisation', () => {
    const source = imageBatches(tinyImageDataset(2), {
      normalize: { mean: 0.5, std: 0.25 },
      transform: (image) => {
        image[0] = 1;
      },
    });

    const { x } = source.batch([0]);
    expect(Array.from(x.data)).toEqual([2, -2, -2, -2]);
  });

  test('transform returning a new image', () => {
    const source = imageBatches(tinyImageDataset(2), {
      transform: (image) => image.map((value, i) => value + i),
    });

    const { x } = source.batch([0]);
    expect(Array.from(x.data)).toEqual([0, 1, 2, 3]);
  });

  test('transform runs on every batch', () => {
    let calls = 0;
    const loader = imageLoader(tinyImageDataset(6), { batchSize: 4, transform: () => void calls++ });

    [...loader];
    [...loader];
    expect(calls).toBe(12);
  });

  test('rejects transform of wrong length', () => {
    const source = imageBatches(tinyImageDataset(2), { transform: () => new Float32Array(3) });

    expect(() => source.batch([1])).toThrow(
      'imageBatches: the transform of example 1 returned a Float32Array of length 3; return nothing (after changing the image in place) or a Float32Array of 4 (2x2) pixels',
    );
  });

  test('rejects index out of range', () => {
    const source = imageBatches(tinyImageDataset(3));

    expect(() => source.batch([0, 3])).toThrow('imageBatches: index 3 is out of range for tiny-train, which has 3 images');
  });

  test('rejects invalid normalisation', () => {
    expect(() => imageBatches(tinyImageDataset(3), { normalize: { mean: 0, std: 0 } })).toThrow(
      'imageBatches: normalize needs a finite mean and a positive std, got mean 0, std 0',
    );
  });

  test('rejects inconsistent dataset', () => {
    const dataset = { ...tinyImageDataset(3), count: 4 };

    expect(() => imageBatches(dataset)).toThrow('imageBatches: tiny-train declares 4 images of 2x2, but has 12 pixels and 3 labels');
  });
});

describe('imageLoader', () => {
  test('batches MNIST test images', () => {
    const loader = imageLoader(loadMnist({ split: 'test' }), { batchSize: 64, normalize: MNIST_NORMALIZATION, limit: 200 });

    expect(loader.size).toBe(200);
    expect(loader.length).toBe(4);
    const batches = [...loader];
    expect(batches.map(({ x }) => x.shape)).toEqual([[64, 1, 28, 28], [64, 1, 28, 28], [64, 1, 28, 28], [8, 1, 28, 28]]);
    expect(Array.from(batches[0].y.data.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(batches[3].indices).toEqual([192, 193, 194, 195, 196, 197, 198, 199]);
  });

  test('normalised MNIST has zero mean, unit std', () => {
    const loader = imageLoader(loadMnist({ split: 'train' }), { batchSize: 1000, normalize: MNIST_NORMALIZATION, limit: 1000 });

    const [{ x }] = [...loader];
    let sum = 0;
    let sumOfSquares = 0;
    for (const value of x.data) {
      sum += value;
      sumOfSquares += value * value;
    }
    const mean = sum / x.size;
    const variance = sumOfSquares / x.size - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(variance) - 1)).toBeLessThan(0.05);
  });

  test('seeded shuffle gives same batches', () => {
    const dataset = loadMnist({ split: 'test' });
    const first = imageLoader(dataset, { batchSize: 16, shuffle: true, seed: 7, limit: 64 });
    const second = imageLoader(dataset, { batchSize: 16, shuffle: true, seed: 7, limit: 64 });

    const [a] = [...first];
    const [b] = [...second];
    expect(b.indices).toEqual(a.indices);
    expect(Array.from(b.x.data)).toEqual(Array.from(a.x.data));
    expect(Array.from(b.y.data)).toEqual(Array.from(a.y.data));
  });
});
