import { type Tensor, noGrad, tensor } from '@metagrad/autodiff';
import { Dropout, Linear, ReLU, SGD, Sequential, Tanh, mseLoss } from '@metagrad/models';
import { ANIL, MAML, MetaSGD, Reptile, headParameterNames, mseLossPerTask, sinusoidTasks, supportsTaskBatching } from '@metagrad/metalearn';
import { finiteDifferenceGradients, maxRelativeError } from './finite-differences';

const dtype = 'float64' as const;

function tanhMlp(seed: number): Sequential {
  return new Sequential(new Linear(1, 5, { dtype, seed }), new Tanh(), new Linear(5, 5, { dtype, seed: seed + 1 }), new Tanh(), new Linear(5, 1, { dtype, seed: seed + 2 }));
}

const column = (values: number[]) => tensor(values, { shape: [values.length, 1], dtype });
const support = { x: column([-1.5, 0.4, 2.2]), y: column([0.3, -0.8, 1.1]) };
const query = { x: column([-0.7, 1.3]), y: column([0.9, -0.2]) };

/** Backpropagated and finite-difference gradients of the query loss after adaptation, for every meta-parameter. */
function metaGradients(maml: MAML<Sequential>) {
  const queryLoss = () => mseLoss(maml.adapt(support.x, support.y, mseLoss).forward(query.x), query.y);
  const parameters = maml.parameters();
  for (const p of parameters) p.grad = null;
  queryLoss().backward();
  const backpropagated = parameters.map((p) => p.grad!.toTypedArray());
  return { backpropagated, numerical: finiteDifferenceGradients(parameters, () => noGrad(queryLoss).item()) };
}

describe('learned inner rates', () => {
  it('MAML++ rates get the finite-difference gradient', () => {
    const maml = new MAML(tanhMlp(1), { innerLr: 0.2, innerSteps: 2, learnInnerLr: true });
    expect(maml.parameters()).toHaveLength(6 + 6);
    expect(maml.innerLrs.get('0.weight')!.shape).toEqual([2]);
    const { backpropagated, numerical } = metaGradients(maml);
    expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
  });

  it('Meta-SGD rates have the parameter shapes and get the finite-difference gradient', () => {
    const metaSgd = new MetaSGD(tanhMlp(2), { innerLr: 0.2 });
    expect(metaSgd.innerLrs.get('2.weight')!.shape).toEqual([5, 5]);
    expect(Array.from(metaSgd.innerLrs.get('4.bias')!.toTypedArray())).toEqual([0.2]);
    const { backpropagated, numerical } = metaGradients(metaSgd);
    expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
  });

  it('per-step rates beyond the trained steps repeat the last', () => {
    const maml = new MAML(tanhMlp(3), { innerLr: 0.1, innerSteps: 1, learnInnerLr: true });
    const learner = noGrad(() => maml.adapt(support.x, support.y, mseLoss, { steps: 3 }));
    expect(learner.supportLosses).toHaveLength(3);
    expect(learner.supportLosses[2]).toBeLessThan(learner.supportLosses[0]);
  });
});

describe('ANIL', () => {
  it('adapts the head only and trains the body through it', () => {
    const model = tanhMlp(4);
    const anil = new ANIL(model, { innerLr: 0.3, innerSteps: 2 });
    expect(headParameterNames(model)).toEqual(['4.weight', '4.bias']);
    expect(anil.adaptedNames).toEqual(['4.weight', '4.bias']);

    const learner = anil.adapt(support.x, support.y, mseLoss);
    expect([...learner.parameters.keys()]).toEqual(['4.weight', '4.bias']);
    const { backpropagated, numerical } = metaGradients(anil);
    expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
  });

  it('rejects unknown parameter names', () => {
    expect(() => new MAML(tanhMlp(5), { adapted: ['9.weight'] })).toThrow("no parameter named 9.weight; the module has 0.weight");
  });
});

describe('Reptile', () => {
  it('moves the weights toward the adapted weights', () => {
    const model = tanhMlp(6);
    const reptile = new Reptile(model, { innerLr: 0.1, innerSteps: 4 });
    const before = model.parameters().map((p) => p.toTypedArray());
    const learner = reptile.adapt(support.x, support.y, mseLoss);
    for (const tensor of learner.parameters.values()) expect(tensor.requiresGrad).toBe(false);

    reptile.accumulateGradient(learner, 1);
    new SGD(reptile.parameters(), { lr: 0.5 }).step();

    // theta <- theta + 0.5 (phi - theta)
    model.namedParameters().forEach(([name, parameter], k) => {
      const adapted = learner.parameters.get(name)!.toTypedArray();
      const expected = before[k].map((value, i) => value + 0.5 * (adapted[i] - value));
      expect(maxRelativeError([parameter.toTypedArray()], [expected])).toBeLessThan(1e-12);
    });
  });
});

describe('task-batched adaptation', () => {
  const reluMlp = (seed: number) => new Sequential(new Linear(1, 8, { dtype, seed }), new ReLU(), new Linear(8, 8, { dtype, seed: seed + 1 }), new ReLU(), new Linear(8, 1, { dtype, seed: seed + 2 }));
  const variants: Array<[string, (model: Sequential) => MAML<Sequential>]> = [
    ['second-order MAML', (model) => new MAML(model, { innerLr: 0.05, innerSteps: 2 })],
    ['first-order MAML', (model) => new MAML(model, { innerLr: 0.05, innerSteps: 2, firstOrder: true })],
    ['MAML++', (model) => new MAML(model, { innerLr: 0.05, innerSteps: 2, learnInnerLr: true })],
    ['Meta-SGD', (model) => new MetaSGD(model, { innerLr: 0.05 })],
    ['ANIL', (model) => new ANIL(model, { innerLr: 0.05, innerSteps: 2 })],
  ];

  for (const [name, create] of variants) {
    it(`gives the per-task meta-gradient: ${name}`, () => {
      const batch = sinusoidTasks({ shots: 5, queries: 4, seed: 3, dtype }).sampleBatch(4);

      const perTask = create(reluMlp(10));
      for (let t = 0; t < 4; t++) {
        const task = batch.task(t);
        const learner = perTask.adapt(task.supportX, task.supportY, mseLoss);
        mseLoss(learner.forward(task.queryX), task.queryY).div(4).backward();
      }

      const batched = create(reluMlp(10));
      const learner = batched.adaptTasks(batch.supportX, batch.supportY, mseLossPerTask);
      mseLossPerTask(learner.forward(batch.queryX), batch.queryY).mean().backward();

      const gradients = (maml: MAML<Sequential>) => maml.parameters().map((p) => p.grad!.toTypedArray());
      expect(maxRelativeError(gradients(batched), gradients(perTask))).toBeLessThan(1e-10);
    });
  }

  it('gives the per-task adapted weights', () => {
    const batch = sinusoidTasks({ shots: 5, seed: 4, dtype }).sampleBatch(3);
    const maml = new MAML(reluMlp(20), { innerLr: 0.05, innerSteps: 3 });
    const learner = noGrad(() => maml.adaptTasks(batch.supportX, batch.supportY, mseLossPerTask));
    for (let t = 0; t < 3; t++) {
      const task = batch.task(t);
      const single = noGrad(() => maml.adapt(task.supportX, task.supportY, mseLoss));
      for (const [name, tensor] of single.parameters) {
        expect(maxRelativeError([learner.parameters.get(name)!.slice(t).toTypedArray()], [tensor.toTypedArray()])).toBeLessThan(1e-12);
      }
    }
  });

  it('rejects models with other layers', () => {
    const model = new Sequential(new Linear(1, 4), new Dropout(0.5), new Linear(4, 1));
    expect(supportsTaskBatching(model)).toBe(false);
    const maml = new MAML(model);
    expect(() => maml.adaptTasks(tensor([[[1]]]), tensor([[[1]]]), mseLossPerTask)).toThrow('layer 1 is a Dropout, but task batching supports only Linear');
  });

  it('rejects a loss that is not per task', () => {
    const maml = new MAML(reluMlp(30));
    const batch = sinusoidTasks({ shots: 2, dtype }).sampleBatch(2);
    expect(() => maml.adaptTasks(batch.supportX, batch.supportY, (p: Tensor, t: Tensor) => mseLoss(p, t))).toThrow('must return one loss per task, shape [2], got []');
  });
});
