/**
 * Key padding: a padded batch must give, at the real positions, the outputs and parameter
 * gradients of the same sequences run one by one without padding.
 */
import { type Tensor, concat, grad, mul, randn, sum } from '@metagrad/autodiff';
import { CausalDecoderBlock, type Module, MultiheadAttention, TransformerEncoder, TransformerEncoderLayer } from '@metagrad/models';

const TOLERANCE = 1e-12;

/** Runs a module on one batch-first sequence [L, E] or batch [N, L, E] with an optional key padding mask. */
type Run = (x: Tensor, padding?: boolean[][]) => Tensor;

const lengths = [3, 1, 2];
const maxLength = 3;
const sequences = lengths.map((length, i) => randn([length, 4], { dtype: 'float64', seed: 10 + i }));
const upstream = lengths.map((length, i) => randn([length, 4], { dtype: 'float64', seed: 20 + i }));
const padding = lengths.map((length) => Array.from({ length: maxLength }, (_, position) => position >= length));

/** Pads each sequence to maxLength with `fill`-seeded noise and stacks them into [N, maxLength, 4]. */
function paddedBatch(fill: number): Tensor {
  const rows = sequences.map((sequence, i) => {
    const missing = maxLength - lengths[i];
    const noise = randn([missing, 4], { dtype: 'float64', seed: fill + i });
    return (missing > 0 ? concat([sequence, noise], 0) : sequence).unsqueeze(0);
  });
  return concat(rows, 0);
}

/** Runs a padded batch and returns the outputs at the real positions and the loss over them. */
function paddedRun(run: Run, batch: Tensor): { outputs: Tensor[]; loss: Tensor } {
  const output = run(batch, padding);
  const outputs = lengths.map((length, i) => output.slice(i, [0, length]));
  const loss = outputs.map((o, i) => sum(mul(o, upstream[i]))).reduce((total, term) => total.add(term));
  return { outputs, loss };
}

function separateRun(run: Run): { outputs: Tensor[]; loss: Tensor } {
  const outputs = sequences.map((sequence) => run(sequence.unsqueeze(0)).squeeze(0));
  const loss = outputs.map((o, i) => sum(mul(o, upstream[i]))).reduce((total, term) => total.add(term));
  return { outputs, loss };
}

function expectClose(actual: Tensor, expected: Tensor, label: string): void {
  const a = actual.toTypedArray();
  const e = expected.toTypedArray();
  expect({ label, shape: actual.shape }).toEqual({ label, shape: expected.shape });
  const worst = Math.max(0, ...Array.from(a, (value, i) => Math.abs(value - e[i])));
  expect({ label, worst: worst <= TOLERANCE ? 'within tolerance' : worst }).toEqual({ label, worst: 'within tolerance' });
}

function checkPaddingInvariance(module: Module, run: Run): void {
  const parameters = module.parameters();
  const reference = separateRun(run);
  const referenceGrads = grad(reference.loss, parameters);

  for (const fill of [100, 200]) {
    const padded = paddedRun(run, paddedBatch(fill));
    padded.outputs.forEach((output, i) => expectClose(output, reference.outputs[i], `output of sequence ${i} with padding ${fill}`));
    const paddedGrads = grad(padded.loss, parameters);
    module.namedParameters().forEach(([name], i) => expectClose(paddedGrads[i]!, referenceGrads[i]!, `gradient of ${name} with padding ${fill}`));
  }
}

describe('key padding', () => {
  test('MultiheadAttention ignores padded keys', () => {
    const attention = new MultiheadAttention(4, 2, { batchFirst: true, dtype: 'float64', seed: 1 });
    checkPaddingInvariance(attention, (x, mask) => attention.forward(x, x, x, { keyPaddingMask: mask }).output);
  });

  test('MultiheadAttention causal with padding', () => {
    const attention = new MultiheadAttention(4, 2, { batchFirst: true, dtype: 'float64', seed: 2 });
    checkPaddingInvariance(attention, (x, mask) => attention.forward(x, x, x, { keyPaddingMask: mask, isCausal: true }).output);
  });

  test.each([
    ['post-norm', false],
    ['pre-norm', true],
  ])('%s encoder layer ignores padding', (_label, normFirst) => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, normFirst, dtype: 'float64', seed: 3 });
    checkPaddingInvariance(layer, (x, mask) => layer.forward(x, { srcKeyPaddingMask: mask }));
  });

  test('encoder stack ignores padding', () => {
    const encoder = new TransformerEncoder((i) => new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, dtype: 'float64', seed: i }), 2);
    checkPaddingInvariance(encoder, (x, mask) => encoder.forward(x, { srcKeyPaddingMask: mask }));
  });

  test('causal block ignores padding', () => {
    const block = new CausalDecoderBlock(4, 2, { dimFeedforward: 6, dropout: 0, batchFirst: true, dtype: 'float64', seed: 4 });
    checkPaddingInvariance(block, (x, mask) => block.forward(x, { srcKeyPaddingMask: mask }));
  });
});
