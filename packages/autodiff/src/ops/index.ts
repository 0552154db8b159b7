/**
 * Every differentiable op of metagrad, in one list. Each op's forward computation and its VJP
 * sit together in the file named on its line.
 */
export { type TensorLike } from './operands';
export { add, clamp, div, maximum, minimum, mul, neg, pow, square, sub, where } from './arithmetic';
export { equal, greater, greaterEqual, less, lessEqual, notEqual } from './compare';
export { abs, cos, erf, exp, expm1, log, log1p, rsqrt, sigmoid, sign, sin, sqrt, tanh } from './math';
export { elu, gelu, leakyRelu, logSoftmax, relu, softmax, softplus } from './activation';
export { type Axes, argmax, argmin, logsumexp, max, mean, min, std, sum, variance } from './reduction';
export {
  type SliceSpec, cast, clone, concat, contiguous, expand, flatten, narrow, pad, permute, reshape, slice, split,
  squeeze, stack, sumToShape, transpose, unsqueeze,
} from './shape';
export { type EmbeddingOptions, type IndexLike, embedding, gather, indexAdd, indexSelect, scatterAdd } from './indexing';
export { batchedLinear, linear, matmul } from './linalg';
export { type AvgPoolArgs, type Conv2dArgs, type PoolArgs, avgPool2d, conv2d, conv2dBackwardFilter, conv2dBackwardInput, maxPool2d } from './conv';
export { type DropoutOptions, dropout } from './dropout';
export { fusedLstmCell } from './lstm-cell';
export { type LstmSequenceOptions, lstmSequence } from './lstm-sequence';
