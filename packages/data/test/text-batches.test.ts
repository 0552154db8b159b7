import {
  BucketedLoader, type BatchSource, consecutiveWindows, padSequences, randomWindows, splitHeldOut, streamWindows, textBatches, textLoader,
} from '@metagrad/data';
import { Generator } from '@metagrad/autodiff';

describe('padSequences', () => {
  test('pads to the longest', () => {
    expect(padSequences([[5, 6, 7], [8]])).toEqual({ ids: [[5, 6, 7], [8, 0, 0]], lengths: [3, 1], mask: [[1, 1, 1], [1, 0, 0]] });
  });

  test('truncates the end by default', () => {
    expect(padSequences([[1, 2, 3, 4], [5]], { maxLength: 2 }).ids).toEqual([[1, 2], [5, 0]]);
  });

  test('truncates the start on request', () => {
    expect(padSequences([[1, 2, 3, 4]], { maxLength: 2, truncate: 'start' }).ids).toEqual([[3, 4]]);
  });

  test('uses the given padding id', () => {
    expect(padSequences([[1], [2, 3]], { paddingId: 9 }).ids).toEqual([[1, 9], [2, 3]]);
  });

  test('empty sequences keep one column', () => {
    expect(padSequences([[]])).toEqual({ ids: [[0]], lengths: [0], mask: [[0]] });
  });

  test('rejects maxLength 0', () => {
    expect(() => padSequences([[1]], { maxLength: 0 })).toThrow('maxLength must be a positive integer, got 0');
  });
});

describe('textBatches', () => {
  const sequences = [[4, 5, 6], [7], [], [8, 9]];
  const labels = [1, 0, 1, 0];

  test('batch holds tokens, lengths, mask and labels', () => {
    const batch = textBatches(sequences, labels, { maxLength: 2 }).batch([0, 1]);

    expect(batch.tokens).toEqual([[4, 5], [7, 0]]);
    expect(batch.lengths).toEqual([2, 1]);
    expect(batch.mask).toEqual([[1, 1], [1, 0]]);
    expect(Array.from(batch.y.toTypedArray())).toEqual([1, 0]);
    expect(batch.indices).toEqual([0, 1]);
  });

  test('empty text becomes the unknown token', () => {
    const batch = textBatches(sequences, labels, { maxLength: 4 }).batch([2]);

    expect(batch.tokens).toEqual([[1]]);
    expect(batch.lengths).toEqual([1]);
  });

  test('rejects mismatched labels', () => {
    expect(() => textBatches(sequences, [1], { maxLength: 4 })).toThrow('got 1 labels for 4 sequences');
  });

  test('rejects indices out of range', () => {
    expect(() => textBatches(sequences, labels, { maxLength: 4 }).batch([4])).toThrow('index 4 is out of range for 4 sequences');
  });
});

/** A source whose batches are the requested indices. */
function indexSource(length: number): BatchSource<number[]> {
  return { length, batch: (indices) => [...indices] };
}

describe('BucketedLoader', () => {
  const lengths = Array.from({ length: 100 }, (_, i) => (i * 37) % 101);

  test('each epoch visits every example once', () => {
    const loader = new BucketedLoader(indexSource(100), lengths, { batchSize: 8, poolBatches: 4, seed: 1 });
    const seen = [...loader].flat().sort((a, b) => a - b);

    expect(loader.length).toBe(13);
    expect([...loader]).toHaveLength(13);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  test('batches group similar lengths', () => {
    const loader = new BucketedLoader(indexSource(100), lengths, { batchSize: 8, poolBatches: 4, seed: 1 });
    const spread = (batch: number[]) => Math.max(...batch.map((i) => lengths[i])) - Math.min(...batch.map((i) => lengths[i]));
    const meanSpread = [...loader].reduce((total, batch) => total + spread(batch), 0) / loader.length;

    // Random batches of 8 from lengths spread over [0, 100] span about 78 on average.
    expect(meanSpread).toBeLessThan(40);
  });

  test('equal lengths are shuffled', () => {
    const loader = new BucketedLoader(indexSource(100), new Array<number>(100).fill(7), { batchSize: 10, seed: 3 });
    const firstHalf = (batch: number[]) => batch.filter((index) => index < 50).length;

    // Examples 0..49 and 50..99 stand for two classes stored one after the other.
    for (const batch of loader) {
      expect(firstHalf(batch)).toBeGreaterThan(0);
      expect(firstHalf(batch)).toBeLessThan(10);
    }
  });

  test('same seed, same epochs', () => {
    const first = new BucketedLoader(indexSource(100), lengths, { batchSize: 8, seed: 2 });
    const second = new BucketedLoader(indexSource(100), lengths, { batchSize: 8, seed: 2 });

    expect([...first]).toEqual([...second]);
    expect([...first]).toEqual([...second]);
  });

  test('epochs differ', () => {
    const loader = new BucketedLoader(indexSource(100), lengths, { batchSize: 8, seed: 2 });

    expect([...loader]).not.toEqual([...loader]);
  });

  test('without shuffle sorts by length', () => {
    const loader = new BucketedLoader(indexSource(100), lengths, { batchSize: 10, shuffle: false });
    const visited = [...loader].flat().map((i) => lengths[i]);

    expect(visited).toEqual([...visited].sort((a, b) => a - b));
  });

  test('rejects a length per example missing', () => {
    expect(() => new BucketedLoader(indexSource(3), [1, 2], { batchSize: 2 })).toThrow('got 2 lengths for a source of 3 examples');
  });

  test('textLoader buckets by capped length', () => {
    const sequences = Array.from({ length: 40 }, (_, i) => new Array<number>(1 + (i % 20)).fill(3));
    const loader = textLoader(sequences, new Array<number>(40).fill(0), { maxLength: 5, batchSize: 4, shuffle: false });

    expect(loader.lengths.every((length) => length >= 1 && length <= 5)).toBe(true);
    expect([...loader][0].lengths).toEqual([1, 1, 2, 2]);
    expect([...loader][0].tokens[0]).toEqual([3, 0]);
  });
});

describe('language model windows', () => {
  const ids = Array.from({ length: 50 }, (_, i) => i);

  test('targets are inputs shifted by one', () => {
    const { inputs, targets } = randomWindows(ids, { contextLength: 8, batchSize: 5, generator: new Generator(1) });

    expect(inputs).toHaveLength(5);
    inputs.forEach((row, i) => {
      expect(row).toHaveLength(8);
      expect(targets[i]).toEqual(row.map((id) => id + 1));
    });
  });

  test('windows reach the last token', () => {
    const generator = new Generator(0);
    const lastTargets = new Set<number>();
    for (let draw = 0; draw < 200; draw++) lastTargets.add(randomWindows([0, 1, 2, 3], { contextLength: 2, batchSize: 1, generator }).targets[0][1]);

    expect([...lastTargets].sort()).toEqual([2, 3]);
  });

  test('rejects a text shorter than the context', () => {
    expect(() => randomWindows([1, 2], { contextLength: 2, batchSize: 1, generator: new Generator(0) })).toThrow('fewer than contextLength + 1 = 3');
  });

  test('consecutive windows predict each token once', () => {
    const windows = consecutiveWindows(ids, 8);

    expect(windows.flatMap((w) => w.targets)).toEqual(ids.slice(1));
    expect(windows.flatMap((w) => w.inputs)).toEqual(ids.slice(0, -1));
    expect(windows.every((w) => w.inputs.length <= 8)).toBe(true);
  });

  test('streams continue row by row', () => {
    const next = streamWindows(ids, { streams: 2, contextLength: 4 });
    const first = next();
    const second = next();

    expect(first.restart).toBe(true);
    expect(first.inputs).toEqual([[0, 1, 2, 3], [25, 26, 27, 28]]);
    expect(first.targets).toEqual([[1, 2, 3, 4], [26, 27, 28, 29]]);
    expect(second.restart).toBe(false);
    expect(second.inputs).toEqual([[4, 5, 6, 7], [29, 30, 31, 32]]);
  });

  test('streams restart after the last window', () => {
    // Each stream has 25 tokens, so 6 windows of 4 inputs fit before the streams start again.
    const next = streamWindows(ids, { streams: 2, contextLength: 4 });
    const batches = Array.from({ length: 7 }, () => next());

    expect(batches.map((batch) => batch.restart)).toEqual([true, false, false, false, false, false, true]);
    expect(batches[5].targets[0]).toEqual([21, 22, 23, 24]);
    expect(batches[6].inputs).toEqual(batches[0].inputs);
  });

  test('rejects streams too short', () => {
    expect(() => streamWindows(ids, { streams: 20, contextLength: 4 })).toThrow('leave fewer than contextLength + 1 = 5 per stream');
  });

  test('held-out part is the end', () => {
    expect(splitHeldOut(ids, 0.1)).toEqual({ train: ids.slice(0, 45), heldOut: ids.slice(45) });
  });
});
