import { Generator } from '@metagrad/autodiff';
import { type BatchSource, DataLoader } from '@metagrad/data';

/** Creates a source whose batches are the requested indices and that records every request. */
function indexSource(length: number): BatchSource<number[]> & { requests: number[][] } {
  const requests: number[][] = [];
  return {
    length,
    requests,
    batch: (indices) => {
      requests.push([...indices]);
      return [...indices];
    },
  };
}

/** Runs one epoch and returns its batches. */
function epoch<B>(loader: DataLoader<B>): B[] {
  return [...loader];
}

describe('DataLoader batching', () => {
  test('in order with a short last batch', () => {
    const loader = new DataLoader(indexSource(10), { batchSize: 4 });

    expect(loader.size).toBe(10);
    expect(loader.length).toBe(3);
    expect(epoch(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  test('batch size 1 by default', () => {
    const loader = new DataLoader(indexSource(3));

    expect(loader.length).toBe(3);
    expect(epoch(loader)).toEqual([[0], [1], [2]]);
  });

  test('dropLast skips the short batch', () => {
    const loader = new DataLoader(indexSource(10), { batchSize: 4, dropLast: true });

    expect(loader.length).toBe(2);
    expect(epoch(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
  });

  test('dropLast keeps a full last batch', () => {
    const loader = new DataLoader(indexSource(8), { batchSize: 4, dropLast: true });

    expect(loader.length).toBe(2);
    expect(epoch(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
  });

  test('dropLast with fewer examples than a batch', () => {
    const loader = new DataLoader(indexSource(3), { batchSize: 4, dropLast: true });

    expect(loader.length).toBe(0);
    expect(epoch(loader)).toEqual([]);
  });

  test('empty source', () => {
    const loader = new DataLoader(indexSource(0), { batchSize: 4 });

    expect(loader.size).toBe(0);
    expect(loader.length).toBe(0);
    expect(epoch(loader)).toEqual([]);
  });

  test('builds batches only when reached', () => {
    const source = indexSource(100);
    const loader = new DataLoader(source, { batchSize: 10 });

    for (const batch of loader) {
      if (batch[0] === 10) break;
    }
    expect(source.requests).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]]);
  });
});

describe('DataLoader shuffle', () => {
  test('visits every example once', () => {
    const loader = new DataLoader(indexSource(50), { batchSize: 7, shuffle: true, seed: 3 });

    const batches = epoch(loader);
    expect(batches.map((batch) => batch.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    const visited = batches.flat();
    expect([...visited].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(visited).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test('same seed gives same epochs', () => {
    const first = new DataLoader(indexSource(30), { batchSize: 8, shuffle: true, seed: 42 });
    const second = new DataLoader(indexSource(30), { batchSize: 8, shuffle: true, seed: 42 });

    const firstEpochs = [epoch(first), epoch(first), epoch(first)];
    const secondEpochs = [epoch(second), epoch(second), epoch(second)];
    expect(secondEpochs).toEqual(firstEpochs);
  });

  test('new order every epoch', () => {
    const loader = new DataLoader(indexSource(30), { batchSize: 8, shuffle: true, seed: 42 });

    const firstOrder = epoch(loader).flat();
    const secondOrder = epoch(loader).flat();
    expect(secondOrder).not.toEqual(firstOrder);
    expect([...secondOrder].sort((a, b) => a - b)).toEqual([...firstOrder].sort((a, b) => a - b));
  });

  test('different seeds give different orders', () => {
    const a = new DataLoader(indexSource(30), { shuffle: true, seed: 1 });
    const b = new DataLoader(indexSource(30), { shuffle: true, seed: 2 });

    expect(epoch(b)).not.toEqual(epoch(a));
  });

  test('without seed uses seed 0', () => {
    const unseeded = new DataLoader(indexSource(30), { batchSize: 8, shuffle: true });
    const seeded = new DataLoader(indexSource(30), { batchSize: 8, shuffle: true, seed: 0 });

    expect(epoch(unseeded)).toEqual(epoch(seeded));
  });

  test('draws from a given generator', () => {
    const loader = new DataLoader(indexSource(20), { batchSize: 20, shuffle: true, generator: new Generator(9) });

    expect(epoch(loader)).toEqual([new Generator(9).permutation(20)]);
  });

  test('rejects seed with generator', () => {
    expect(() => new DataLoader(indexSource(5), { shuffle: true, seed: 1, generator: new Generator(1) })).toThrow(
      'DataLoader: pass either seed or generator, not both',
    );
  });
});

describe('DataLoader limit', () => {
  test('uses only the first examples', () => {
    const loader = new DataLoader(indexSource(100), { batchSize: 4, limit: 10 });

    expect(loader.size).toBe(10);
    expect(loader.length).toBe(3);
    expect(epoch(loader).flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('shuffles within the limit', () => {
    const loader = new DataLoader(indexSource(100), { batchSize: 4, limit: 10, shuffle: true, seed: 5 });

    const visited = epoch(loader).flat();
    expect([...visited].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('larger than the source uses all', () => {
    const loader = new DataLoader(indexSource(6), { batchSize: 4, limit: 1000 });

    expect(loader.size).toBe(6);
    expect(loader.length).toBe(2);
  });

  test('zero gives no batches', () => {
    const loader = new DataLoader(indexSource(6), { limit: 0 });

    expect(loader.length).toBe(0);
    expect(epoch(loader)).toEqual([]);
  });
});

describe('DataLoader rejects', () => {
  test('invalid batch sizes', () => {
    for (const batchSize of [0, -1, 2.5, NaN]) {
      expect(() => new DataLoader(indexSource(5), { batchSize })).toThrow(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
  });

  test('invalid limits', () => {
    for (const limit of [-1, 1.5, NaN]) {
      expect(() => new DataLoader(indexSource(5), { limit })).toThrow(`DataLoader: limit must be a non-negative integer, got ${limit}`);
    }
  });
});
