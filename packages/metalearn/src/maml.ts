/**
 * Model-Agnostic Meta-Learning (Finn, Abbeel and Levine, "Model-Agnostic Meta-Learning for
 * Fast Adaptation of Deep Networks", ICML 2017): learn initial weights theta from which a few
 * gradient steps on a task's support set give low loss on its query set. The meta-gradient of
 * the query loss flows back through every inner step to theta.
 *
 * const maml = new MAML(model, { innerLr: 0.01, innerSteps: 1 });
 * const learner = maml.adapt(supportX, supportY, mseLoss);
 * const queryLoss = mseLoss(learner.forward(queryX), queryY);
 * queryLoss.backward(); // reaches every tensor of maml.parameters()
 *
 * Options select the family's variants: `firstOrder` (first-order MAML, which drops the second
 * derivatives), `learnInnerLr` (a learned rate per parameter tensor and per step, as MAML++ by
 * Antoniou, Edwards and Storkey, 2019) and `adapted` (which parameters the inner loop updates).
 */
import { type Tensor, full, slice, sum } from '@metagrad/autodiff';
import { type Module, functionalCall } from '@metagrad/models';
import { formatShape } from '@metagrad/kernels';
import { gradientSteps } from './inner-loop';
import { type AdaptOptions, AdaptedLearner, type LossFunction } from './learner';
import { TaskBatchLearner, checkTaskBatching, expandToTasks, taskBatchedForward } from './task-batched';

/** Options of MAML and the meta-learners built on it. */
export interface MamlOptions {
  /** Step size of the inner gradient steps, and the initial value of learned rates. Default 0.01. */
  innerLr?: number;
  /** Number of inner steps during meta-training. Default 1. */
  innerSteps?: number;
  /** Detach the inner gradients (first-order MAML). Default false. */
  firstOrder?: boolean;
  /** Learn one inner rate per parameter tensor and per inner step (MAML++). Default false. */
  learnInnerLr?: boolean;
  /**
   * The parameters the inner loop updates: a list of dotted names or a test on the name.
   * Default: all. The others are shared by every task and learned by the outer loop only.
   */
  adapted?: readonly string[] | ((name: string) => boolean);
}

/** The layout of a meta-learner's learned inner rates: none, one per tensor and step, or one per element. */
export type RateLayout = 'fixed' | 'perStep' | 'perElement';

export class MAML<M extends Module = Module> {
  readonly module: M;
  readonly innerLr: number;
  readonly innerSteps: number;
  readonly firstOrder: boolean;
  /** Dotted names of the parameters the inner loop updates, in the module's order. */
  readonly adaptedNames: readonly string[];
  /** Learned inner rates by parameter name, or an empty map when the rates are fixed. */
  readonly innerLrs: ReadonlyMap<string, Tensor>;
  private readonly rateLayout: RateLayout;

  constructor(module: M, options: MamlOptions = {}, rateLayout?: RateLayout) {
    this.module = module;
    this.innerLr = options.innerLr ?? 0.01;
    this.innerSteps = options.innerSteps ?? 1;
    this.firstOrder = options.firstOrder ?? false;
    this.rateLayout = rateLayout ?? (options.learnInnerLr ? 'perStep' : 'fixed');
    const name = this.constructor.name;
    if (!(this.innerLr > 0) || !Number.isFinite(this.innerLr)) throw new Error(`${name}: innerLr must be a positive number, got ${this.innerLr}`);
    if (!Number.isInteger(this.innerSteps) || this.innerSteps < 1) throw new Error(`${name}: innerSteps must be a whole number of at least 1, got ${this.innerSteps}`);

    this.adaptedNames = selectAdapted(name, module, options.adapted);
    this.innerLrs = this.createRates();
  }

  /**
   * Adapts the module to one task by inner gradient steps on its support set (x, y) and
   * returns the adapted learner. Differentiable while graph recording is on; inside
   * `noGrad` it only fine-tunes, for evaluation.
   */
  adapt(x: Tensor, y: Tensor, lossFn: LossFunction<ReturnType<M['forward']>>, options: AdaptOptions<AdaptedLearner<M>> = {}): AdaptedLearner<M> {
    const start = this.startingParameters((parameter) => parameter);
    const forward = (parameters: Map<string, Tensor>) => functionalCall(this.module, parameters, ...([x] as Parameters<M['forward']>));
    const onStep = options.onStep;

    const { parameters, losses } = gradientSteps(start, (parameters) => lossFn(forward(parameters), y), {
      steps: options.steps ?? this.innerSteps,
      names: this.adaptedNames,
      stepSize: (name, step) => this.stepSize(name, step),
      firstOrder: this.firstOrder,
      onStep: onStep && ((step, current) => onStep(step, new AdaptedLearner(this.module, current, []))),
    });
    return new AdaptedLearner(this.module, parameters, losses);
  }

  /**
   * Adapts the module to a batch of tasks at once: x [T, K, in] and y [T, K, ...] hold task t's
   * support set in row t, and `lossFn` returns one loss per task, [T] (see mseLossPerTask).
   * Gives the same adapted weights, and the same meta-gradient, as T calls of `adapt`, in one
   * pass of batched products. Only for models that `supportsTaskBatching` accepts.
   */
  adaptTasks(x: Tensor, y: Tensor, lossFn: LossFunction, options: AdaptOptions<TaskBatchLearner<M>> = {}): TaskBatchLearner<M> {
    checkTaskBatching(`${this.constructor.name}.adaptTasks`, this.module);
    const tasks = x.shape[0];
    const start = this.startingParameters((parameter) => expandToTasks(parameter, tasks));
    const onStep = options.onStep;

    const taskLoss = (parameters: Map<string, Tensor>) => {
      const losses = lossFn(taskBatchedForward(this.module, parameters, x), y);
      if (losses.ndim !== 1 || losses.shape[0] !== tasks) {
        throw new Error(`${this.constructor.name}.adaptTasks: the loss function must return one loss per task, shape [${tasks}], got ${formatShape(losses.shape)}; use mseLossPerTask or crossEntropyPerTask`);
      }
      // Tasks are independent, so row t of the gradient of the sum is task t's own gradient.
      return sum(losses);
    };

    const { parameters, losses } = gradientSteps(start, taskLoss, {
      steps: options.steps ?? this.innerSteps,
      names: this.adaptedNames,
      stepSize: (name, step) => this.stepSize(name, step),
      firstOrder: this.firstOrder,
      onStep: onStep && ((step, current) => onStep(step, new TaskBatchLearner(this.module, current, []))),
    });
    return new TaskBatchLearner(this.module, parameters, losses);
  }

  /** Returns the meta-parameters: the module's parameters, then the learned inner rates. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, tensor]) => tensor);
  }

  /** Returns the meta-parameters by name. Learned rates are named `innerLr.<parameter name>`. */
  namedParameters(): Array<[string, Tensor]> {
    const rates = [...this.innerLrs].map(([name, rate]): [string, Tensor] => [`innerLr.${name}`, rate]);
    return [...this.module.namedParameters(), ...rates];
  }

  /**
   * Returns the step size of parameter `name` at inner step `step` (from 0). A learned per-step rate
   * beyond the trained number of steps repeats the last one.
   */
  protected stepSize(name: string, step: number): Tensor | number {
    const rate = this.innerLrs.get(name);
    if (rate === undefined) return this.innerLr;
    if (this.rateLayout === 'perElement') return rate;
    return slice(rate, Math.min(step, this.innerSteps - 1));
  }

  /** Returns the adapted parameters' starting values, each passed through `prepare`. */
  private startingParameters(prepare: (parameter: Tensor) => Tensor): Map<string, Tensor> {
    const own = new Map(this.module.namedParameters());
    return new Map(this.adaptedNames.map((name) => [name, prepare(own.get(name)!)]));
  }

  private createRates(): Map<string, Tensor> {
    const rates = new Map<string, Tensor>();
    if (this.rateLayout === 'fixed') return rates;
    const own = new Map(this.module.namedParameters());
    for (const name of this.adaptedNames) {
      const parameter = own.get(name)!;
      const shape = this.rateLayout === 'perElement' ? parameter.shape : [this.innerSteps];
      rates.set(name, full(shape, this.innerLr, { dtype: parameter.dtype, requiresGrad: true, name: `innerLr.${name}` }));
    }
    return rates;
  }
}

/** Resolves the `adapted` option to parameter names, checking that each exists. */
function selectAdapted(caller: string, module: Module, adapted: MamlOptions['adapted']): string[] {
  const names = module.namedParameters().map(([name]) => name);
  if (names.length === 0) throw new Error(`${caller}: the module has no parameters to adapt`);
  if (adapted === undefined) return names;

  if (typeof adapted === 'function') {
    const selected = names.filter((name) => adapted(name));
    if (selected.length === 0) throw new Error(`${caller}: the adapted filter selects none of the parameters ${names.join(', ')}`);
    return selected;
  }

  const unknown = adapted.filter((name) => !names.includes(name));
  if (unknown.length > 0) throw new Error(`${caller}: no parameter named ${unknown.join(', ')}; the module has ${names.join(', ')}`);
  if (adapted.length === 0) throw new Error(`${caller}: the adapted list is empty; name at least one parameter`);
  return names.filter((name) => adapted.includes(name));
}
