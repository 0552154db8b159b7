/**
 * Loss functions with PyTorch's definitions and options. Each is built from autodiff ops, so
 * its gradient (and gradient of gradient) comes from theirs; each is numerically stable for
 * large logits because it starts from logSoftmax or softplus rather than from probabilities.
 */
import {
  Tensor, abs, add, div, gather, logSoftmax, mean, mul, neg, softplus, square, squeeze, sub, sum, unsqueeze, where,
} from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';

/** How per-element losses are combined: their mean, their sum, or none (the per-element losses). */
export type Reduction = 'mean' | 'sum' | 'none';

/** Class indices: a tensor holding integers, or a list of numbers. */
export type Targets = Tensor | ArrayLike<number>;

function reduce(losses: Tensor, reduction: Reduction | undefined, caller: string): Tensor {
  switch (reduction ?? 'mean') {
    case 'mean':
      return mean(losses);
    case 'sum':
      return sum(losses);
    case 'none':
      return losses;
    default:
      throw new Error(`${caller}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

function checkSameShape(caller: string, input: Tensor, target: Tensor): void {
  if (input.shape.length !== target.shape.length || input.shape.some((dim, i) => dim !== target.shape[i])) {
    throw new Error(`${caller}: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape`);
  }
}

/** Options of `nllLoss` and `crossEntropy`. */
export interface NllOptions {
  /** Targets equal to this are skipped and do not count in the mean. Default -100. */
  ignoreIndex?: number;
  /** A weight per class [C]; the mean is then divided by the sum of the targets' weights. */
  weight?: Tensor;
  reduction?: Reduction;
}

/** Options of `crossEntropy`: those of nllLoss, plus label smoothing. */
export interface CrossEntropyOptions extends NllOptions {
  /** Mixes the one-hot target with the uniform distribution: (1 - s) * onehot + s / C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Per-position class indices with ignored ones replaced by 0, the per-position weights (0 where
 * ignored), and a mask that is 1 where the target is not ignored, even if its class weight is 0.
 */
interface PreparedTargets {
  index: Tensor;
  weights: Tensor;
  notIgnored: Tensor;
  weightTotal: number;
}

function prepareTargets(caller: string, logProbs: Tensor, targets: Targets, options: NllOptions): PreparedTargets {
  if (logProbs.ndim < 2) {
    throw new Error(`${caller}: input must be [N, C] or [N, C, ...] with classes on axis 1, got ${formatShape(logProbs.shape)}`);
  }
  const classes = logProbs.shape[1];
  const expectedShape = [logProbs.shape[0], ...logProbs.shape.slice(2)];
  const targetShape = targets instanceof Tensor ? targets.shape : [targets.length];
  if (targetShape.length !== expectedShape.length || targetShape.some((dim, i) => dim !== expectedShape[i])) {
    throw new Error(`${caller}: target has shape ${formatShape(targetShape)} but input ${formatShape(logProbs.shape)} needs ${formatShape(expectedShape)} (one class index per position)`);
  }
  if (options.weight && (options.weight.ndim !== 1 || options.weight.shape[0] !== classes)) {
    throw new Error(`${caller}: weight must have shape [${classes}], one per class, got ${formatShape(options.weight.shape)}`);
  }

  const values = targets instanceof Tensor ? targets.toTypedArray() : Float64Array.from(targets);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const classWeights = options.weight?.toTypedArray();
  const index = new Float64Array(values.length);
  const weights = new Float64Array(values.length);
  const notIgnored = new Float64Array(values.length);
  let weightTotal = 0;
  values.forEach((value, i) => {
    if (value === ignoreIndex) return;
    if (!Number.isInteger(value) || value < 0 || value >= classes) {
      throw new Error(`${caller}: target ${value} at position ${i} is not a class index in [0, ${classes - 1}] (nor ignoreIndex ${ignoreIndex})`);
    }
    index[i] = value;
    weights[i] = classWeights ? classWeights[value] : 1;
    notIgnored[i] = 1;
    weightTotal += weights[i];
  });

  const asInput = (data: Float64Array) => new Tensor(logProbs.dtype === 'float32' ? Float32Array.from(data) : data, expectedShape);
  return { index: asInput(index), weights: asInput(weights), notIgnored: asInput(notIgnored), weightTotal };
}

/**
 * sum(losses) / weightTotal. When every target is ignored, weightTotal is 0 and the result is NaN
 * with zero gradients, as in PyTorch. A plain division would make the gradients NaN as well.
 */
function weightedMean(losses: Tensor, weightTotal: number): Tensor {
  if (weightTotal === 0) return add(mul(sum(losses), 0), Number.NaN);
  return div(sum(losses), weightTotal);
}

/** Computes nll_loss from prepared targets. `caller` names the public function in errors. */
function negativeLogLikelihood(logProbs: Tensor, prepared: PreparedTargets, reduction: Reduction | undefined, caller: string): Tensor {
  const picked = squeeze(gather(logProbs, 1, unsqueeze(prepared.index, 1)), 1);
  const losses = neg(mul(picked, prepared.weights));
  if ((reduction ?? 'mean') === 'mean') return weightedMean(losses, prepared.weightTotal);
  return reduce(losses, reduction, caller);
}

/**
 * Negative log-likelihood of class indices under log-probabilities [N, C, ...], as
 * torch.nn.functional.nll_loss: loss_i = -weight[t_i] * logProbs[i, t_i].
 */
export function nllLoss(logProbs: Tensor, targets: Targets, options: NllOptions = {}): Tensor {
  const prepared = prepareTargets('nllLoss', logProbs, targets, options);
  return negativeLogLikelihood(logProbs, prepared, options.reduction, 'nllLoss');
}

/**
 * Cross-entropy of logits [N, C, ...] against class indices, as torch.nn.functional.cross_entropy:
 * logSoftmax over axis 1, then nllLoss, with optional label smoothing, class weights and
 * ignored targets. Stable for any finite logits.
 *
 * crossEntropy(tensor([[2, 0, 0]]), [0]) is about 0.2395.
 */
export function crossEntropy(logits: Tensor, targets: Targets, options: CrossEntropyOptions = {}): Tensor {
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const prepared = prepareTargets('crossEntropy', logits, targets, options);
  const logProbs = logSoftmax(logits, 1);
  const nll = negativeLogLikelihood(logProbs, prepared, options.reduction, 'crossEntropy');
  if (smoothing === 0) return nll;

  // The smoothing term spreads mass over every class: -sum over c of weight[c] * logProbs[i, c] / C.
  // Only ignored targets drop out of it. A target whose class weight is 0 still counts, as in PyTorch.
  const classes = logits.shape[1];
  const classShape = logits.shape.map((dim, axis) => (axis === 1 ? dim : 1));
  const weighted = options.weight ? mul(logProbs, options.weight.to(logits.dtype).reshape(classShape)) : logProbs;
  const smoothLosses = mul(neg(sum(weighted, 1)), prepared.notIgnored);
  const reduction = options.reduction ?? 'mean';
  const smooth = reduction === 'mean' ? weightedMean(smoothLosses, prepared.weightTotal) : reduce(smoothLosses, reduction, 'crossEntropy');
  return add(mul(nll, 1 - smoothing), mul(smooth, smoothing / classes));
}

/** Mean squared error: mean((input - target)^2). */
export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkSameShape('mseLoss', input, target);
  return reduce(square(sub(input, target)), options.reduction, 'mseLoss');
}

/** Mean absolute error: mean(|input - target|). */
export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkSameShape('l1Loss', input, target);
  return reduce(abs(sub(input, target)), options.reduction, 'l1Loss');
}

/**
 * Huber loss, as torch.nn.functional.huber_loss: 0.5 d^2 where |d| < delta and
 * delta * (|d| - 0.5 delta) elsewhere, with d = input - target.
 */
export function huberLoss(input: Tensor, target: Tensor, options: { delta?: number; reduction?: Reduction } = {}): Tensor {
  checkSameShape('huberLoss', input, target);
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new Error(`huberLoss: delta must be positive, got ${delta}`);
  const difference = sub(input, target);
  const magnitude = abs(difference);
  const quadratic = mul(square(difference), 0.5);
  const linearPart = mul(sub(magnitude, 0.5 * delta), delta);
  return reduce(where(magnitude.less(delta), quadratic, linearPart), options.reduction, 'huberLoss');
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BceOptions {
  /** A weight per element, broadcast against the input. */
  weight?: Tensor;
  /** Weight of positive examples per class, broadcast against the last axis. */
  posWeight?: Tensor;
  reduction?: Reduction;
}

/**
 * Binary cross-entropy of logits x against targets y in [0, 1], as
 * torch.nn.functional.binary_cross_entropy_with_logits. Computed as
 * (1 - y) * x + (1 + (posWeight - 1) * y) * softplus(-x), which never takes the log of 0.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options: BceOptions = {}): Tensor {
  checkSameShape('binaryCrossEntropyWithLogits', logits, targets);
  const negativePart = mul(sub(1, targets), logits);
  const logWeight = options.posWeight ? add(mul(sub(options.posWeight, 1), targets), 1) : null;
  const softplusNeg = softplus(neg(logits));
  let losses = add(negativePart, logWeight ? mul(logWeight, softplusNeg) : softplusNeg);
  if (options.weight) losses = mul(losses, options.weight);
  return reduce(losses, options.reduction, 'binaryCrossEntropyWithLogits');
}
