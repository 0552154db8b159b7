/**
 * Tensor: an n-dimensional array of float32 or float64 numbers that can record the ops applied
 * to it, for reverse-mode differentiation.
 *
 * A tensor is a strided view (`data`, `shape`, `stride`, `offset`), the same four fields an
 * ndarray has, so it can be passed to any kernel of @metagrad/kernels as it is. View ops such as
 * transpose, expand and most reshapes share `data` with their input instead of copying it.
 *
 * Tensors are immutable from the graph's point of view: no op writes into its inputs.
 * Optimizers update parameters in place, outside the graph, inside `noGrad`.
 */
import ndarray, { type NdArray } from 'ndarray';
import { type Dtype, type FloatArray, type StridedView, contiguousStrides, dtypeOf, elementOffsets, formatShape, isContiguous, sizeOf } from '@metagrad/kernels';
import { type BackwardOptions, Node, runBackward } from './graph';
import { noGrad } from './grad-mode';
import * as ops from './ops';
import type { Axes, SliceSpec, TensorLike } from './ops';
import type { Conv2dArgs, PoolArgs, AvgPoolArgs } from './ops/conv';
import { formatTensor } from './format';

/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | NestedArray[];

export class Tensor implements StridedView {
  readonly data: FloatArray;
  readonly shape: number[];
  readonly stride: number[];
  readonly offset: number;
  readonly dtype: Dtype;
  /** Whether gradients flow to this tensor. Set on leaves by the user, on results by the ops. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`; null before. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, or null for a leaf. */
  node: Node | null = null;
  /** Optional name shown by `toDot`, `traceBackward` and `toString`. Modules name their parameters. */
  name: string | undefined;

  constructor(data: FloatArray, shape: readonly number[], stride?: readonly number[], offset = 0, requiresGrad = false) {
    this.data = data;
    this.shape = shape.slice();
    this.stride = stride ? stride.slice() : contiguousStrides(shape);
    this.offset = offset;
    this.dtype = dtypeOf(this, 'Tensor');
    this.requiresGrad = requiresGrad;
  }

  /** Wraps any float view (an ndarray, or a kernel's result) without copying. */
  static fromView(view: StridedView): Tensor {
    return new Tensor(view.data, view.shape, view.stride, view.offset);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Whether this tensor was made by the user rather than by an op. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The transpose of a 2-D tensor (a view); for more axes use `transpose` or `permute`. */
  get T(): Tensor {
    if (this.ndim !== 2) throw new Error(`T: expected a 2-D tensor, got shape ${formatShape(this.shape)}; use transpose(axisA, axisB) or permute()`);
    return ops.transpose(this, 0, 1);
  }

  // Conversion

  /** Returns the elements as nested arrays, row-major. */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    if (this.ndim === 0) return flat[0];
    const build = (axis: number, start: number): NestedArray[] => {
      const dim = this.shape[axis];
      const block = sizeOf(this.shape.slice(axis + 1));
      if (axis === this.ndim - 1) return Array.from(flat.subarray(start, start + dim));
      return Array.from({ length: dim }, (_, i) => build(axis + 1, start + i * block));
    };
    return build(0, 0);
  }

  /** Returns the value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new Error(`item: only a tensor with one element has an item, got shape ${formatShape(this.shape)}; reduce it first, for example with sum() or mean()`);
    }
    return this.data[this.offset];
  }

  /** Returns a new typed array with the elements in row-major order. */
  toTypedArray(): FloatArray {
    const ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (isContiguous(this)) return ctor.from(this.data.subarray(this.offset, this.offset + this.size));
    const offsets = elementOffsets(this);
    const values = new ctor(offsets.length);
    for (let i = 0; i < offsets.length; i++) values[i] = this.data[offsets[i]];
    return values;
  }

  /** Returns an ndarray view of the same data, without copying. */
  toNdarray(): NdArray<FloatArray> {
    return ndarray(this.data, this.shape.slice(), this.stride.slice(), this.offset);
  }

  /** Prints the tensor like PyTorch does, summarising large ones. */
  toString(): string {
    return formatTensor(this);
  }

  // Differentiation

  /**
   * Computes the gradient of this tensor with respect to every leaf that requires gradients,
   * and adds it to the leaf's `.grad`. A non-scalar tensor needs `gradOutput`, the gradient of
   * the final loss with respect to it. Options may also come first: `loss.backward({ retainGraph: true })`.
   */
  backward(gradOutput?: Tensor | BackwardOptions, options: BackwardOptions = {}): void {
    // backward({ retainGraph: true }) reads as PyTorch's keyword form, so accept options first too.
    if (gradOutput !== undefined && !(gradOutput instanceof Tensor)) {
      options = { ...gradOutput, ...options };
      gradOutput = undefined;
    }
    const seed = gradOutput ?? defaultSeed(this, 'backward');
    checkSeed('backward', this, seed);
    if (!this.requiresGrad) {
      throw new Error('backward: this tensor does not require gradients; set requiresGrad on the inputs you want gradients for before computing it');
    }

    const grads = runBackward([this], [seed], options);
    const createGraph = options.createGraph ?? false;
    for (const [tensor, grad] of grads) {
      if (tensor.isLeaf) tensor.grad = accumulateLeafGrad(tensor.grad, grad, createGraph);
    }
  }

  /** Returns a tensor with the same data that is cut off from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, this.stride, this.offset, false);
  }

  /** Sets `requiresGrad` and returns this tensor, for chaining. Only leaves may be changed. */
  requiresGrad_(requiresGrad = true): this {
    if (!this.isLeaf && !requiresGrad) {
      throw new Error('requiresGrad_: only leaf tensors can stop requiring gradients; use detach() for a non-leaf');
    }
    this.requiresGrad = requiresGrad;
    return this;
  }

  /** Sets `name` and returns this tensor. */
  named(name: string): this {
    this.name = name;
    return this;
  }

  // Arithmetic

  add(other: TensorLike): Tensor { return ops.add(this, other); }
  sub(other: TensorLike): Tensor { return ops.sub(this, other); }
  mul(other: TensorLike): Tensor { return ops.mul(this, other); }
  div(other: TensorLike): Tensor { return ops.div(this, other); }
  neg(): Tensor { return ops.neg(this); }
  pow(exponent: TensorLike): Tensor { return ops.pow(this, exponent); }
  square(): Tensor { return ops.square(this); }
  maximum(other: TensorLike): Tensor { return ops.maximum(this, other); }
  minimum(other: TensorLike): Tensor { return ops.minimum(this, other); }
  clamp(min?: number, max?: number): Tensor { return ops.clamp(this, min, max); }

  // Comparisons (results never require gradients)

  equal(other: TensorLike): Tensor { return ops.equal(this, other); }
  notEqual(other: TensorLike): Tensor { return ops.notEqual(this, other); }
  greater(other: TensorLike): Tensor { return ops.greater(this, other); }
  greaterEqual(other: TensorLike): Tensor { return ops.greaterEqual(this, other); }
  less(other: TensorLike): Tensor { return ops.less(this, other); }
  lessEqual(other: TensorLike): Tensor { return ops.lessEqual(this, other); }
  eq(other: TensorLike): Tensor { return ops.equal(this, other); }
  ne(other: TensorLike): Tensor { return ops.notEqual(this, other); }
  gt(other: TensorLike): Tensor { return ops.greater(this, other); }
  ge(other: TensorLike): Tensor { return ops.greaterEqual(this, other); }
  lt(other: TensorLike): Tensor { return ops.less(this, other); }
  le(other: TensorLike): Tensor { return ops.lessEqual(this, other); }

  // Elementwise functions

  exp(): Tensor { return ops.exp(this); }
  expm1(): Tensor { return ops.expm1(this); }
  log(): Tensor { return ops.log(this); }
  log1p(): Tensor { return ops.log1p(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  erf(): Tensor { return ops.erf(this); }
  relu(): Tensor { return ops.relu(this); }
  leakyRelu(slope?: number): Tensor { return ops.leakyRelu(this, slope); }
  elu(alpha?: number): Tensor { return ops.elu(this, alpha); }
  gelu(): Tensor { return ops.gelu(this); }
  softplus(): Tensor { return ops.softplus(this); }
  softmax(axis?: number): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis?: number): Tensor { return ops.logSoftmax(this, axis); }

  // Reductions

  sum(axes?: Axes, keepDims?: boolean): Tensor { return ops.sum(this, axes, keepDims); }
  mean(axes?: Axes, keepDims?: boolean): Tensor { return ops.mean(this, axes, keepDims); }
  max(axes?: Axes, keepDims?: boolean): Tensor { return ops.max(this, axes, keepDims); }
  min(axes?: Axes, keepDims?: boolean): Tensor { return ops.min(this, axes, keepDims); }
  argmax(axis?: number, keepDims?: boolean): Tensor { return ops.argmax(this, axis, keepDims); }
  argmin(axis?: number, keepDims?: boolean): Tensor { return ops.argmin(this, axis, keepDims); }
  logsumexp(axes?: Axes, keepDims?: boolean): Tensor { return ops.logsumexp(this, axes, keepDims); }
  var(axes?: Axes, keepDims?: boolean, correction?: number): Tensor { return ops.variance(this, axes, keepDims, correction); }
  std(axes?: Axes, keepDims?: boolean, correction?: number): Tensor { return ops.std(this, axes, keepDims, correction); }

  // Shapes and views

  reshape(...shape: number[] | [readonly number[]]): Tensor { return ops.reshape(this, flattenShapeArgs(shape)); }
  view(...shape: number[] | [readonly number[]]): Tensor { return ops.reshape(this, flattenShapeArgs(shape)); }
  flatten(startAxis?: number, endAxis?: number): Tensor { return ops.flatten(this, startAxis, endAxis); }
  squeeze(axis?: number): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  transpose(axisA = -2, axisB = -1): Tensor { return ops.transpose(this, axisA, axisB); }
  permute(...axes: number[] | [readonly number[]]): Tensor { return ops.permute(this, flattenShapeArgs(axes)); }
  expand(...shape: number[] | [readonly number[]]): Tensor { return ops.expand(this, flattenShapeArgs(shape)); }
  broadcastTo(shape: readonly number[]): Tensor { return ops.expand(this, shape); }
  sumToShape(shape: readonly number[]): Tensor { return ops.sumToShape(this, shape); }
  slice(...specs: SliceSpec[]): Tensor { return ops.slice(this, ...specs); }
  narrow(axis: number, start: number, length: number): Tensor { return ops.narrow(this, axis, start, length); }
  split(sizes: number | readonly number[], axis?: number): Tensor[] { return ops.split(this, sizes, axis); }
  pad(pads: ReadonlyArray<readonly [number, number]>, value?: number): Tensor { return ops.pad(this, pads, value); }
  contiguous(): Tensor { return ops.contiguous(this); }
  clone(): Tensor { return ops.clone(this); }
  to(dtype: Dtype): Tensor { return ops.cast(this, dtype); }

  // Indexing

  indexSelect(axis: number, indices: ops.IndexLike): Tensor { return ops.indexSelect(this, axis, indices); }
  gather(axis: number, index: ops.IndexLike): Tensor { return ops.gather(this, axis, index); }

  // Linear algebra, convolution, pooling

  matmul(other: Tensor): Tensor { return ops.matmul(this, other); }
  conv2d(weight: Tensor, bias?: Tensor | null, options?: Conv2dArgs): Tensor { return ops.conv2d(this, weight, bias, options); }
  maxPool2d(options: PoolArgs): Tensor { return ops.maxPool2d(this, options); }
  avgPool2d(options: AvgPoolArgs): Tensor { return ops.avgPool2d(this, options); }
}

/**
 * Adds a gradient into a leaf's `.grad`. The stored gradient always owns a dense buffer, so that
 * optimizers may update it in place; it is recorded in the graph only with `createGraph`.
 */
function accumulateLeafGrad(previous: Tensor | null, grad: Tensor, createGraph: boolean): Tensor {
  if (createGraph) return previous === null ? ops.clone(grad) : previous.add(grad);
  return noGrad(() => (previous === null ? ops.clone(grad) : previous.add(grad)));
}

function flattenShapeArgs(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? (args[0] as number[]).slice() : (args as number[]);
}

/** The default seed of backward() and grad(): 1 for a one-element output, an error otherwise. */
export function defaultSeed(output: Tensor, caller: string): Tensor {
  if (output.size !== 1) {
    throw new Error(
      `${caller}: the output has shape ${formatShape(output.shape)}, not one element, so its gradient needs a seed. ` +
        'Reduce it to a scalar first (for example .sum() or .mean()), or pass the gradient of the loss with respect to it',
    );
  }
  return new Tensor(output.dtype === 'float32' ? new Float32Array([1]) : new Float64Array([1]), output.shape);
}

/** Throws unless a seed gradient has its output's shape and dtype. */
export function checkSeed(caller: string, output: Tensor, seed: Tensor): void {
  if (!(seed instanceof Tensor)) {
    throw new Error(`${caller}: the gradient output must be a Tensor of the output's shape ${formatShape(output.shape)}, got ${seed === null ? 'null' : typeof seed}`);
  }
  if (seed.shape.length !== output.shape.length || seed.shape.some((dim, i) => dim !== output.shape[i])) {
    throw new Error(`${caller}: the gradient output has shape ${formatShape(seed.shape)} but the output has shape ${formatShape(output.shape)}; they must match`);
  }
  if (seed.dtype !== output.dtype) {
    throw new Error(`${caller}: the gradient output is ${seed.dtype} but the output is ${output.dtype}; convert it with .to('${output.dtype}')`);
  }
}
