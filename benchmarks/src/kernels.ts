/**
 * Suite `kernels`: metagrad's float32 kernels against TF.js on its CPU backend, in one process
 * and on the same inputs.
 *
 * The cases are square matmul, then the forward pass, input gradient and filter gradient of
 * each convolution of the reference CNN at batch 64 (see convolutions.ts), then the gate
 * product of an LSTM step.
 */
import ndarray from 'ndarray';
import { matmul } from '@metagrad/kernels';
import { checkAgreement } from './agreement';
import { type ConvLayer, convBatch, convFlops, convLayers, convOperations, createConvInputs } from './convolutions';
import { type BenchmarkCase, type RunCounts, type Suite, timed } from './harness';
import { randomFloat32 } from './random';
import { tf, tfjsLabels, timedTfjs, useTfjsBackend } from './tfjs';

/** Batch of the agreement check, small because TF.js CPU takes seconds per filter gradient at batch 64. */
const checkBatch = 2;

/**
 * Runs of each side. TF.js CPU computes a filter gradient with plain loops and takes seconds
 * per run (about 20 s for conv2 in the run recorded in BENCHMARKS.md), so the cases that
 * include it get fewer runs on the TF.js side.
 */
const matmulCounts: Record<number, RunCounts> = {
  128: { warmup: 5, repetitions: 50 },
  256: { warmup: 3, repetitions: 20 },
  512: { warmup: 2, repetitions: 10 },
  1024: { warmup: 1, repetitions: 5 },
};
const convCounts: RunCounts = { warmup: 2, repetitions: 10 };
const slowPeerCounts: RunCounts = { warmup: 1, repetitions: 3 };
const lstmCounts: RunCounts = { warmup: 20, repetitions: 200 };

export const kernelsSuite: Suite = {
  name: 'kernels',
  description:
    'float32 kernels, metagrad vs TF.js CPU: square matmul; conv1 [64,1,28,28] * [32,1,3,3], ' +
    'conv2 [64,32,13,13] * [64,32,3,3] and conv3 [64,64,5,5] * [64,64,3,3] with no padding; ' +
    'LSTM gate product [32,128] x [128,256]',
  peer: tfjsLabels.cpu,

  async cases() {
    await useTfjsBackend('cpu');

    const matmuls = [128, 256, 512, 1024].map((size) => matmulCase(`matmul ${size}`, size, size, size, matmulCounts[size]));
    const convolutions = convLayers.flatMap((layer) => convCases(layer));
    const lstmGates = matmulCase('LSTM gates [32,128] x [128,256]', 32, 128, 256, lstmCounts);
    return [...matmuls, ...convolutions, lstmGates];
  },
};

/** Times `a [m, k] x b [k, n]` on both sides, after checking that both give the same product. */
function matmulCase(name: string, m: number, k: number, n: number, counts: RunCounts): BenchmarkCase {
  const aData = randomFloat32(m * k, 1);
  const bData = randomFloat32(k * n, 2);
  const a = ndarray(aData, [m, k]);
  const b = ndarray(bData, [k, n]);
  const peerA = tf.tensor2d(aData, [m, k]);
  const peerB = tf.tensor2d(bData, [k, n]);

  const peerProduct = tf.matMul(peerA, peerB);
  checkAgreement(name, matmul(a, b).data, peerProduct.dataSync());
  peerProduct.dispose();

  return {
    name,
    flops: 2 * m * k * n,
    metagrad: timed(() => matmul(a, b), counts),
    peer: timedTfjs(() => tf.matMul(peerA, peerB), counts),
    dispose: () => tf.dispose([peerA, peerB]),
  };
}

/**
 * Returns the cases of one layer at batch 64: each kernel alone, then all three in one run as
 * a training step computes them. First checks at a small batch that both sides agree.
 */
function convCases(layer: ConvLayer): BenchmarkCase[] {
  checkConvLayer(layer);

  const inputs = createConvInputs(layer, convBatch);
  const flops = convFlops(layer, convBatch);

  const [forward, inputGradient, filterGradient] = convOperations;
  const cases: BenchmarkCase[] = [
    {
      name: `${layer.name} forward`,
      flops,
      metagrad: timed(() => forward.metagrad(inputs), convCounts),
      peer: timedTfjs(() => forward.peer(inputs), convCounts),
    },
    {
      name: `${layer.name} input gradient`,
      flops,
      metagrad: timed(() => inputGradient.metagrad(inputs), convCounts),
      peer: timedTfjs(() => inputGradient.peer(inputs), convCounts),
    },
    {
      name: `${layer.name} filter gradient`,
      flops,
      metagrad: timed(() => filterGradient.metagrad(inputs), convCounts),
      peer: timedTfjs(() => filterGradient.peer(inputs), slowPeerCounts),
    },
    {
      name: `${layer.name} forward + both gradients`,
      flops: 3 * flops,
      metagrad: timed(() => convOperations.map((operation) => operation.metagrad(inputs)), convCounts),
      peer: timedTfjs(() => convOperations.map((operation) => operation.peer(inputs)), slowPeerCounts),
      dispose: () => tf.dispose([inputs.peerX, inputs.peerW, inputs.peerDy]),
    },
  ];
  return cases;
}

/** Throws unless both sides compute the same three results for `layer` at a small batch. */
function checkConvLayer(layer: ConvLayer): void {
  const inputs = createConvInputs(layer, checkBatch);

  for (const operation of convOperations) {
    const expected = tf.tidy(() => tf.transpose(operation.peer(inputs), operation.peerToMetagrad).dataSync());
    checkAgreement(`${layer.name} ${operation.name}`, operation.metagrad(inputs).data, expected);
  }

  tf.dispose([inputs.peerX, inputs.peerW, inputs.peerDy]);
}
