import { gradcheck, gradgradcheck, randn, tensor } from '@metagrad/autodiff';
import { Embedding, functionalCall } from '@metagrad/models';
import { type EncodedTensor, decode, decodeState, expectMatches, loadCases, pairing } from './layers-reference';

interface EmbeddingCase {
  name: string;
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx: number | null;
  indices: EncodedTensor;
  state: Record<string, EncodedTensor>;
  output: EncodedTensor;
  cotangent: EncodedTensor;
  weightGrad: EncodedTensor;
}

describe('Embedding against PyTorch', () => {
  test.each(loadCases<EmbeddingCase>('embedding.json'))('$name', (reference) => {
    const table = new Embedding(reference.numEmbeddings, reference.embeddingDim, { dtype: 'float64', paddingIdx: reference.paddingIdx ?? undefined });
    table.loadStateDict(decodeState(reference.state));

    const output = table.forward(decode(reference.indices));
    expectMatches(output, reference.output, 'output');
    pairing([output], [reference.cotangent]).backward();
    expectMatches(table.weight.grad, reference.weightGrad, 'weight gradient');
  });
});

describe('Embedding', () => {
  test('starts from N(0, 1) with the padding row zeroed', () => {
    const table = new Embedding(200, 50, { paddingIdx: 3, seed: 1 });
    const rows = table.weight.toArray() as number[][];
    expect(rows[3]).toEqual(new Array(50).fill(0));
    const others = rows.filter((_, i) => i !== 3).flat();
    const mean = others.reduce((a, b) => a + b, 0) / others.length;
    const variance = others.reduce((a, b) => a + (b - mean) ** 2, 0) / others.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  test('negative paddingIdx counts from the end', () => {
    expect(new Embedding(10, 2, { paddingIdx: -1 }).paddingIdx).toBe(9);
  });

  test('nested lists of ids give [rows, columns, dim]', () => {
    const table = new Embedding(5, 3, { dtype: 'float64' });
    const output = table.forward([[1, 2], [4, 0]]);
    expect(output.shape).toEqual([2, 2, 3]);
    expect((output.toArray() as number[][][])[1][0]).toEqual((table.weight.toArray() as number[][])[4]);
  });

  // Without paddingIdx: the padding row's gradient is zero by design, which finite differences would not agree with.
  test('gradcheck and gradgradcheck with respect to the weight', () => {
    const table = new Embedding(4, 2, { dtype: 'float64' });
    const weight = randn([4, 2], { seed: 2, dtype: 'float64', requiresGrad: true });
    const ids = tensor([[0, 1, 3], [3, 2, 1]]);
    const f = (w: ReturnType<typeof randn>) => functionalCall(table, { weight: w }, ids).square();
    expect(gradcheck(f, [weight])).toBe(true);
    expect(gradgradcheck(f, [weight])).toBe(true);
  });

  test('the padding row gets no gradient', () => {
    const table = new Embedding(4, 2, { dtype: 'float64', paddingIdx: 0 });
    table.forward([[0, 2, 0]]).sum().backward();
    expect(table.weight.grad!.toArray()).toEqual([[0, 0], [0, 0], [1, 1], [0, 0]]);
  });

  test('functionalCall uses and differentiates the passed weight', () => {
    const table = new Embedding(3, 2, { dtype: 'float64' });
    const weight = tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float64', requiresGrad: true });
    const output = functionalCall(table, { weight }, [2, 2, 0]);
    expect(output.toArray()).toEqual([[5, 6], [5, 6], [1, 2]]);
    output.sum().backward();
    expect(weight.grad!.toArray()).toEqual([[1, 1], [0, 0], [2, 2]]);
    expect(table.weight.grad).toBeNull();
  });

  test.each([
    [() => new Embedding(0, 3), 'Embedding: numEmbeddings must be a positive integer, got 0'],
    [() => new Embedding(4, 3, { paddingIdx: 4 }), 'Embedding: paddingIdx 4 must be an integer in [-4, 3], within the table'],
    [() => new Embedding(4, 3).forward([[1, 2], [3]]), 'Embedding: row 1 of the indices has 1 ids but row 0 has 2; pad them to one length'],
  ])('invalid use %# is rejected', (make, message) => {
    expect(make).toThrow(message);
  });

  test('describe', () => {
    expect(new Embedding(10, 4, { paddingIdx: 0 }).describe()).toBe('10, 4, paddingIdx=0');
  });
});
