import { noGrad, tensor } from '@metagrad/autodiff';
import { Adam, Linear, Sequential, Tanh, mseLoss } from '@metagrad/models';
import { HypergradientTuner } from '@metagrad/metalearn';
import { finiteDifferenceGradients, maxRelativeError } from './finite-differences';

const dtype = 'float64' as const;
const column = (values: number[]) => tensor(values, { shape: [values.length, 1], dtype });

const batches = [
  { x: column([-1, 0.5, 2]), y: column([0.4, -0.2, 1]) },
  { x: column([1.5, -0.3]), y: column([0.9, 0.1]) },
  { x: column([0.2, -2, 1]), y: column([-0.5, 0.7, 0.3]) },
];
const validation = { x: column([-0.6, 0.8, 1.7]), y: column([0.2, 0.1, 0.6]) };

function model(seed: number): Sequential {
  return new Sequential(new Linear(1, 4, { dtype, seed }), new Tanh(), new Linear(4, 1, { dtype, seed: seed + 1 }));
}

describe('HypergradientTuner', () => {
  it('matches finite differences of the validation loss', () => {
    const tuner = new HypergradientTuner(model(1), { lr: 0.3, weightDecay: 0.05 });
    const validationLoss = () => mseLoss(tuner.unroll(batches, mseLoss).forward(validation.x), validation.y);

    validationLoss().backward();
    const backpropagated = tuner.parameters().map((p) => p.grad!.toTypedArray());
    const numerical = finiteDifferenceGradients(tuner.parameters(), () => noGrad(validationLoss).item());

    expect(Math.abs(backpropagated[0][0])).toBeGreaterThan(1e-4);
    expect(Math.abs(backpropagated[1][0])).toBeGreaterThan(1e-6);
    expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
  });

  it('unrolls SGD with weight decay', () => {
    const network = model(2);
    const tuner = new HypergradientTuner(network, { lr: 0.1, weightDecay: 0.01 });
    const learner = noGrad(() => tuner.unroll(batches.slice(0, 1), mseLoss));

    // One step by hand: theta - lr * (grad + weightDecay * theta).
    network.zeroGrad();
    mseLoss(network.forward(batches[0].x), batches[0].y).backward();
    for (const [name, parameter] of network.namedParameters()) {
      const expected = parameter.toTypedArray().map((value, i) => value - 0.1 * (parameter.grad!.toTypedArray()[i] + 0.01 * value));
      expect(maxRelativeError([learner.parameters.get(name)!.toTypedArray()], [expected])).toBeLessThan(1e-12);
    }
  });

  it('lowers the validation loss and keeps the rates positive', () => {
    const network = model(3);
    const tuner = new HypergradientTuner(network, { lr: 0.01, weightDecay: 0.1 });
    const optimizer = new Adam(tuner.parameters(), { lr: 0.2 });
    const lossBefore = noGrad(() => mseLoss(network.forward(validation.x), validation.y)).item();

    for (let round = 0; round < 15; round++) {
      const learner = tuner.unroll(batches, mseLoss);
      optimizer.zeroGrad();
      mseLoss(learner.forward(validation.x), validation.y).backward();
      optimizer.step();
      tuner.commit(learner);
    }

    const lossAfter = noGrad(() => mseLoss(network.forward(validation.x), validation.y)).item();
    expect(lossAfter).toBeLessThan(lossBefore);
    expect(tuner.lr).toBeGreaterThan(0.01);
    expect(tuner.weightDecay).toBeGreaterThan(0);
    for (const parameter of network.parameters()) expect(parameter.grad).toBeNull();
  });

  it('rejects a non-positive rate', () => {
    expect(() => new HypergradientTuner(model(4), { lr: 0, weightDecay: 0.1 })).toThrow('lr must be a positive number, got 0');
  });
});
