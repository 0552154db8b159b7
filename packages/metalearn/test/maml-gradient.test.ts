import { type Tensor, noGrad, tensor } from '@metagrad/autodiff';
import { LSTM, Linear, Module, ReLU, Sequential, Tanh, mseLoss } from '@metagrad/models';
import { AdaptedLearner, MAML } from '@metagrad/metalearn';
import { finiteDifferenceGradients, maxRelativeError } from './finite-differences';

const dtype = 'float64' as const;

function tanhMlp(seed: number): Sequential {
  return new Sequential(new Linear(1, 6, { dtype, seed }), new Tanh(), new Linear(6, 6, { dtype, seed: seed + 1 }), new Tanh(), new Linear(6, 1, { dtype, seed: seed + 2 }));
}

/** An LSTM over a sequence [T, N, 2] whose last hidden state goes through a linear head to [N, 1]. */
class SequenceRegressor extends Module {
  readonly lstm: LSTM;
  readonly head: Linear;

  constructor(seed: number) {
    super();
    this.lstm = this.registerModule('lstm', new LSTM(2, 4, { dtype, seed }));
    this.head = this.registerModule('head', new Linear(4, 1, { dtype, seed: seed + 1 }));
  }

  forward(x: Tensor): Tensor {
    const { output } = this.lstm.forward(x);
    return this.head.forward(output.slice(output.shape[0] - 1));
  }
}

interface Problem {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
}

function mlpProblem(): Problem {
  const column = (values: number[]) => tensor(values, { shape: [values.length, 1], dtype });
  return {
    supportX: column([-2, -0.5, 0.7, 1.9]),
    supportY: column([0.8, -0.3, 0.5, 1.2]),
    queryX: column([-1.3, 0.1, 2.4]),
    queryY: column([0.2, -0.9, 0.6]),
  };
}

function sequenceProblem(): Problem {
  const sequence = (values: number[], batch: number) => tensor(values, { shape: [3, batch, 2], dtype });
  return {
    supportX: sequence([0.5, -1, 0.2, 0.3, 1.1, -0.4, 0.9, 0.1, -0.6, 0.8, 0.3, -0.2], 2),
    supportY: tensor([[0.4], [-0.7]], { dtype }),
    queryX: sequence([-0.3, 0.6, 1.2, -0.8, 0.05, 0.4, 0.7, -1.1, 0.2, 0.9, -0.5, 0.1], 2),
    queryY: tensor([[-0.2], [0.5]], { dtype }),
  };
}

/** Computes the meta-gradient by backpropagation and by finite differences of adapt-then-query-loss. */
function metaGradients(maml: MAML<Module & { forward(x: Tensor): Tensor }>, problem: Problem) {
  const queryLoss = () => mseLoss(maml.adapt(problem.supportX, problem.supportY, mseLoss).forward(problem.queryX), problem.queryY);
  const parameters = maml.parameters();

  maml.module.zeroGrad();
  queryLoss().backward();
  const backpropagated = parameters.map((p) => p.grad!.toTypedArray());
  const numerical = finiteDifferenceGradients(parameters, () => noGrad(queryLoss).item());
  return { backpropagated, numerical };
}

describe('MAML meta-gradient', () => {
  for (const innerSteps of [1, 3]) {
    it(`matches finite differences through a tanh MLP, ${innerSteps} inner steps`, () => {
      const maml = new MAML(tanhMlp(3), { innerLr: 0.1, innerSteps });
      const { backpropagated, numerical } = metaGradients(maml, mlpProblem());
      expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
    });

    it(`matches finite differences through an LSTM, ${innerSteps} inner steps`, () => {
      const maml = new MAML(new SequenceRegressor(5), { innerLr: 0.3, innerSteps });
      const { backpropagated, numerical } = metaGradients(maml, sequenceProblem());
      expect(maxRelativeError(backpropagated, numerical)).toBeLessThan(1e-6);
    });
  }

  it('differs between second and first order', () => {
    const problem = mlpProblem();
    const model = tanhMlp(7);
    const gradientOf = (firstOrder: boolean) => {
      const maml = new MAML(model, { innerLr: 0.1, innerSteps: 2, firstOrder });
      model.zeroGrad();
      mseLoss(maml.adapt(problem.supportX, problem.supportY, mseLoss).forward(problem.queryX), problem.queryY).backward();
      return model.parameters().map((p) => p.grad!.toTypedArray());
    };

    const secondOrder = gradientOf(false);
    const firstOrder = gradientOf(true);
    expect(maxRelativeError(firstOrder, secondOrder)).toBeGreaterThan(1e-4);
  });

  it('first order equals the query gradient at the adapted weights', () => {
    const problem = mlpProblem();
    const model = tanhMlp(11);
    const maml = new MAML(model, { innerLr: 0.1, innerSteps: 2, firstOrder: true });
    const learner = maml.adapt(problem.supportX, problem.supportY, mseLoss);
    model.zeroGrad();
    mseLoss(learner.forward(problem.queryX), problem.queryY).backward();
    const metaGradient = model.parameters().map((p) => p.grad!.toTypedArray());

    // The same query loss, differentiated with respect to the adapted weights as leaves.
    const names = model.namedParameters().map(([name]) => name);
    const leaves = new Map(names.map((name) => [name, learner.parameters.get(name)!.detach().requiresGrad_(true)]));
    mseLoss(new AdaptedLearner(model, leaves, []).forward(problem.queryX), problem.queryY).backward();
    const atAdapted = names.map((name) => leaves.get(name)!.grad!.toTypedArray());

    expect(maxRelativeError(metaGradient, atAdapted)).toBeLessThan(1e-12);
  });

  it('matches the closed form of a scalar model', () => {
    // f(x) = w x with loss (w x - y)^2 on one support point (x, y) and one query point (u, v):
    //   w' = w - a * 2 x (w x - y)
    //   L(w) = (w' u - v)^2, so dL/dw = 2 (w' u - v) u (1 - 2 a x^2).
    const [w0, a, x, y, u, v] = [0.7, 0.05, 1.5, 2, -0.8, 0.3];
    const model = new Linear(1, 1, { bias: false, dtype });
    noGrad(() => model.weight.data.set([w0]));
    const maml = new MAML(model, { innerLr: a });

    const learner = maml.adapt(tensor([[x]], { dtype }), tensor([[y]], { dtype }), mseLoss);
    const queryLoss = mseLoss(learner.forward(tensor([[u]], { dtype })), tensor([[v]], { dtype }));
    queryLoss.backward();

    const adapted = w0 - a * 2 * x * (w0 * x - y);
    expect(learner.parameters.get('weight')!.item()).toBeCloseTo(adapted, 12);
    expect(queryLoss.item()).toBeCloseTo((adapted * u - v) ** 2, 12);
    expect(model.weight.grad!.item()).toBeCloseTo(2 * (adapted * u - v) * u * (1 - 2 * a * x * x), 12);
  });

  it('reaches a ReLU network in float32', () => {
    const model = new Sequential(new Linear(1, 8), new ReLU(), new Linear(8, 1));
    const maml = new MAML(model, { innerLr: 0.01 });
    const column = (values: number[]) => tensor(values, { shape: [values.length, 1] });
    mseLoss(maml.adapt(column([1, 2]), column([0, 1]), mseLoss).forward(column([3])), column([2])).backward();
    for (const parameter of model.parameters()) expect(parameter.grad).not.toBeNull();
  });
});
