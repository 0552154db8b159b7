/**
 * Suite `kernels`: metagrad's float32 kernels against TF.js on its CPU backend, in one process
 * and on the same inputs.
 *
 * The cases are square matmul, then the forward pass, input gradient and filter gradient of
 * each convolution of the reference CNN at batch 64, then the gate product of an LSTM step.
 * The reference CNN is
 *   1x28x28 -> conv 32 3x3 -> relu -> maxpool 2 -> conv 64 3x3 -> relu -> maxpool 2 -> conv 64 3x3
 * with no padding. metagrad works in NCHW with filters [F, C, KH, KW]. The TF.js CPU backend
 * works in NHWC with filters [KH, KW, C, F], so it gets the same values transposed to its
 * layout before timing starts.
 */
import ndarray, { type NdArray } from 'ndarray';
import { conv2d, conv2dBackwardFilter, conv2dBackwardInput, matmul, sizeOf } from '@metagrad/kernels';
import { checkAgreement } from './agreement';
import { type BenchmarkCase, type RunCounts, type Suite, timed } from './harness';
import { randomFloat32 } from './random';
import { tf, tfjsLabels, timedTfjs, useTfjsBackend } from './tfjs';

/** A convolution of the reference CNN, for one image. */
interface ConvLayer {
  name: string;
  inChannels: number;
  size: number;
  outChannels: number;
}

const convLayers: ConvLayer[] = [
  { name: 'conv1', inChannels: 1, size: 28, outChannels: 32 },
  { name: 'conv2', inChannels: 32, size: 13, outChannels: 64 },
  { name: 'conv3', inChannels: 64, size: 5, outChannels: 64 },
];

const kernelSize = 3;
const convBatch = 64;

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

/** The input, filters and output gradient of one convolution, in each side's layout. */
interface ConvInputs {
  x: NdArray<Float32Array>;
  w: NdArray<Float32Array>;
  dy: NdArray<Float32Array>;
  peerX: tf.Tensor4D;
  peerW: tf.Tensor4D;
  peerDy: tf.Tensor4D;
}

/** One of the three convolution kernels, on both sides. */
interface ConvOperation {
  name: string;
  metagrad: (inputs: ConvInputs) => NdArray<Float32Array>;
  peer: (inputs: ConvInputs) => tf.Tensor4D;
  /** Axes that bring the peer's result back to metagrad's layout. */
  peerToMetagrad: number[];
}

const nhwcToNchw = [0, 3, 1, 2];

const convOperations: ConvOperation[] = [
  {
    name: 'forward',
    metagrad: ({ x, w }) => conv2d(x, w, { padding: 'valid' }),
    peer: ({ peerX, peerW }) => tf.conv2d(peerX, peerW, 1, 'valid'),
    peerToMetagrad: nhwcToNchw,
  },
  {
    name: 'input gradient',
    metagrad: ({ x, w, dy }) => conv2dBackwardInput(dy, w, x.shape, { padding: 'valid' }),
    // The transposed convolution is TF.js's Conv2DBackpropInput kernel, the gradient of conv2d.
    peer: ({ peerX, peerW, peerDy }) => tf.conv2dTranspose(peerDy, peerW, shape4d(peerX), 1, 'valid'),
    peerToMetagrad: nhwcToNchw,
  },
  {
    name: 'filter gradient',
    metagrad: ({ x, w, dy }) => conv2dBackwardFilter(x, dy, w.shape, { padding: 'valid' }),
    // TF.js exports no op for this kernel, so it is called the way tf.conv2d's gradient calls it.
    peer: ({ peerX, peerW, peerDy }) =>
      tf.engine().runKernel<tf.Tensor4D>(
        tf.Conv2DBackpropFilter,
        { x: peerX, dy: peerDy },
        { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: shape4d(peerW) },
      ),
    // [KH, KW, C, F] to [F, C, KH, KW].
    peerToMetagrad: [3, 2, 0, 1],
  },
];

/**
 * Returns the cases of one layer at batch 64: each kernel alone, then all three in one run as
 * a training step computes them. First checks at a small batch that both sides agree.
 */
function convCases(layer: ConvLayer): BenchmarkCase[] {
  checkConvLayer(layer);

  const inputs = createConvInputs(layer, convBatch);
  const outSize = layer.size - kernelSize + 1;
  const flops = 2 * convBatch * layer.outChannels * outSize * outSize * layer.inChannels * kernelSize * kernelSize;

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

/** Creates seeded inputs in NCHW for metagrad and the same values in NHWC for TF.js. */
function createConvInputs(layer: ConvLayer, batch: number): ConvInputs {
  const outSize = layer.size - kernelSize + 1;
  const xShape = [batch, layer.inChannels, layer.size, layer.size];
  const wShape = [layer.outChannels, layer.inChannels, kernelSize, kernelSize];
  const dyShape = [batch, layer.outChannels, outSize, outSize];
  const x = ndarray(randomFloat32(sizeOf(xShape), 3), xShape);
  const w = ndarray(randomFloat32(sizeOf(wShape), 4), wShape);
  const dy = ndarray(randomFloat32(sizeOf(dyShape), 5), dyShape);

  const nchwToNhwc = [0, 2, 3, 1];
  const peerX = tf.tidy(() => tf.transpose(tf.tensor4d(x.data, shape4d(x)), nchwToNhwc));
  const peerW = tf.tidy(() => tf.transpose(tf.tensor4d(w.data, shape4d(w)), [2, 3, 1, 0]));
  const peerDy = tf.tidy(() => tf.transpose(tf.tensor4d(dy.data, shape4d(dy)), nchwToNhwc));
  return { x, w, dy, peerX, peerW, peerDy };
}

function shape4d(value: { shape: readonly number[] }): [number, number, number, number] {
  const [a, b, c, d] = value.shape;
  return [a, b, c, d];
}
