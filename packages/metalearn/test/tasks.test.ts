import { existsSync } from 'node:fs';
import { DEBIAN_FASHION_MNIST_DIR } from '@metagrad/data';
import { type Rotation, type LabelledImages, copyRotatedImage, fewShotTasks, imageClasses, rotatedMnistClasses, sinusoidTasks, splitClasses } from '@metagrad/metalearn';

describe('sinusoidTasks', () => {
  it('draws from the given ranges', () => {
    const tasks = sinusoidTasks({ shots: 10, queries: 20, seed: 1 });
    for (let i = 0; i < 200; i++) {
      const task = tasks.sample();
      expect(task.amplitude).toBeGreaterThanOrEqual(0.1);
      expect(task.amplitude).toBeLessThanOrEqual(5);
      expect(task.phase).toBeGreaterThanOrEqual(0);
      expect(task.phase).toBeLessThanOrEqual(Math.PI);
      expect(task.supportX.shape).toEqual([10, 1]);
      expect(task.queryX.shape).toEqual([20, 1]);
      for (const x of task.queryX.toTypedArray()) {
        expect(x).toBeGreaterThanOrEqual(-5);
        expect(x).toBeLessThanOrEqual(5);
      }
    }
  });

  it('computes y = A sin(x - phase)', () => {
    const task = sinusoidTasks({ shots: 4, seed: 2, dtype: 'float64' }).sample();
    const xs = task.supportX.toTypedArray();
    const ys = task.supportY.toTypedArray();
    xs.forEach((x, i) => expect(ys[i]).toBeCloseTo(task.amplitude * Math.sin(x - task.phase), 12));
    expect(task.evaluate(1)).toBeCloseTo(task.amplitude * Math.sin(1 - task.phase), 12);
  });

  it('batches the tasks single draws give', () => {
    const batch = sinusoidTasks({ shots: 5, queries: 3, seed: 3 }).sampleBatch(4);
    const singles = sinusoidTasks({ shots: 5, queries: 3, seed: 3 });
    expect(batch.supportX.shape).toEqual([4, 5, 1]);
    expect(batch.queryY.shape).toEqual([4, 3, 1]);
    for (let t = 0; t < 4; t++) {
      const task = singles.sample();
      expect(batch.amplitudes[t]).toBe(task.amplitude);
      expect(Array.from(batch.supportY.slice(t).toTypedArray())).toEqual(Array.from(task.supportY.toTypedArray()));
      expect(Array.from(batch.task(t).queryX.toTypedArray())).toEqual(Array.from(task.queryX.toTypedArray()));
    }
  });

  it('repeats a stream for the same seed', () => {
    const first = sinusoidTasks({ shots: 5, seed: 7 }).sampleBatch(3);
    const second = sinusoidTasks({ shots: 5, seed: 7 }).sampleBatch(3);
    const other = sinusoidTasks({ shots: 5, seed: 8 }).sampleBatch(3);
    expect(Array.from(second.supportX.toTypedArray())).toEqual(Array.from(first.supportX.toTypedArray()));
    expect(Array.from(other.supportX.toTypedArray())).not.toEqual(Array.from(first.supportX.toTypedArray()));
  });

  it('rejects invalid options', () => {
    expect(() => sinusoidTasks({ shots: 0 })).toThrow('shots must be a whole number of at least 1, got 0');
    expect(() => sinusoidTasks({ shots: 5, amplitude: [5, 0.1] })).toThrow('amplitude must be a range [low, high]');
  });
});

/** Builds a 3x3 dataset of `perClass` images per label whose pixel values encode label, image and position. */
function syntheticDataset(numClasses: number, perClass: number): LabelledImages {
  const count = numClasses * perClass;
  const images = new Uint8Array(count * 9);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % numClasses;
    for (let p = 0; p < 9; p++) images[i * 9 + p] = (i * 9 + p) % 256;
  }
  return { images, labels, count, height: 3, width: 3, numClasses, name: 'synthetic' };
}

describe('image classes', () => {
  it('rotates counterclockwise', () => {
    const dataset = syntheticDataset(1, 1);
    const rotated = (rotation: Rotation) => {
      const out = new Float32Array(9);
      copyRotatedImage(dataset, 0, rotation, out, 0, (byte) => byte);
      return Array.from(out);
    };
    // 0 1 2 / 3 4 5 / 6 7 8 turned a quarter counterclockwise is 2 5 8 / 1 4 7 / 0 3 6.
    expect(rotated(0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rotated(90)).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect(rotated(180)).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(rotated(270)).toEqual([6, 3, 0, 7, 4, 1, 8, 5, 2]);
  });

  it('makes one class per label and rotation', () => {
    const classes = imageClasses(syntheticDataset(3, 4), [0, 90, 180, 270]);
    expect(classes).toHaveLength(12);
    expect(classes.slice(0, 5).map((c) => c.name)).toEqual(['0@0', '0@90', '0@180', '0@270', '1@0']);
    expect(Array.from(classes[4].indices)).toEqual([1, 4, 7, 10]);
  });

  it('splits classes into disjoint sets', () => {
    const classes = imageClasses(syntheticDataset(10, 2), [0, 90, 180, 270]);
    const { metaTrain, metaTest } = splitClasses(classes, 30, 5);
    expect(metaTrain).toHaveLength(30);
    expect(metaTest).toHaveLength(10);
    const trainNames = new Set(metaTrain.map((c) => c.name));
    expect(metaTest.filter((c) => trainNames.has(c.name))).toEqual([]);
  });
});

describe('fewShotTasks', () => {
  const dataset = syntheticDataset(8, 10);
  const classes = imageClasses(dataset, [0, 180]);

  // 24 images of 9 pixels: every pixel value is below 256, so each image's pixels identify it.
  const small = syntheticDataset(8, 3);

  it('draws ways classes with distinct images', () => {
    const tasks = fewShotTasks(small, { ways: 5, shots: 1, queries: 2, classes: imageClasses(small), seed: 1 });
    for (let i = 0; i < 20; i++) {
      const task = tasks.sample();
      expect(task.supportX.shape).toEqual([5, 1, 3, 3]);
      expect(task.queryX.shape).toEqual([10, 1, 3, 3]);
      expect(Array.from(task.supportY.toTypedArray())).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(task.queryY.toTypedArray())).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
      expect(new Set(task.classes.map((c) => c.name)).size).toBe(5);

      const images = [...chunks(task.supportX.toTypedArray(), 9), ...chunks(task.queryX.toTypedArray(), 9)];
      expect(new Set(images.map((pixels) => pixels[0])).size).toBe(15);
    }
  });

  it('scales pixels and applies the class rotation', () => {
    const rotatedOnly = imageClasses(small, [180]);
    const task = fewShotTasks(small, { ways: 1, shots: 1, queries: 1, classes: rotatedOnly, seed: 2, flatten: true }).sample();
    expect(task.supportX.shape).toEqual([1, 9]);
    const pixels = Array.from(task.supportX.toTypedArray()).map((v) => Math.round(v * 255));
    const first = pixels[8];
    expect(pixels).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0].map((p) => first + p));
    expect(Array.from(task.classes[0].indices)).toContain(first / 9);
  });

  it('batches the tasks single draws give', () => {
    const options = { ways: 3, shots: 1, queries: 2, classes, seed: 4 };
    const batch = fewShotTasks(dataset, options).sampleBatch(2);
    const singles = fewShotTasks(dataset, options);
    expect(batch.supportX.shape).toEqual([2, 3, 1, 3, 3]);
    expect(batch.queryY.shape).toEqual([2, 6]);
    for (let t = 0; t < 2; t++) {
      const task = singles.sample();
      expect(Array.from(batch.queryX.slice(t).toTypedArray())).toEqual(Array.from(task.queryX.toTypedArray()));
    }
  });

  it('rejects classes with too few images', () => {
    expect(() => fewShotTasks(dataset, { ways: 2, shots: 6, queries: 6, classes })).toThrow('class 0@0 has 10 images, fewer than shots + queries = 12');
    expect(() => fewShotTasks(dataset, { ways: 20, shots: 1, queries: 1, classes })).toThrow('a 20-way task needs at least 20 classes, but only 16 were given');
  });
});

/** Fashion-MNIST comes from Debian's dataset-fashion-mnist package, so its test runs only where that is installed. */
const itWithFashionMnist = existsSync(DEBIAN_FASHION_MNIST_DIR) ? it : it.skip;

describe('rotatedMnistClasses', () => {
  it('splits 40 rotated MNIST classes 30 to 10', () => {
    const { dataset, metaTrain, metaTest } = rotatedMnistClasses({ split: 'test', seed: 0 });
    expect(dataset.name).toBe('mnist-test');
    expect(metaTrain).toHaveLength(30);
    expect(metaTest).toHaveLength(10);
    const total = [...metaTrain, ...metaTest].reduce((sum, c) => sum + c.indices.length, 0);
    expect(total).toBe(4 * dataset.count);
  });

  itWithFashionMnist('loads Fashion-MNIST classes', () => {
    const { dataset, metaTrain, metaTest } = rotatedMnistClasses({ dataset: 'fashion-mnist', split: 'test', metaTrainClasses: 20 });
    expect(dataset.name).toBe('fashion-mnist-test');
    expect(metaTrain).toHaveLength(20);
    expect(metaTest).toHaveLength(20);
  });
});

function chunks(values: ArrayLike<number>, size: number): number[][] {
  const result: number[][] = [];
  for (let i = 0; i < values.length; i += size) result.push(Array.from(values).slice(i, i + size));
  return result;
}
