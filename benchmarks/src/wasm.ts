/**
 * Suite `wasm`: metagrad's WebAssembly backend against TF.js on its WASM backend (XNNPACK), and
 * against metagrad's own TypeScript loops, in one process on the same inputs.
 *
 * Cases:
 *   - square float32 matmul on the TypeScript loops ('js'), on the 'wasm' backend with one
 *     thread, and with one thread per core;
 *   - the LSTM gate product [32, 128] x [128, 256];
 *   - the three convolutions of the reference CNN at batch 64, forward and both gradients;
 *   - whole training steps: the reference CNN at batch 64 on both backends, the LSTM classifier
 *     at batch 32 and sequence length 100, and a second-order MAML meta-step on sinusoids
 *     (meta-batch 25, K = 10, tasks batched). Their TF.js side is skipped: TF.js 4.22 WASM
 *     cannot compute a convolution's filter gradient, and the suite has no TF.js LSTM or MAML.
 * Before timing, the matmul and convolution cases check that both sides compute the same values.
 * TF.js 4.22 loads its WASM backend without threads in Node 20, so it runs on one thread.
 */
import os from 'node:os';
import ndarray from 'ndarray';
import { Tensor } from '@metagrad/autodiff';
import { type Backend, backendReady, matmul, setBackend, setThreads } from '@metagrad/kernels';
import { MAML, mseLossPerTask } from '@metagrad/metalearn';
import { Adam, Linear, ReLU, Sequential, crossEntropy, lstmClassifier, referenceCnn } from '@metagrad/models';
import { checkAgreement } from './agreement';
import { type ConvLayer, convBatch, convFlops, convLayers, convOperations, createConvInputs } from './convolutions';
import { type BenchmarkCase, type Measure, type RunCounts, type Suite, skipped, timeRuns } from './harness';
import { randomFloat32 } from './random';
import { tf, tfjsLabels, timedTfjs, useTfjsBackend } from './tfjs';

/** One thread per core, as `setThreads` defaults to. */
const CORES = os.availableParallelism();

/** A backend setting of metagrad for one row of the table. */
interface Setting {
  label: string;
  backend: Backend;
  threads: number;
}

const settings: Setting[] = [
  { label: 'js loops', backend: 'js', threads: 1 },
  { label: 'wasm, 1 thread', backend: 'wasm', threads: 1 },
  { label: `wasm, ${CORES} threads`, backend: 'wasm', threads: CORES },
];
const allCores = settings[2];

const matmulCounts: Record<number, RunCounts> = {
  128: { warmup: 20, repetitions: 200 },
  256: { warmup: 10, repetitions: 50 },
  512: { warmup: 3, repetitions: 20 },
  1024: { warmup: 2, repetitions: 8 },
};
/** The TypeScript loops are about ten times slower, so they get fewer runs at the large sizes. */
const slowCounts: RunCounts = { warmup: 1, repetitions: 5 };
const convCounts: RunCounts = { warmup: 3, repetitions: 20 };
const stepCounts: RunCounts = { warmup: 3, repetitions: 15 };

export const wasmSuite: Suite = {
  name: 'wasm',
  description:
    "metagrad's WebAssembly backend (float32) against TF.js WASM and its own TypeScript loops: square matmul, " +
    'the LSTM gate product, the reference CNN convolutions at batch 64, and training steps (CNN batch 64, ' +
    'LSTM classifier batch 32 x 100 tokens, second-order MAML meta-step with 25 sinusoid tasks of K = 10)',
  peer: tfjsLabels.wasm,

  async cases() {
    await useTfjsBackend('wasm');

    const cases: BenchmarkCase[] = [];
    for (const size of [128, 256, 512, 1024]) {
      for (const setting of settings) {
        const counts = setting.backend === 'js' && size >= 512 ? slowCounts : matmulCounts[size];
        cases.push(matmulCase(`matmul ${size}, ${setting.label}`, size, size, size, setting, counts));
      }
      // A new result costs the same on any number of threads: zero-filling it takes about 50 µs
      // per MB here, plus page faults when the allocator maps fresh memory. Writing into an
      // existing array shows how the product itself scales.
      if (size >= 256) {
        for (const setting of settings.filter(({ backend }) => backend === 'wasm')) {
          cases.push(matmulCase(`matmul ${size}, ${setting.label}, into an existing array`, size, size, size, setting, matmulCounts[size], true));
        }
      }
    }
    cases.push(matmulCase(`LSTM gates [32,128] x [128,256], ${allCores.label}`, 32, 128, 256, allCores, { warmup: 50, repetitions: 500 }));
    for (const layer of convLayers) cases.push(...convCases(layer));
    cases.push(...trainingCases());
    return cases;
  },
};

/** Returns a Measure that selects `setting`, waits for its worker threads, then times `run`. */
function timedWith(setting: Setting, run: () => unknown, counts: RunCounts): Measure {
  return async () => {
    setBackend(setting.backend);
    setThreads(setting.threads);
    await backendReady();
    return timeRuns(run, counts);
  };
}

/**
 * Times `a [m, k] x b [k, n]` on both sides, after checking that both give the same product.
 * With `intoOut`, metagrad writes every product into one array allocated beforehand (matmul's
 * `out`); TF.js has no such argument and allocates its result as always.
 */
function matmulCase(name: string, m: number, k: number, n: number, setting: Setting, counts: RunCounts, intoOut = false): BenchmarkCase {
  const aData = randomFloat32(m * k, 1);
  const bData = randomFloat32(k * n, 2);
  const a = ndarray(aData, [m, k]);
  const b = ndarray(bData, [k, n]);
  const peerA = tf.tensor2d(aData, [m, k]);
  const peerB = tf.tensor2d(bData, [k, n]);

  setBackend(setting.backend);
  const peerProduct = tf.matMul(peerA, peerB);
  checkAgreement(name, matmul(a, b).data, peerProduct.dataSync());
  peerProduct.dispose();

  const out = ndarray(new Float32Array(m * n), [m, n]);
  return {
    name,
    flops: 2 * m * k * n,
    metagrad: timedWith(setting, intoOut ? () => matmul(a, b, out) : () => matmul(a, b), counts),
    peer: timedTfjs(() => tf.matMul(peerA, peerB), counts),
    dispose: () => tf.dispose([peerA, peerB]),
  };
}

/**
 * Returns the forward, input-gradient and filter-gradient cases of one layer at batch 64, after
 * checking that the first two agree with TF.js, which has no filter-gradient kernel on WASM.
 */
function convCases(layer: ConvLayer): BenchmarkCase[] {
  const inputs = createConvInputs(layer, convBatch);
  const [forward, inputGradient, filterGradient] = convOperations;

  setBackend(allCores.backend);
  for (const operation of [forward, inputGradient]) {
    const expected = tf.tidy(() => tf.transpose(operation.peer(inputs), operation.peerToMetagrad).dataSync());
    checkAgreement(`${layer.name} ${operation.name}`, operation.metagrad(inputs).data, expected);
  }

  const flops = convFlops(layer, convBatch);
  const label = `${layer.name} batch ${convBatch}`;
  return [
    {
      name: `${label} forward, ${allCores.label}`,
      flops,
      metagrad: timedWith(allCores, () => forward.metagrad(inputs), convCounts),
      peer: timedTfjs(() => forward.peer(inputs), convCounts),
    },
    {
      name: `${label} input gradient, ${allCores.label}`,
      flops,
      metagrad: timedWith(allCores, () => inputGradient.metagrad(inputs), convCounts),
      peer: timedTfjs(() => inputGradient.peer(inputs), convCounts),
    },
    {
      name: `${label} filter gradient, ${allCores.label}`,
      flops,
      metagrad: timedWith(allCores, () => filterGradient.metagrad(inputs), convCounts),
      peer: skipped('TF.js 4.22 WASM has no Conv2DBackpropFilter kernel'),
      dispose: () => tf.dispose([inputs.peerX, inputs.peerW, inputs.peerDy]),
    },
  ];
}

/** Returns the cases of whole training steps, timed on metagrad only. */
function trainingCases(): BenchmarkCase[] {
  const cannotTrainCnn = skipped('TF.js 4.22 WASM has no Conv2DBackpropFilter kernel, so it cannot train the CNN');
  const noModel = skipped('this suite has no TF.js version of the model');
  const cnn = cnnStep();
  return [
    { name: `reference CNN training step, batch 64, ${allCores.label}`, metagrad: timedWith(allCores, cnn, stepCounts), peer: cannotTrainCnn },
    { name: 'reference CNN training step, batch 64, js loops', metagrad: timedWith(settings[0], cnn, { warmup: 1, repetitions: 5 }), peer: cannotTrainCnn },
    { name: `LSTM classifier training step, batch 32 x 100 tokens, ${allCores.label}`, metagrad: timedWith(allCores, lstmStep(), stepCounts), peer: noModel },
    { name: `MAML second-order meta-step, 25 tasks of K = 10, ${allCores.label}`, metagrad: timedWith(allCores, mamlStep(), { warmup: 50, repetitions: 300 }), peer: noModel },
  ];
}

/** Returns one training step of the reference CNN (forward, cross-entropy, backward, Adam 0.001) on 64 seeded images. */
function cnnStep(): () => void {
  const model = referenceCnn({ seed: 0 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const x = new Tensor(randomFloat32(64 * 784, 6), [64, 1, 28, 28]);
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);
  return () => {
    const loss = crossEntropy(model.forward(x), labels);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  };
}

/** Returns one training step of the LSTM classifier (2 layers of 64, vocabulary 10000) on 32 sequences of 100 tokens. */
function lstmStep(): () => void {
  const model = lstmClassifier({ numClasses: 2, seed: 0 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const tokens = Array.from({ length: 32 }, (_, row) => Array.from({ length: 100 }, (_, t) => 1 + ((row * 131 + t * 17) % 9999)));
  const labels = Array.from({ length: 32 }, (_, i) => i % 2);
  return () => {
    const loss = crossEntropy(model.forward(tokens), labels);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  };
}

/**
 * Returns one second-order MAML meta-step as in Finn et al. (2017), section 5.1: a 1-40-40-1 ReLU network
 * adapted to 25 sinusoid tasks by one SGD step of 0.01 on K = 10 points each, the query loss
 * backpropagated through the step, then an Adam step of 0.001. The tasks are batched.
 */
function mamlStep(): () => void {
  const model = new Sequential(new Linear(1, 40), new ReLU(), new Linear(40, 40), new ReLU(), new Linear(40, 1));
  const maml = new MAML(model, { innerLr: 0.01 });
  const optimizer = new Adam(maml.parameters(), { lr: 1e-3 });
  const [supportX, supportY, queryX, queryY] = [7, 8, 9, 10].map((seed) => new Tensor(randomFloat32(250, seed).map((v) => 5 * v), [25, 10, 1]));
  return () => {
    optimizer.zeroGrad();
    const learner = maml.adaptTasks(supportX, supportY, mseLossPerTask);
    mseLossPerTask(learner.forward(queryX), queryY).mean().backward();
    optimizer.step();
  };
}
