/**
 * @metagrad/autodiff: tensors and reverse-mode automatic differentiation whose gradients can be
 * differentiated again, to any order.
 *
 * Glossary used in every file of this package:
 *   - result: what an op's forward computation returns.
 *   - grad:   the incoming cotangent, dL/d(result), with the result's shape.
 *   - VJP:    the vector-Jacobian product that maps grad to dL/d(input) for each input.
 *             Every VJP is written with the differentiable ops below, never with raw loops.
 */
export { Tensor, type NestedArray } from './tensor';
export { Node, SourceGradient, type BackwardOptions, type Vjp, broadcastSource, record } from './graph';
export {
  type RandomTensorOptions, type TensorOptions, type TensorValuesOptions, arange, eye, fromNdarray, full, linspace, ones,
  onesLike, rand, randint, randn, tensor, zeros, zerosLike,
} from './creation';
export { Generator, type RandomOptions, manualSeed } from './random';
export { detectAnomaly, enableGrad, isGradEnabled, noGrad, setGradEnabled } from './grad-mode';
export { type ArgnumsOptions, type GradOptions, grad, gradOf, hessian, hvp, jacobian, jvp, valueAndGrad, vjp } from './functional';
export { type GradcheckOptions, type GradgradcheckOptions, gradcheck, gradgradcheck } from './check';
export { type DotOptions, toDot, traceBackward } from './visualize';
export * from './ops';
