/**
 * Gradient checks by finite differences: `gradcheck` compares the Jacobian of every output with
 * respect to every input that requires gradients against central differences, and
 * `gradgradcheck` does the same for the gradient function itself, which checks second
 * derivatives. Run them in float64: float32 rounding swamps the differences.
 */
import { elementOffsets, formatShape } from '@metagrad/kernels';
import { zerosLike } from './creation';
import { grad } from './functional';
import { enableGrad, noGrad } from './grad-mode';
import { Generator } from './random';
import { Tensor } from './tensor';

/** Step and tolerances of a gradient check. */
export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance. Default 1e-3. */
  rtol?: number;
}

type Outputs = Tensor | readonly Tensor[];

function outputsOf(value: Outputs): Tensor[] {
  return value instanceof Tensor ? [value] : Array.from(value);
}

// The package runs in browsers and Node without either's type library, so declare the one console method it uses.
declare const console: { warn(message: string): void };

let warnedAboutFloat32 = false;

/**
 * Checks the gradients of `f` at `inputs` against central finite differences, for every
 * output and every input with `requiresGrad`. Returns true, or throws naming the output, the
 * input, the element pair with the worst mismatch, and both values.
 *
 * gradcheck((x) => x.tanh(), [tensor([0.5, -1], { dtype: 'float64', requiresGrad: true })]);
 */
export function gradcheck(f: (...inputs: Tensor[]) => Outputs, inputs: readonly Tensor[], options: GradcheckOptions = {}): true {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  const checked = inputs.map((x, i) => ({ x, i })).filter(({ x }) => x.requiresGrad);
  if (checked.length === 0) throw new Error('gradcheck: no input requires gradients; set requiresGrad on the inputs to check');
  if (inputs.some((x) => x.dtype !== 'float64') && !warnedAboutFloat32) {
    warnedAboutFloat32 = true;
    console.warn('gradcheck: some inputs are not float64; finite differences in float32 are too coarse for the default tolerances');
  }

  const outputs = outputsOf(f(...inputs));
  outputs.forEach((output, o) => {
    const analytical = analyticalJacobian(output, checked.map(({ x }) => x));
    checked.forEach(({ x, i }, c) => {
      const numerical = numericalJacobian(f, inputs, i, o, eps);
      compareJacobians(analytical[c], numerical, { output: o, input: i, outputShape: output.shape, inputShape: x.shape, atol, rtol });
    });
  });
  return true;
}

/** Rows of the Jacobian of one output with respect to each input: jacobian[input][outputElement][inputElement]. */
function analyticalJacobian(output: Tensor, inputs: Tensor[]): Float64Array[][] {
  const jacobians = inputs.map(() => [] as Float64Array[]);
  for (let j = 0; j < output.size; j++) {
    if (!output.requiresGrad) {
      inputs.forEach((x, c) => jacobians[c].push(new Float64Array(x.size)));
      continue;
    }
    const seed = zerosLike(output);
    seed.data[j] = 1;
    const grads = grad(output, inputs, { gradOutputs: seed, retainGraph: true, allowUnused: true });
    grads.forEach((g, c) => jacobians[c].push(g ? Float64Array.from(g.toTypedArray()) : new Float64Array(inputs[c].size)));
  }
  return jacobians;
}

/** numerical[outputElement][inputElement] = (f(x + eps e) - f(x - eps e)) / (2 eps), perturbing input `index` in place. */
function numericalJacobian(f: (...inputs: Tensor[]) => Outputs, inputs: readonly Tensor[], index: number, outputIndex: number, eps: number): Float64Array[] {
  const x = inputs[index];
  const offsets = elementOffsets(x);
  const evaluate = () => noGrad(() => outputsOf(f(...inputs))[outputIndex].toTypedArray());
  const columns: Float64Array[] = [];

  for (let p = 0; p < offsets.length; p++) {
    const original = x.data[offsets[p]];
    x.data[offsets[p]] = original + eps;
    const plus = evaluate();
    x.data[offsets[p]] = original - eps;
    const minus = evaluate();
    x.data[offsets[p]] = original;
    columns.push(Float64Array.from(plus, (v, j) => (v - minus[j]) / (2 * eps)));
  }
  const outputSize = columns.length > 0 ? columns[0].length : 0;
  return Array.from({ length: outputSize }, (_, j) => Float64Array.from(columns, (column) => column[j]));
}

interface Comparison {
  output: number;
  input: number;
  outputShape: number[];
  inputShape: number[];
  atol: number;
  rtol: number;
}

function compareJacobians(analytical: Float64Array[], numerical: Float64Array[], c: Comparison): void {
  let worst: { j: number; p: number; a: number; n: number; excess: number } | undefined;
  let mismatches = 0;
  for (let j = 0; j < numerical.length; j++) {
    for (let p = 0; p < numerical[j].length; p++) {
      const a = analytical[j][p];
      const n = numerical[j][p];
      const excess = Math.abs(a - n) - (c.atol + c.rtol * Math.abs(n));
      if (excess > 0 || Number.isNaN(a) !== Number.isNaN(n)) {
        mismatches++;
        if (!worst || excess > worst.excess || Number.isNaN(a)) worst = { j, p, a, n, excess };
      }
    }
  }
  if (!worst) return;
  throw new Error(
    `gradcheck: Jacobian mismatch for output ${c.output} ${formatShape(c.outputShape)} with respect to input ${c.input} ${formatShape(c.inputShape)}: ` +
      `at output element ${worst.j} and input element ${worst.p} the analytical derivative is ${worst.a} but finite differences give ${worst.n} ` +
      `(${mismatches} element pair(s) outside atol ${c.atol} + rtol ${c.rtol} * |numerical|)`,
  );
}

/** Options of `gradgradcheck`: those of gradcheck, plus the output gradients to use. */
export interface GradgradcheckOptions extends GradcheckOptions {
  /** Gradients of the outputs to differentiate through; random float64 values by default. */
  gradOutputs?: readonly Tensor[];
  /** Seed of the random output gradients. Default 0. */
  seed?: number;
}

/**
 * Checks second derivatives: runs `gradcheck` on the function (inputs, v) -> grad(f(inputs), inputs,
 * gradOutputs v, createGraph), so the gradients' own gradients, with respect to both the inputs
 * and v, are compared against finite differences.
 */
export function gradgradcheck(f: (...inputs: Tensor[]) => Outputs, inputs: readonly Tensor[], options: GradgradcheckOptions = {}): true {
  const differentiable = inputs.filter((x) => x.requiresGrad);
  if (differentiable.length === 0) throw new Error('gradgradcheck: no input requires gradients; set requiresGrad on the inputs to check');
  const shapes = noGrad(() => outputsOf(f(...inputs))).map((output) => ({ shape: output.shape, dtype: output.dtype }));
  const generator = new Generator(options.seed ?? 0);
  const vs = options.gradOutputs
    ? options.gradOutputs.map((v) => v.detach().requiresGrad_(true))
    : shapes.map(({ shape, dtype }) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const data = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
        for (let i = 0; i < size; i++) data[i] = generator.normal();
        return new Tensor(data, shape, undefined, 0, true);
      });

  // enableGrad: the numerical pass of gradcheck evaluates under noGrad, but this function
  // needs the graph of f to take its gradient.
  const gradientFunction = (...all: Tensor[]): Tensor[] => enableGrad(() => {
    const xs = all.slice(0, inputs.length);
    const v = all.slice(inputs.length);
    const outputs = outputsOf(f(...xs));
    const used = outputs.map((o, i) => ({ o, v: v[i] })).filter(({ o }) => o.requiresGrad);
    const targets = xs.filter((x) => x.requiresGrad);
    if (used.length === 0) return targets.map((x) => zerosLike(x));
    const grads = grad(used.map((u) => u.o), targets, { gradOutputs: used.map((u) => u.v), createGraph: true, allowUnused: true });
    return grads.map((g, i) => g ?? zerosLike(targets[i]));
  });
  return gradcheck(gradientFunction, [...inputs, ...vs], options);
}
