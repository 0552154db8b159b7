/**
 * The recorded graph and the reverse-mode engine that walks it.
 *
 * Words used throughout this package:
 *   - result: the output of an op's forward computation.
 *   - grad:   the incoming cotangent dL/d(result), a tensor of the result's shape.
 *   - VJP:    vector-Jacobian product, the function from grad to the cotangents of the op's
 *             inputs, dL/d(input) = grad · d(result)/d(input).
 *
 * Every op that takes an input requiring gradients attaches a `Node` to its result: the op's
 * name, its inputs and its VJP. VJPs are written with the same differentiable ops as forward
 * code. So when the engine runs them with graph recording on (`createGraph`), the gradients it
 * returns are themselves recorded, and can be differentiated again, to any order.
 */
import { isAnomalyEnabled, isGradEnabled, setGradEnabled } from './grad-mode';
import type { Tensor } from './tensor';
import { formatShape } from '@metagrad/kernels';

/**
 * An op's vector-Jacobian product: one cotangent per input, or null for inputs that need none.
 * For an input that broadcastSource accepts, the VJP may return a SourceGradient instead.
 */
export type Vjp = (grad: Tensor) => ReadonlyArray<Tensor | SourceGradient | null>;

/**
 * The gradient of the tensor that an op's input broadcasts, which the op's VJP returns in
 * place of the input's own gradient. `grad` has the shape of `source`: it is the input's
 * gradient summed over the broadcast axes, as expand's VJP would sum it.
 */
export class SourceGradient {
  constructor(
    readonly source: Tensor,
    readonly grad: Tensor,
  ) {}
}

/** The record of one op application, attached to the op's result. */
export class Node {
  /** Set once a backward pass without `retainGraph` has released the VJP and its saved tensors. */
  released = false;

  constructor(
    readonly op: string,
    public inputs: Tensor[],
    public vjp: Vjp | null,
    /** Where the op was called, captured only under anomaly detection. */
    readonly createdAt?: string,
  ) {}
}

/**
 * Whether a VJP is running. Anomaly detection then skips the ops inside it and checks the
 * gradients the VJP returns instead, so that its error names the op being differentiated.
 */
let insideVjp = false;

/** The backward pass that is running: the tensors it returns, and whether a listener gets each step. */
let running: { wanted: ReadonlySet<Tensor> | undefined; watched: boolean } | undefined;

/**
 * Returns the tensor that `input` broadcasts, when `input` is the result of expand and the
 * running backward pass needs the input's gradient only summed back to that tensor: the pass
 * does not return it, and no listener watches the steps. An op's VJP may then give a
 * SourceGradient for that input and skip the broadcast shape. MAML's task-batched inner loop
 * broadcasts each shared weight to one copy per task, and the meta-gradient sums the copies'
 * gradients back. A matrix product gives that sum as one product over the flattened tasks.
 * Otherwise it takes one product per task, then additions of full-size gradients and a sum.
 */
export function broadcastSource(input: Tensor): Tensor | undefined {
  const node = input.node;
  if (running === undefined || running.watched || running.wanted?.has(input)) return undefined;
  if (!node || node.op !== 'expand' || node.inputs.length !== 1) return undefined;
  return node.inputs[0];
}

/**
 * Attaches a node to `result` when graph recording is on and some input requires gradients,
 * and returns `result`. Every differentiable op ends with this call.
 */
export function record(op: string, result: Tensor, inputs: Tensor[], vjp: Vjp): Tensor {
  const anomaly = isAnomalyEnabled();
  const createdAt = anomaly ? callSite() : undefined;
  if (anomaly && !insideVjp) checkFinite(`forward of '${op}'`, result, createdAt);

  if (!isGradEnabled()) return result;
  let needed = false;
  for (const input of inputs) if (input.requiresGrad) needed = true;
  if (!needed) return result;

  result.requiresGrad = true;
  result.node = new Node(op, inputs, vjp, createdAt);
  return result;
}

/** Options of a backward pass. */
export interface BackwardOptions {
  /** Record the backward pass itself, so that the gradients can be differentiated again. */
  createGraph?: boolean;
  /** Keep the graph's VJPs and saved tensors for another backward pass. Defaults to createGraph. */
  retainGraph?: boolean;
}

/** Called once per backward step with the tensor, its node, its gradient and the input gradients. */
export type BackwardStepListener = (tensor: Tensor, node: Node, grad: Tensor, inputGrads: ReadonlyArray<Tensor | null>) => void;

/**
 * Runs reverse-mode differentiation from `outputs`, seeded with `gradOutputs`, and returns the
 * accumulated gradient of every tensor reached that requires gradients (leaves included).
 *
 * Tensors are visited in reverse topological order, so each tensor's gradient is complete,
 * with every use summed, before its node's VJP runs.
 *
 * With `wanted` (as `grad()` passes its inputs), only the gradients of those tensors matter: a
 * node's VJP runs only when one of its inputs leads to a wanted tensor. So the gradient with
 * respect to adapted weights does not continue into the graph that computed them, and only the
 * nodes that ran are released.
 */
export function runBackward(
  outputs: readonly Tensor[],
  gradOutputs: readonly Tensor[],
  options: BackwardOptions,
  wanted?: ReadonlySet<Tensor>,
  onStep?: BackwardStepListener,
): Map<Tensor, Tensor> {
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const order = topologicalOrder(outputs);
  const leadsToWanted = wanted ? pathsTo(wanted, order) : undefined;
  const ran: Node[] = [];
  const previous = setGradEnabled(createGraph);
  const outerPass = running;
  running = { wanted, watched: onStep !== undefined };

  try {
    const grads = new Map<Tensor, Tensor>();
    outputs.forEach((output, i) => accumulate(grads, output, gradOutputs[i]));

    for (let position = order.length - 1; position >= 0; position--) {
      const tensor = order[position];
      const node = tensor.node!;
      const grad = grads.get(tensor);
      if (grad === undefined) continue;
      if (!wanted?.has(tensor)) grads.delete(tensor);
      if (leadsToWanted && !node.inputs.some((input) => leadsToWanted.has(input))) continue;

      const inputGrads = runVjp(node, grad);
      ran.push(node);
      // A watched pass gets no SourceGradient: broadcastSource declines while a listener is set.
      onStep?.(tensor, node, grad, inputGrads as ReadonlyArray<Tensor | null>);
      node.inputs.forEach((input, i) => {
        if (!input.requiresGrad || (leadsToWanted && !leadsToWanted.has(input))) return;
        const inputGrad = inputGrads[i];
        if (inputGrad instanceof SourceGradient) {
          checkSourceGradient(node, i, input, inputGrad);
          accumulate(grads, inputGrad.source, inputGrad.grad);
          return;
        }
        checkInputGrad(node, i, input, inputGrad);
        accumulate(grads, input, inputGrad!);
      });
    }

    if (!retainGraph) for (const node of ran) release(node);
    return grads;
  } finally {
    setGradEnabled(previous);
    running = outerPass;
  }
}

/** The wanted tensors and every tensor in `order` computed from one of them. */
function pathsTo(wanted: ReadonlySet<Tensor>, order: readonly Tensor[]): Set<Tensor> {
  const result = new Set<Tensor>(wanted);
  for (const tensor of order) {
    if (tensor.node!.inputs.some((input) => result.has(input))) result.add(tensor);
  }
  return result;
}

function runVjp(node: Node, grad: Tensor): ReadonlyArray<Tensor | SourceGradient | null> {
  const previous = insideVjp;
  insideVjp = true;
  try {
    return node.vjp!(grad);
  } finally {
    insideVjp = previous;
  }
}

function accumulate(grads: Map<Tensor, Tensor>, tensor: Tensor, grad: Tensor): void {
  const existing = grads.get(tensor);
  grads.set(tensor, existing === undefined ? grad : existing.add(grad));
}

/** Throws unless a SourceGradient names the tensor that `input` broadcasts and has its shape and dtype. */
function checkSourceGradient(node: Node, index: number, input: Tensor, sourceGrad: SourceGradient): void {
  if (sourceGrad.source !== broadcastSource(input)) {
    throw new Error(`internal error: the VJP of '${node.op}' returned a gradient for a tensor that input ${index} does not broadcast`);
  }
  checkInputGrad(node, index, sourceGrad.source, sourceGrad.grad);
}

function checkInputGrad(node: Node, index: number, input: Tensor, grad: Tensor | null | undefined): void {
  if (grad === null || grad === undefined) {
    throw new Error(`internal error: the VJP of '${node.op}' returned no gradient for input ${index}, which requires one`);
  }
  if (grad.shape.length !== input.shape.length || grad.shape.some((dim, axis) => dim !== input.shape[axis])) {
    throw new Error(
      `internal error: the VJP of '${node.op}' returned a gradient of shape ${formatShape(grad.shape)} for input ${index} of shape ${formatShape(input.shape)}`,
    );
  }
  if (grad.dtype !== input.dtype) {
    throw new Error(`internal error: the VJP of '${node.op}' returned a ${grad.dtype} gradient for ${input.dtype} input ${index}`);
  }
  if (isAnomalyEnabled()) checkFinite(`backward of '${node.op}' (gradient of input ${index})`, grad, node.createdAt);
}

/** Returns every tensor with a node reachable from `outputs`, each after all of its inputs. */
function topologicalOrder(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative depth-first search: a tensor is emitted once all of its inputs have been.
  const stack: Array<{ tensor: Tensor; next: number }> = [];

  for (const output of outputs) {
    if (!output.node || visited.has(output)) continue;
    visited.add(output);
    stack.push({ tensor: output, next: 0 });

    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const node = top.tensor.node!;
      if (node.released) throw freedGraphError(node);
      if (top.next < node.inputs.length) {
        const input = node.inputs[top.next++];
        if (input.node && !visited.has(input)) {
          visited.add(input);
          stack.push({ tensor: input, next: 0 });
        }
        continue;
      }
      order.push(top.tensor);
      stack.pop();
    }
  }
  return order;
}

function release(node: Node): void {
  node.vjp = null;
  node.inputs = [];
  node.released = true;
}

function freedGraphError(node: Node): Error {
  return new Error(
    `backward through '${node.op}' failed: its graph was freed by an earlier backward pass. ` +
      'Pass { retainGraph: true } to the earlier backward() or grad() call to run backward through the same graph again',
  );
}

/** Throws when a tensor holds NaN or an infinity, naming what produced it. */
export function checkFinite(what: string, tensor: Tensor, createdAt: string | undefined): void {
  const values = tensor.toTypedArray();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) continue;
    const where = createdAt ? ` (op called at ${createdAt})` : '';
    throw new Error(`detectAnomaly: ${what} produced ${v} at element ${i} of a tensor of shape ${formatShape(tensor.shape)}${where}`);
  }
}

/** The first stack frame outside this package: where user code called the op. */
function callSite(): string | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  const frame = stack.find((line) => !/[\\/]autodiff[\\/](src|dist)[\\/]/.test(line));
  return frame?.trim().replace(/^at\s+/, '');
}
