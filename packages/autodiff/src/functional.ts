/**
 * Differentiation as functions: PyTorch's `autograd.grad`, and JAX-style transformations
 * (gradOf, valueAndGrad, vjp, jvp, hvp, jacobian, hessian) built on it.
 *
 * The transformations nest: when an argument already requires gradients (as it does inside an
 * outer transformation), the inner one records its own backward pass, so the outer one can
 * differentiate through it. Each call differentiates with respect to its own arguments only,
 * so nested levels do not mix.
 */
import { formatShape } from '@metagrad/kernels';
import { type BackwardOptions, runBackward } from './graph';
import { enableGrad, isGradEnabled } from './grad-mode';
import { zerosLike } from './creation';
import * as ops from './ops';
import { checkSeed, defaultSeed, Tensor } from './tensor';

/** Options of `grad`. */
export interface GradOptions extends BackwardOptions {
  /** Gradient of the final loss with respect to each output; needed for outputs with more than one element. */
  gradOutputs?: Tensor | readonly Tensor[];
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

function asList(value: Tensor | readonly Tensor[], caller: string, what: string): Tensor[] {
  const list = value instanceof Tensor ? [value] : Array.from(value);
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${caller}: ${what} ${i} is not a Tensor`);
  });
  return list;
}

/**
 * Returns the gradients of `outputs` with respect to `inputs`, without touching any `.grad`,
 * like PyTorch's `torch.autograd.grad`. With `createGraph`, the gradients are recorded and can
 * be differentiated again.
 *
 * const x = tensor(3, { requiresGrad: true });
 * const [dx] = grad(x.mul(x), x, { createGraph: true }); // 6
 * const [dxx] = grad(dx, x);                              // 2
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options?: GradOptions & { allowUnused?: false }): Tensor[];
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options: GradOptions): Array<Tensor | null>;
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options: GradOptions = {}): Array<Tensor | null> {
  const outputList = asList(outputs, 'grad', 'output');
  const inputList = asList(inputs, 'grad', 'input');
  inputList.forEach((input, i) => {
    if (!input.requiresGrad) {
      throw new Error(`grad: input ${i} ${formatShape(input.shape)} does not require gradients; create it with requiresGrad: true or call requiresGrad_()`);
    }
  });

  const seeds = options.gradOutputs === undefined ? outputList.map((o) => defaultSeed(o, 'grad')) : asList(options.gradOutputs, 'grad', 'gradOutput');
  if (seeds.length !== outputList.length) {
    throw new Error(`grad: ${seeds.length} gradient outputs given for ${outputList.length} outputs; give one per output`);
  }
  seeds.forEach((seed, i) => checkSeed('grad', outputList[i], seed));

  const connected = outputList.map((o, i) => ({ output: o, seed: seeds[i] })).filter(({ output }) => output.requiresGrad);
  if (connected.length === 0 && !options.allowUnused) {
    throw new Error('grad: no output requires gradients, so none depends on the inputs; pass allowUnused: true to get null gradients');
  }

  const grads = runBackward(connected.map((c) => c.output), connected.map((c) => c.seed), options, new Set(inputList));
  return inputList.map((input, i) => {
    const result = grads.get(input);
    if (result !== undefined) return result;
    if (options.allowUnused) return null;
    throw new Error(`grad: input ${i} ${formatShape(input.shape)} was not used to compute the outputs; pass allowUnused: true to get null for it`);
  });
}

/**
 * A tensor argument to differentiate with respect to, and whether the caller is itself being
 * differentiated. Inside an outer transformation the argument is a recorded clone of x. The
 * inner gradient then counts only the uses of the argument, not the uses of x that f closes
 * over, and the outer transformation still differentiates through the clone back to x.
 */
function primal(x: Tensor): { tensor: Tensor; nested: boolean } {
  if (x.requiresGrad && isGradEnabled()) return { tensor: ops.clone(x), nested: true };
  return { tensor: x.detach().requiresGrad_(true), nested: false };
}

function gradsOrZeros(grads: Array<Tensor | null>, likes: Tensor[]): Tensor[] {
  return grads.map((g, i) => g ?? zerosLike(likes[i]));
}

/** Which arguments a transformation differentiates: one index (default 0) or several. */
export interface ArgnumsOptions {
  argnums?: number | readonly number[];
}

/**
 * Transforms a scalar function into one that returns [value, gradient], like jax.value_and_grad.
 * The gradient is a tensor for one argnum (default 0) and a list for a list of argnums.
 * An argument the value does not depend on gets a zero gradient.
 */
export function valueAndGrad(
  f: (...args: Tensor[]) => Tensor,
  options: ArgnumsOptions = {},
): (...args: Tensor[]) => [Tensor, Tensor | Tensor[]] {
  const argnums = options.argnums ?? 0;
  const selected = typeof argnums === 'number' ? [argnums] : Array.from(argnums);
  return (...args) => {
    selected.forEach((index) => {
      if (!(args[index] instanceof Tensor)) throw new Error(`valueAndGrad: argument ${index} must be a Tensor to differentiate with respect to it`);
    });
    const primals = args.map((arg, i) => (selected.includes(i) ? primal(arg) : { tensor: arg, nested: false }));
    const nested = primals.some((p) => p.nested);
    const inputs = selected.map((i) => primals[i].tensor);

    const value = enableGrad(() => f(...primals.map((p) => p.tensor)));
    if (!(value instanceof Tensor) || value.size !== 1) {
      throw new Error(`valueAndGrad: the function must return a tensor with one element, got ${value instanceof Tensor ? `shape ${formatShape(value.shape)}` : typeof value}; reduce it with sum() or mean()`);
    }
    const grads = gradsOrZeros(grad(value, inputs, { createGraph: nested, allowUnused: true }), inputs);
    return [value, typeof argnums === 'number' ? grads[0] : grads];
  };
}

/** Transforms a scalar function into its gradient function, like jax.grad. */
export function gradOf(f: (...args: Tensor[]) => Tensor, options: ArgnumsOptions = {}): (...args: Tensor[]) => Tensor | Tensor[] {
  const withValue = valueAndGrad(f, options);
  return (...args) => withValue(...args)[1];
}

/**
 * Evaluates f at `xs` and returns [output, vjpFn], where vjpFn(cotangent) returns the gradient
 * of sum(output * cotangent) with respect to each x, like jax.vjp. vjpFn may be called many times.
 */
export function vjp(f: (...xs: Tensor[]) => Tensor, ...xs: Tensor[]): [Tensor, (cotangent: Tensor) => Tensor[]] {
  const primals = xs.map(primal);
  const nested = primals.some((p) => p.nested);
  const inputs = primals.map((p) => p.tensor);
  const output = enableGrad(() => f(...inputs));

  const pullback = (cotangent: Tensor): Tensor[] => {
    if (!output.requiresGrad) return inputs.map((x) => zerosLike(x));
    const grads = grad(output, inputs, { gradOutputs: cotangent, retainGraph: true, createGraph: nested, allowUnused: true });
    return gradsOrZeros(grads, inputs);
  };
  return [output, pullback];
}

/**
 * Returns [f(xs), J·vs], the forward-mode directional derivative, like jax.jvp. It is computed
 * with two reverse passes (the "double VJP" trick): g(u) = Jᵀu is linear in u, so the gradient
 * of <g(u), v> with respect to u is J·v.
 */
export function jvp(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[], vs: readonly Tensor[]): [Tensor, Tensor] {
  if (xs.length !== vs.length) throw new Error(`jvp: ${xs.length} primals but ${vs.length} tangents; give one tangent per primal`);
  vs.forEach((v, i) => {
    if (v.shape.length !== xs[i].shape.length || v.shape.some((dim, axis) => dim !== xs[i].shape[axis])) {
      throw new Error(`jvp: tangent ${i} has shape ${formatShape(v.shape)} but primal ${i} has shape ${formatShape(xs[i].shape)}`);
    }
  });
  const primals = xs.map(primal);
  const nested = primals.some((p) => p.nested);
  const inputs = primals.map((p) => p.tensor);

  return enableGrad(() => {
    const output = f(...inputs);
    const u = zerosLike(output).requiresGrad_(true);
    if (!output.requiresGrad) return [output, zerosLike(output)] as [Tensor, Tensor];

    const pulled = grad(output, inputs, { gradOutputs: u, createGraph: true, allowUnused: true });
    let pairing: Tensor | null = null;
    pulled.forEach((g, i) => {
      if (g === null) return;
      const term = ops.sum(ops.mul(g, vs[i]));
      pairing = pairing === null ? term : ops.add(pairing, term);
    });
    if (pairing === null) return [output, zerosLike(output)] as [Tensor, Tensor];
    const [tangent] = grad(pairing, [u], { createGraph: nested, allowUnused: true });
    return [output, tangent ?? zerosLike(output)] as [Tensor, Tensor];
  });
}

/**
 * Hessian-vector product of a scalar function: the gradient of <grad f(x), v> with respect to
 * x, without forming the Hessian.
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  const { tensor: input, nested } = primal(x);
  return enableGrad(() => {
    const value = f(input);
    const [g] = grad(value, [input], { createGraph: true, allowUnused: true });
    if (g === null || !g.requiresGrad) return zerosLike(input);
    const [result] = grad(ops.sum(ops.mul(g, v)), [input], { createGraph: nested, allowUnused: true });
    return result ?? zerosLike(input);
  });
}

/**
 * The Jacobian of f at x, with shape f(x).shape + x.shape, by one reverse pass per output
 * element. Meant for small inputs and tests.
 */
export function jacobian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  const { tensor: input, nested } = primal(x);
  return enableGrad(() => {
    const output = f(input);
    const rows: Tensor[] = [];
    for (let i = 0; i < output.size; i++) {
      const oneHot = zerosLike(output);
      oneHot.data[i] = 1;
      const [row] = output.requiresGrad
        ? grad(output, [input], { gradOutputs: oneHot, retainGraph: true, createGraph: nested, allowUnused: true })
        : [null];
      rows.push(row ?? zerosLike(input));
    }
    return ops.reshape(ops.stack(rows, 0), [...output.shape, ...input.shape]);
  });
}

/** The Hessian of a scalar function at x, with shape x.shape + x.shape. */
export function hessian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  const gradient = gradOf(f);
  return jacobian((y) => gradient(y) as Tensor, x);
}
