/**
 * Suites `text` and `text-torch`: the sequence models of `metagrad train lstm` and
 * `metagrad train transformer`, against TF.js on its CPU backend and against PyTorch.
 *
 * Cases:
 *   - a training step of the LSTM classifier: token ids [32, 100] -> embedding 10,000 x 64 ->
 *     two stacked LSTMs of 64 -> linear head to 2 classes, cross-entropy, backward and an Adam
 *     update (learning rate 0.001). TF.js runs the same model in @tensorflow/tfjs-layers. A second
 *     row freezes the embedding on both sides, because TF.js's embedding gradient costs far more
 *     than the rest of its step.
 *   - a Transformer encoder block (post-norm, 4 heads, width 128, feed-forward 512, ReLU, no
 *     dropout) on x [16, 128, 128]: forward, then the gradients of sum(output) with respect to x
 *     and every weight. tfjs-layers 4.22 has no multi-head attention layer, so the TF.js block is
 *     written with tfjs-core ops and differentiated with tf.grads. Both sides use the same
 *     weights, and their outputs are checked to agree before timing.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Generator, type Tensor, randn } from '@metagrad/autodiff';
import { Adam, type LSTMClassifier, TransformerEncoderLayer, crossEntropy, lstmClassifier } from '@metagrad/models';
import { checkAgreement } from './agreement';
import { type BenchmarkCase, type RunCounts, type Suite, timed } from './harness';
import { pythonTwin } from './python';
import { tf, tfjsLabels, timedTfjs, useTfjsBackend } from './tfjs';

const LSTM = { batch: 32, steps: 100, vocabulary: 10_000, width: 64, classes: 2 };
const BLOCK = { batch: 16, length: 128, width: 128, heads: 4, feedForward: 512 };

/**
 * Floating-point operations of one LSTM classifier step, counting a multiply-add as two: the
 * input and recurrent products of both layers forward, and twice as many backward (input and
 * weight gradients). The gates, the embedding lookup, the head and the update are not counted.
 */
const LSTM_STEP_FLOPS = 3 * 2 * (2 * LSTM.batch * LSTM.steps * (LSTM.width + LSTM.width) * 4 * LSTM.width);

/** Floating-point operations of the block's forward pass; forward plus backward counts three. */
const BLOCK_FORWARD_FLOPS = (() => {
  const { batch, length, width, feedForward } = BLOCK;
  const rows = batch * length;
  const projections = 2 * rows * width * (3 * width) + 2 * rows * width * width;
  const attention = 2 * (2 * batch * length * length * width);
  const feedForwardFlops = 2 * (2 * rows * width * feedForward);
  return projections + attention + feedForwardFlops;
})();

/** TF.js takes minutes per LSTM step with a trainable embedding, so that case gets the fewest runs. */
const slowPeerCounts: RunCounts = { warmup: 0, repetitions: 2 };
const peerCounts: RunCounts = { warmup: 1, repetitions: 3 };
const metagradCounts: RunCounts = { warmup: 2, repetitions: 10 };

export const textSuite: Suite = {
  name: 'text',
  description:
    `LSTM classifier training step (tokens [${LSTM.batch}, ${LSTM.steps}], embedding ${LSTM.vocabulary} x ${LSTM.width}, two LSTMs of ${LSTM.width}, Adam); ` +
    `Transformer encoder block forward and backward (x [${BLOCK.batch}, ${BLOCK.length}, ${BLOCK.width}], ${BLOCK.heads} heads, feed-forward ${BLOCK.feedForward})`,
  peer: tfjsLabels.cpu,

  async cases() {
    await useTfjsBackend('cpu');
    return [lstmStepCase(false), lstmStepCase(true), await transformerBlockCase()];
  },
};

export const textTorchSuite: Suite = {
  name: 'text-torch',
  description: `the cases of the text suite against PyTorch on the CPU with one thread (torch.set_num_threads(1))`,
  peer: 'PyTorch CPU, 1 thread',

  async cases() {
    return [
      { ...lstmTwin(), peer: pythonTwin('text.py', ['lstm']) },
      { name: blockCaseName(), flops: 3 * BLOCK_FORWARD_FLOPS, metagrad: timed(metagradBlock().run, metagradCounts), peer: pythonTwin('text.py', ['block']) },
    ];
  },
};

function lstmTwin(): Omit<BenchmarkCase, 'peer'> {
  const { name, run } = metagradLstmStep(false);
  return { name, flops: LSTM_STEP_FLOPS, metagrad: timed(run, metagradCounts) };
}

/** Random token ids in [1, vocabulary), the same for both sides. */
function randomTokens(): number[][] {
  const generator = new Generator(7);
  return Array.from({ length: LSTM.batch }, () => Array.from({ length: LSTM.steps }, () => generator.integer(1, LSTM.vocabulary)));
}

/** metagrad's LSTM classifier step; `frozenEmbedding` keeps the embedding out of training. */
function metagradLstmStep(frozenEmbedding: boolean): { name: string; run: () => void } {
  const tokens = randomTokens();
  const labels = tokens.map((row) => row[0] % LSTM.classes);
  const model: LSTMClassifier = lstmClassifier({ vocabSize: LSTM.vocabulary, embedDim: LSTM.width, hiddenSize: LSTM.width, numLayers: 2, numClasses: LSTM.classes, seed: 0 });
  if (frozenEmbedding) model.embedding.weight.requiresGrad_(false);
  const optimizer = new Adam(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-3 });
  const lengths = tokens.map(() => LSTM.steps);

  const run = () => {
    const loss = crossEntropy(model.forward(tokens, { lengths }), labels);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  };
  return { name: `LSTM classifier training step${frozenEmbedding ? ', embedding frozen' : ''}`, run };
}

/** Builds the case of the LSTM classifier step on both sides. */
function lstmStepCase(frozenEmbedding: boolean): BenchmarkCase {
  const { name, run } = metagradLstmStep(frozenEmbedding);
  const tokens = randomTokens();
  const labels = tokens.map((row) => row[0] % LSTM.classes);
  const peer = tfjsLstmClassifier(frozenEmbedding);
  const peerTokens = tf.tensor2d(tokens.flat(), [LSTM.batch, LSTM.steps]);
  const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), LSTM.classes), 'float32');
  // trainOnBatch runs forward, backward and the optimizer step, and resolves once the loss is read back.
  const peerStep = () => peer.trainOnBatch(peerTokens, oneHot);

  return {
    name,
    flops: LSTM_STEP_FLOPS,
    metagrad: timed(run, metagradCounts),
    peer: timed(peerStep, frozenEmbedding ? peerCounts : slowPeerCounts),
    dispose: () => {
      peerTokens.dispose();
      oneHot.dispose();
      peer.dispose();
    },
  };
}

/** Builds the LSTM classifier in tfjs-layers: embedding, two LSTMs (the first returning every step), dense head; Adam 0.001. */
function tfjsLstmClassifier(frozenEmbedding: boolean): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: LSTM.vocabulary, outputDim: LSTM.width, inputLength: LSTM.steps, trainable: !frozenEmbedding }),
      // The default orthogonal recurrent initializer calls Tensor.flatten, a chained op that
      // tfjs-core alone does not register, so both LSTMs start from Glorot-uniform weights instead.
      tfl.layers.lstm({ units: LSTM.width, returnSequences: true, recurrentInitializer: 'glorotUniform' }),
      tfl.layers.lstm({ units: LSTM.width, recurrentInitializer: 'glorotUniform' }),
      tfl.layers.dense({ units: LSTM.classes }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits) });
  return model;
}

function blockCaseName(): string {
  return `Transformer block forward + backward, x [${BLOCK.batch}, ${BLOCK.length}, ${BLOCK.width}]`;
}

/** metagrad's encoder layer with its input, and one timed run: forward, then backward of sum(output). */
function metagradBlock(): { layer: TransformerEncoderLayer; x: Tensor; run: () => void } {
  const layer = new TransformerEncoderLayer(BLOCK.width, BLOCK.heads, { dimFeedforward: BLOCK.feedForward, dropout: 0, batchFirst: true, seed: 3 });
  const x = randn([BLOCK.batch, BLOCK.length, BLOCK.width], { seed: 4 }).requiresGrad_(true);
  const run = () => {
    layer.zeroGrad();
    x.grad = null;
    layer.forward(x).sum().backward();
  };
  return { layer, x, run };
}

async function transformerBlockCase(): Promise<BenchmarkCase> {
  const { layer, x, run } = metagradBlock();
  const state = layer.stateDict();
  const weights = BLOCK_WEIGHT_NAMES.map((name) => tf.tensor(Float32Array.from(state[name].toTypedArray()), state[name].shape));
  const peerX = tf.tensor3d(Float32Array.from(x.toTypedArray()), [BLOCK.batch, BLOCK.length, BLOCK.width]);

  const expected = await tf.tidy(() => tfjsBlock(peerX, weights)).data();
  checkAgreement(blockCaseName(), layer.forward(x).toTypedArray(), expected);

  const gradients = tf.grads((input: tf.Tensor, ...parameters: tf.Tensor[]) => tf.sum(tfjsBlock(input, parameters)));
  return {
    name: blockCaseName(),
    flops: 3 * BLOCK_FORWARD_FLOPS,
    metagrad: timed(run, metagradCounts),
    peer: timedTfjs(() => gradients([peerX, ...weights]), peerCounts),
    dispose: () => tf.dispose([peerX, ...weights]),
  };
}

/** State-dict names of the block's weights, in the order tfjsBlock takes them. */
const BLOCK_WEIGHT_NAMES = [
  'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
  'norm1.weight', 'norm1.bias', 'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm2.weight', 'norm2.bias',
];

/**
 * Computes the post-norm encoder block of torch.nn.TransformerEncoderLayer in tfjs-core ops:
 *   y = norm1(x + out_proj(attention(x)));  output = norm2(y + linear2(relu(linear1(y))))
 * with linear layers computing x Wᵀ + b as PyTorch stores W.
 */
function tfjsBlock(x: tf.Tensor, weights: tf.Tensor[]): tf.Tensor {
  const [inProjWeight, inProjBias, outProjWeight, outProjBias, norm1Weight, norm1Bias, linear1Weight, linear1Bias, linear2Weight, linear2Bias, norm2Weight, norm2Bias] = weights;
  const { batch, length, width, heads } = BLOCK;
  const headWidth = width / heads;
  const rows = tf.reshape(x, [batch * length, width]);
  const linear = (input: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.add(tf.matMul(input, weight, false, true), bias);
  const toHeads = (part: tf.Tensor) => tf.transpose(tf.reshape(part, [batch, length, heads, headWidth]), [0, 2, 1, 3]);

  const [query, key, value] = tf.split(linear(rows, inProjWeight, inProjBias), 3, 1).map(toHeads);
  const scores = tf.mul(tf.matMul(query, key, false, true), 1 / Math.sqrt(headWidth));
  const context = tf.matMul(tf.softmax(scores), value);
  const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * length, width]);

  const attended = layerNorm(tf.add(rows, linear(merged, outProjWeight, outProjBias)), norm1Weight, norm1Bias);
  const fed = linear(tf.relu(linear(attended, linear1Weight, linear1Bias)), linear2Weight, linear2Bias);
  return tf.reshape(layerNorm(tf.add(attended, fed), norm2Weight, norm2Bias), [batch, length, width]);
}

/** LayerNorm over the last axis with PyTorch's epsilon 1e-5. */
function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), weight), bias);
}
