import { grad, randn, sum, zeros } from '@metagrad/autodiff';
import { LearnedPositionalEmbedding, SinusoidalPositionalEncoding } from '@metagrad/models';

describe('SinusoidalPositionalEncoding', () => {
  test('first rows of the table', () => {
    const encoding = new SinusoidalPositionalEncoding(4, 10, { dtype: 'float64' });
    const rows = encoding.forward(zeros([2, 4], { dtype: 'float64' })).toArray() as number[][];
    expect(rows[0]).toEqual([0, 1, 0, 1]);
    expect(rows[1]).toEqual([Math.sin(1), Math.cos(1), Math.sin(0.01), Math.cos(0.01)]);
  });

  test('table follows the formula', () => {
    const dModel = 6;
    const table = new SinusoidalPositionalEncoding(dModel, 50, { dtype: 'float64' }).buffers()[0].toArray() as number[][];
    table.forEach((row, position) => {
      row.forEach((value, column) => {
        const frequency = Math.pow(10000, -(column - (column % 2)) / dModel);
        const expected = column % 2 === 0 ? Math.sin(position * frequency) : Math.cos(position * frequency);
        expect(Math.abs(value - expected)).toBeLessThanOrEqual(1e-15);
      });
    });
  });

  test('odd dModel ends with a sine', () => {
    const table = new SinusoidalPositionalEncoding(3, 4, { dtype: 'float64' }).buffers()[0].toArray() as number[][];
    expect(table[1][2]).toBeCloseTo(Math.sin(1 / Math.pow(10000, 2 / 3)), 15);
  });

  test('is a buffer, not a parameter', () => {
    const encoding = new SinusoidalPositionalEncoding(4, 8);
    expect(encoding.parameters()).toEqual([]);
    expect(Object.keys(encoding.stateDict())).toEqual(['pe']);
    expect(encoding.stateDict().pe.shape).toEqual([8, 4]);
  });

  test('layouts add the same rows', () => {
    const x = randn([2, 3, 4], { dtype: 'float64', seed: 1 });
    const batchFirst = new SinusoidalPositionalEncoding(4, 8, { batchFirst: true, dtype: 'float64' }).forward(x);
    const sequenceFirst = new SinusoidalPositionalEncoding(4, 8, { dtype: 'float64' }).forward(x.transpose(0, 1));
    expect(sequenceFirst.transpose(0, 1).toArray()).toEqual(batchFirst.toArray());
  });

  test('rejects long or mismatched inputs', () => {
    const encoding = new SinusoidalPositionalEncoding(4, 2);
    expect(() => encoding.forward(zeros([3, 4]))).toThrow('sequence length 3 exceeds maxLen 2');
    expect(() => encoding.forward(zeros([2, 5]))).toThrow('input [2, 5] must be [L, N, dModel] or [L, dModel] with dModel 4');
    expect(() => new SinusoidalPositionalEncoding(0, 2)).toThrow('dModel must be a positive integer, got 0');
  });
});

describe('LearnedPositionalEmbedding', () => {
  test('matches nn.Embedding names', () => {
    const embedding = new LearnedPositionalEmbedding(16, 8);
    expect(embedding.namedParameters().map(([name, p]) => [name, p.shape])).toEqual([['weight', [16, 8]]]);
  });

  test('adds the first rows', () => {
    const embedding = new LearnedPositionalEmbedding(5, 2, { batchFirst: true, dtype: 'float64', seed: 3 });
    const output = embedding.forward(zeros([2, 3, 2], { dtype: 'float64' })).toArray() as number[][][];
    const table = embedding.weight.toArray() as number[][];
    expect(output[0]).toEqual(table.slice(0, 3));
    expect(output[1]).toEqual(table.slice(0, 3));
  });

  test('gradient sums over the batch', () => {
    const embedding = new LearnedPositionalEmbedding(4, 2, { batchFirst: true, dtype: 'float64', seed: 4 });
    const [weightGrad] = grad(sum(embedding.forward(zeros([3, 2, 2], { dtype: 'float64' }))), [embedding.weight]);
    expect(weightGrad!.toArray()).toEqual([[3, 3], [3, 3], [0, 0], [0, 0]]);
  });

  test('is seeded', () => {
    const first = new LearnedPositionalEmbedding(4, 2, { seed: 5 }).weight.toArray();
    expect(new LearnedPositionalEmbedding(4, 2, { seed: 5 }).weight.toArray()).toEqual(first);
    expect(new LearnedPositionalEmbedding(4, 2, { seed: 6 }).weight.toArray()).not.toEqual(first);
  });
});
