import { noGrad } from '@metagrad/autodiff';
import { Adam, Linear, ReLU, Sequential, crossEntropy } from '@metagrad/models';
import {
  MAML, type TaskData, accuracyPerTask, crossEntropyPerTask, evaluateTaskBatch, fewShotTasks, imageClasses, meanConfidenceInterval,
  mseLossPerTask, rotatedMnistClasses, sinusoidTasks, splitClasses,
} from '@metagrad/metalearn';

function sineMlp(seed: number): Sequential {
  return new Sequential(new Linear(1, 40, { seed }), new ReLU(), new Linear(40, 40, { seed: seed + 1 }), new ReLU(), new Linear(40, 1, { seed: seed + 2 }));
}

/** Runs `iterations` MAML meta-steps on task batches and returns the meta-loss of each. */
function metaTrain(maml: MAML<Sequential>, sample: () => TaskData, lossFn: typeof mseLossPerTask, iterations: number, lr: number): number[] {
  const optimizer = new Adam(maml.parameters(), { lr });
  const losses: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const batch = sample();
    const learner = maml.adaptTasks(batch.supportX, batch.supportY, lossFn);
    const metaLoss = lossFn(learner.forward(batch.queryX), batch.queryY).mean();
    optimizer.zeroGrad();
    metaLoss.backward();
    optimizer.step();
    losses.push(metaLoss.item());
  }
  return losses;
}

describe('sinusoid regression', () => {
  it('MAML beats a pretrained baseline after adaptation', () => {
    const iterations = 400;
    const maml = new MAML(sineMlp(1), { innerLr: 0.01 });
    const metaTasks = sinusoidTasks({ shots: 10, seed: 1 });
    metaTrain(maml, () => metaTasks.sampleBatch(10), mseLossPerTask, iterations, 0.003);

    // The baseline regresses on the support and query points of the same number of task batches.
    const baseline = sineMlp(1);
    const optimizer = new Adam(baseline.parameters(), { lr: 0.003 });
    const baselineTasks = sinusoidTasks({ shots: 10, seed: 1 });
    for (let i = 0; i < iterations; i++) {
      const batch = baselineTasks.sampleBatch(10);
      const loss = mseLossPerTask(baseline.forward(batch.supportX), batch.supportY).add(mseLossPerTask(baseline.forward(batch.queryX), batch.queryY)).mean();
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    }

    const heldOut = sinusoidTasks({ shots: 10, queries: 50, seed: 1000 }).sampleBatch(200);
    const steps = [0, 5];
    const mamlCurve = evaluateTaskBatch(maml, heldOut, mseLossPerTask, { steps });
    const baselineCurve = evaluateTaskBatch(new MAML(baseline, { innerLr: 0.01 }), heldOut, mseLossPerTask, { steps });

    const mamlAfter = meanConfidenceInterval(mamlCurve.get(5)!);
    const baselineAfter = meanConfidenceInterval(baselineCurve.get(5)!);
    expect(mamlAfter.mean).toBeLessThan(meanConfidenceInterval(mamlCurve.get(0)!).mean);
    expect(mamlAfter.mean + mamlAfter.halfWidth).toBeLessThan(baselineAfter.mean - baselineAfter.halfWidth);
  });

  it('repeats a run exactly for the same seed', () => {
    const run = () => {
      const maml = new MAML(sineMlp(5), { innerLr: 0.01, innerSteps: 2 });
      const tasks = sinusoidTasks({ shots: 5, seed: 9 });
      const losses = metaTrain(maml, () => tasks.sampleBatch(4), mseLossPerTask, 10, 0.001);
      return { losses, weights: maml.parameters().map((p) => Array.from(p.toTypedArray())) };
    };
    const first = run();
    const second = run();
    expect(second.losses).toEqual(first.losses);
    expect(second.weights).toEqual(first.weights);
  });
});

describe('MNIST few-shot classification', () => {
  it('5-way 1-shot adaptation beats the unadapted learner', () => {
    const { dataset, metaTrain: trainClasses, metaTest } = rotatedMnistClasses({ split: 'test', seed: 0 });
    const options = { ways: 5, shots: 1, queries: 5, flatten: true, normalize: { mean: 0.13, std: 0.31 } };
    const trainTasks = fewShotTasks(dataset, { ...options, classes: trainClasses, seed: 1 });
    const model = new Sequential(new Linear(784, 32, { seed: 2 }), new ReLU(), new Linear(32, 5, { seed: 3 }));
    const maml = new MAML(model, { innerLr: 0.1 });
    metaTrain(maml, () => trainTasks.sampleBatch(8), crossEntropyPerTask, 80, 0.003);

    const heldOut = fewShotTasks(dataset, { ...options, classes: metaTest, seed: 2 }).sampleBatch(100);
    const curve = evaluateTaskBatch(maml, heldOut, crossEntropyPerTask, { steps: [0, 5], metric: accuracyPerTask });
    const unadapted = meanConfidenceInterval(curve.get(0)!);
    const adapted = meanConfidenceInterval(curve.get(5)!);
    expect(adapted.mean - adapted.halfWidth).toBeGreaterThan(unadapted.mean + unadapted.halfWidth);
    expect(adapted.mean).toBeGreaterThan(0.45);
  });

  it('per-task loss matches crossEntropy', () => {
    const dataset = rotatedMnistClasses({ split: 'test' }).dataset;
    const task = fewShotTasks(dataset, { ways: 3, shots: 2, queries: 1, classes: splitClasses(imageClasses(dataset), 5).metaTrain, flatten: true }).sampleBatch(1);
    const logits = noGrad(() => new Linear(784, 3, { seed: 1 }).forward(task.supportX));
    expect(crossEntropyPerTask(logits, task.supportY).item()).toBeCloseTo(crossEntropy(logits.slice(0), task.supportY.slice(0)).item(), 6);
  });
});
