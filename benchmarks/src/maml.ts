/**
 * Suite `maml`: one MAML meta-step on the sinusoid setup of Finn et al. (2017), metagrad against
 * PyTorch through the twin python/maml.py.
 *
 * A meta-step adapts the 1-40-40-1 ReLU network to 25 tasks of K = 10 support points with one
 * inner SGD step of 0.01, backpropagates the mean query loss (10 points per task) to the
 * initial weights, and takes an Adam step of 0.001. Second-order steps differentiate through
 * the inner gradient; first-order steps detach it. Each is timed two ways on both sides. One
 * loops over the tasks. The other batches the tasks along a leading axis through batched matrix
 * products: metagrad's adaptTasks, and torch.bmm by hand on the PyTorch side.
 *
 * Both sides start from the same weights and tasks, drawn by the Park-Miller generator that
 * the twin reimplements, and the suite checks that their meta-gradients agree before timing.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Tensor } from '@metagrad/autodiff';
import { Adam, Linear, ReLU, Sequential, mseLoss } from '@metagrad/models';
import { MAML, mseLossPerTask } from '@metagrad/metalearn';
import { checkAgreement } from './agreement';
import { type BenchmarkCase, type RunCounts, type Suite, timed } from './harness';
import { pythonTwin, pytorchBlas } from './python';
import { parkMiller } from './random';

const TASKS = 25;
const SHOTS = 10;
const HIDDEN = 40;
const INNER_LR = 0.01;
const counts: RunCounts = { warmup: 20, repetitions: 200 };

type Path = 'per-task' | 'batched';
type Order = 'second' | 'first';

/** The interpreter of the twins, as python.ts resolves it. */
const python = process.env.METAGRAD_BENCH_PYTHON ?? '/usr/bin/python3';
const twin = path.resolve(__dirname, '..', 'python', 'maml.py');

export const mamlSuite: Suite = {
  name: 'maml',
  description:
    'one MAML meta-step: 1-40-40-1 ReLU network, meta-batch 25, K = 10 support and 10 query points, ' +
    'one inner SGD step of 0.01, Adam 0.001; tasks in a loop or batched along a task axis',
  // A getter, so that PyTorch is probed only when this suite reports.
  get peer() {
    return `PyTorch, 1 thread, ${pytorchBlas()}`;
  },

  async cases() {
    const cases: BenchmarkCase[] = [];
    for (const order of ['second', 'first'] as const) {
      await checkAgainstTwin(order);
      for (const path of ['per-task', 'batched'] as const) {
        const step = metaStep(path, order);
        cases.push({
          name: `${order}-order meta-step, ${path === 'batched' ? 'tasks batched' : 'loop over tasks'}`,
          metagrad: timed(step, counts),
          peer: pythonTwin('maml.py', [path, order]),
        });
      }
    }
    return cases;
  },
};

/** Builds the network with the twin's weights, and the task batch [support x, support y, query x, query y], each [25, 10, 1]. */
function sharedInputs(): { model: Sequential; batch: Tensor[] } {
  const model = new Sequential(new Linear(1, HIDDEN), new ReLU(), new Linear(HIDDEN, HIDDEN), new ReLU(), new Linear(HIDDEN, 1));
  model.parameters().forEach((parameter, index) => {
    const scale = parameter.ndim === 2 ? 1 / Math.sqrt(parameter.shape[1]) : 0.1;
    parameter.data.set(parkMiller(parameter.size, 1000 + index).map((v) => v * scale));
  });
  const batch = [0, 1, 2, 3].map((i) => new Tensor(Float32Array.from(parkMiller(TASKS * SHOTS, 2000 + i), (v) => 5 * v), [TASKS, SHOTS, 1]));
  return { model, batch };
}

/** Backpropagates the mean query loss after adaptation to the weights, by either path. */
function metaBackward(maml: MAML<Sequential>, batch: Tensor[], path: Path): void {
  const [supportX, supportY, queryX, queryY] = batch;
  if (path === 'batched') {
    const learner = maml.adaptTasks(supportX, supportY, mseLossPerTask);
    mseLossPerTask(learner.forward(queryX), queryY).mean().backward();
    return;
  }
  for (let t = 0; t < TASKS; t++) {
    const learner = maml.adapt(supportX.slice(t), supportY.slice(t), mseLoss);
    mseLoss(learner.forward(queryX.slice(t)), queryY.slice(t)).div(TASKS).backward();
  }
}

/** Returns one meta-step (adapt, backward, Adam) on fixed inputs, ready to be timed. */
function metaStep(path: Path, order: Order): () => void {
  const { model, batch } = sharedInputs();
  const maml = new MAML(model, { innerLr: INNER_LR, firstOrder: order === 'first' });
  const optimizer = new Adam(maml.parameters(), { lr: 1e-3 });
  return () => {
    optimizer.zeroGrad();
    metaBackward(maml, batch, path);
    optimizer.step();
  };
}

/**
 * Throws unless metagrad's meta-gradient, by both paths, matches the twin's on the shared
 * inputs. Skips the PyTorch comparison when PyTorch does not import.
 */
async function checkAgainstTwin(order: Order): Promise<void> {
  const gradients = (['per-task', 'batched'] as const).map((path) => {
    const { model, batch } = sharedInputs();
    metaBackward(new MAML(model, { innerLr: INNER_LR, firstOrder: order === 'first' }), batch, path);
    return model.parameters().flatMap((p) => Array.from(p.grad!.toTypedArray()));
  });
  checkAgreement(`${order}-order meta-gradient, batched vs per-task`, gradients[1], gradients[0]);

  let output: string;
  try {
    output = (await promisify(execFile)(python, [twin, 'batched', order, '--check'], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })).stdout;
  } catch {
    process.stderr.write(`maml: PyTorch is not available to ${python}, so the meta-gradients are not compared with it\n`);
    return;
  }
  checkAgreement(`${order}-order meta-gradient, metagrad vs PyTorch`, gradients[1], JSON.parse(output.trim().split('\n').pop()!));
}
