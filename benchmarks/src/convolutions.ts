/**
 * The three convolutions of the reference CNN, shared by the suites that time them: their
 * sizes, seeded operands in each library's layout, and the three kernels on both sides.
 *
 * The reference CNN is
 *   1x28x28 -> conv 32 3x3 -> relu -> maxpool 2 -> conv 64 3x3 -> relu -> maxpool 2 -> conv 64 3x3
 * with no padding. metagrad works in NCHW with filters [F, C, KH, KW]. TF.js works in NHWC with
 * filters [KH, KW, C, F], so it gets the same values transposed to its layout.
 */
import ndarray, { type NdArray } from 'ndarray';
import { conv2d, conv2dBackwardFilter, conv2dBackwardInput, sizeOf } from '@metagrad/kernels';
import { randomFloat32 } from './random';
import { tf } from './tfjs';

/** A convolution of the reference CNN, for one image. */
export interface ConvLayer {
  name: string;
  inChannels: number;
  size: number;
  outChannels: number;
}

export const convLayers: ConvLayer[] = [
  { name: 'conv1', inChannels: 1, size: 28, outChannels: 32 },
  { name: 'conv2', inChannels: 32, size: 13, outChannels: 64 },
  { name: 'conv3', inChannels: 64, size: 5, outChannels: 64 },
];

export const kernelSize = 3;

/** Batch of the timed convolutions, the batch the reference CNN trains with. */
export const convBatch = 64;

/** Returns the floating-point operations of one convolution of `layer` (a multiply-add counts two). */
export function convFlops(layer: ConvLayer, batch: number): number {
  const outSize = layer.size - kernelSize + 1;
  return 2 * batch * layer.outChannels * outSize * outSize * layer.inChannels * kernelSize * kernelSize;
}

/** The input, filters and output gradient of one convolution, in each side's layout. */
export interface ConvInputs {
  x: NdArray<Float32Array>;
  w: NdArray<Float32Array>;
  dy: NdArray<Float32Array>;
  peerX: tf.Tensor4D;
  peerW: tf.Tensor4D;
  peerDy: tf.Tensor4D;
}

/** One of the three convolution kernels, on both sides. */
export interface ConvOperation {
  name: string;
  metagrad: (inputs: ConvInputs) => NdArray<Float32Array>;
  peer: (inputs: ConvInputs) => tf.Tensor4D;
  /** Axes that bring the peer's result back to metagrad's layout. */
  peerToMetagrad: number[];
}

const nhwcToNchw = [0, 3, 1, 2];

export const convOperations: ConvOperation[] = [
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

/** Creates seeded inputs in NCHW for metagrad and the same values in NHWC for TF.js. */
export function createConvInputs(layer: ConvLayer, batch: number): ConvInputs {
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

export function shape4d(value: { shape: readonly number[] }): [number, number, number, number] {
  const [a, b, c, d] = value.shape;
  return [a, b, c, d];
}
