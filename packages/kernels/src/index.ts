/**
 * @metagrad/kernels: the arithmetic of metagrad, as plain functions over ndarray views.
 *
 * Every kernel takes scijs `ndarray` views (or anything with `data`, `shape`, `stride` and
 * `offset`) of Float32Array or Float64Array data, accepts transposed, sliced and broadcast
 * views, and writes into an optional `out` view or allocates its result. Invalid input throws a
 * `KernelError` naming the kernel, the shapes and the attributes involved.
 */
export {
  type Dtype,
  type FloatArray,
  type FloatNdArray,
  type IndexArray,
  type StridedView,
  allocateData,
  contiguousStrides,
  dtypeOf,
  formatShape,
  isContiguous,
  sizeOf,
  viewOf,
  zerosView,
} from './view';
export { KernelError, normalizeAxes, normalizeAxis, sameShape } from './errors';
export { broadcastShapes, broadcastStrides, broadcastTo } from './broadcast';

// Elementwise functions of one input.
export {
  abs, affine, clamp, copy, cos, elu, erf, exp, expm1, fill, gelu, leakyRelu, log, log1p, neg,
  powScalar, reciprocal, relu, rsqrt, sigmoid, sign, sin, softplus, sqrt, square, tanh,
} from './unary';

// Elementwise functions of two inputs, with broadcasting.
export {
  add, cast, div, equal, greater, greaterEqual, less, lessEqual, maximum, minimum, mul,
  notEqual, pow, reluBackward, sub, subScaled, where,
} from './binary';

export { type Axes, type ReductionLayout, type ValuesAndIndices, reductionLayout, argMax, argMin, elementOffsets, logsumexp, max, maxWithIndices, mean, min, minWithIndices, sum, sumToShape, variance } from './reduce';
export { logSoftmax, softmax } from './softmax';
export { gather, gatherAlongAxis, scatterAdd, scatterAddAlongAxis } from './gather';

export {
  type Backend, type WasmFeatures, backendReady, getBackend, getThreads, setBackend, setThreads, setWorkerScript, wasmFeatures,
} from './backend';
export { wasmKernelText } from './wasm/kernel-module';
export { gemm, type Matrix } from './gemm';
export { matmul } from './matmul';
export { type Conv2dOptions, type Pair, convGeometry, type ConvGeometry } from './conv-geometry';
export { conv2d, conv2dBackwardFilter, conv2dBackwardInput } from './conv2d';
export { im2col, col2im } from './im2col';
export {
  type LstmSequenceArrays, type LstmSequenceGradients, type LstmSequenceLayout,
  lstmCellBackwardRow, lstmCellForwardRow, lstmSequenceBackward, lstmSequenceForward,
} from './lstm';
export { type AvgPool2dOptions, type MaxPoolResult, type Pool2dOptions, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward } from './pool';
export { erf as erfScalar, erfc as erfcScalar } from './special';
