/**
 * Suite `autodiff`: per-op overhead on a small model, metagrad against PyTorch through the twin
 * python/mlp.py.
 *
 * The model is a 1-40-40-1 ReLU network on a batch of 10 with a mean squared error loss. The
 * first case computes the loss and the gradients of all six parameters; the second also
 * differentiates the squared norm of those gradients again (a second backward pass through the
 * gradients, as second-order meta-learning does). Both sides use the same weights and inputs,
 * drawn by the Park-Miller generator that the twin reimplements.
 */
import { type Tensor, add, grad, sum, square, tensor } from '@metagrad/autodiff';
import { Linear, ReLU, Sequential, mseLoss } from '@metagrad/models';
import { type BenchmarkCase, type RunCounts, type Suite, timed } from './harness';
import { pythonTwin } from './python';
import { parkMiller } from './random';

const BATCH = 10;
const HIDDEN = 40;
const counts: RunCounts = { warmup: 500, repetitions: 2000 };

export const autodiffSuite: Suite = {
  name: 'autodiff',
  description: '1-40-40-1 ReLU MLP on a batch of 10, mean squared error: gradients of all parameters, and a second backward pass through them',
  peer: 'PyTorch, 1 thread',

  async cases() {
    const { model, x, y } = sharedInputs();
    const params = model.parameters();
    const firstOrder = () => grad(mseLoss(model.forward(x), y), params);
    const secondOrder = () => {
      const grads = grad(mseLoss(model.forward(x), y), params, { createGraph: true });
      const norm = grads.map((g) => sum(square(g))).reduce((total, term) => add(total, term));
      return grad(norm, params);
    };

    const cases: BenchmarkCase[] = [
      { name: 'loss and gradients', metagrad: timed(firstOrder, counts), peer: pythonTwin('mlp.py', ['first']) },
      { name: 'gradient norm differentiated again', metagrad: timed(secondOrder, counts), peer: pythonTwin('mlp.py', ['second']) },
    ];
    return cases;
  },
};

function sharedInputs(): { model: Sequential; x: Tensor; y: Tensor } {
  const model = new Sequential(new Linear(1, HIDDEN), new ReLU(), new Linear(HIDDEN, HIDDEN), new ReLU(), new Linear(HIDDEN, 1));
  let seed = 1;
  const weights: Record<string, Tensor> = {};
  for (const [name, p] of model.namedParameters()) {
    weights[name] = tensor(parkMiller(p.size, seed++).map((v) => 0.5 * v), { shape: p.shape });
  }
  model.loadStateDict(weights);
  const x = tensor(parkMiller(BATCH, 100).map((v) => 5 * v), { shape: [BATCH, 1] });
  const y = tensor(parkMiller(BATCH, 101), { shape: [BATCH, 1] });
  return { model, x, y };
}
