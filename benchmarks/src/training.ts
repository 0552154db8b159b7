/**
 * Suite `training`: one training step of the reference CNN on a batch of 64 real MNIST images,
 * metagrad against the same model in @tensorflow/tfjs-layers on TF.js's CPU backend.
 *
 * A step is forward, cross-entropy, backward and an Adam update (learning rate 0.001). The
 * table gives milliseconds per step; images per second is 64 divided by that. The GFLOP/s
 * column counts a training step as three forward passes (an estimate: the input gradient of the
 * first convolution is not needed, and pooling, activations and the update are not counted).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Tensor } from '@metagrad/autodiff';
import { MNIST_NORMALIZATION, imageLoader, loadMnist } from '@metagrad/data';
import { Adam, crossEntropy, referenceCnn } from '@metagrad/models';
import { type BenchmarkCase, type Suite, timed } from './harness';
import { tf, useTfjsBackend } from './tfjs';

const BATCH = 64;

/** Multiply-adds of one forward pass for one image: the three convolutions and two linear layers. */
const FORWARD_MACS = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 3 * 3 * 64 * 576 + 576 * 64 + 64 * 10;

export const trainingSuite: Suite = {
  name: 'training',
  description: `reference CNN training step (forward, cross-entropy, backward, Adam) on ${BATCH} MNIST images`,
  peer: 'TF.js CPU (tfjs-layers)',

  async cases() {
    const { x, labels } = firstBatch();
    const model = referenceCnn({ seed: 0 });
    const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    const metagradStep = () => {
      const loss = crossEntropy(model.forward(x), labels);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    };

    await useTfjsBackend('cpu');
    const peer = tfjsModel();
    const images = tf.transpose(tf.tensor4d(Float32Array.from(x.toTypedArray()), [BATCH, 1, 28, 28]), [0, 2, 3, 1]);
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32');
    // trainOnBatch runs forward, backward and the optimizer step, and resolves once the loss is read back.
    const peerStep = () => peer.trainOnBatch(images, oneHot);

    const cases: BenchmarkCase[] = [
      {
        name: `training step, batch ${BATCH}`,
        flops: 3 * 2 * FORWARD_MACS * BATCH,
        metagrad: timed(metagradStep, { warmup: 2, repetitions: 10 }),
        peer: timed(peerStep, { warmup: 1, repetitions: 2 }),
        dispose: () => {
          images.dispose();
          oneHot.dispose();
          peer.dispose();
        },
      },
    ];
    return cases;
  },
};

/** The first 64 training images, normalised as `metagrad train cnn` does, and their labels. */
function firstBatch(): { x: Tensor; labels: number[] } {
  const loader = imageLoader(loadMnist({ split: 'train' }), { batchSize: BATCH, normalize: MNIST_NORMALIZATION });
  const { x, y } = loader[Symbol.iterator]().next().value!;
  return { x, labels: Array.from(y.toTypedArray()) };
}

/** The reference CNN in tfjs-layers, NHWC as TF.js's CPU backend expects, with Adam 0.001. */
function tfjsModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 64, activation: 'relu' }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits) });
  return model;
}
