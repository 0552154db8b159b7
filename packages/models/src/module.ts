/**
 * Module: the base class of every layer and model, with PyTorch's conventions. A module owns
 * named parameters (tensors that training updates), buffers (state that is saved but not
 * trained, such as BatchNorm's running mean) and submodules, so that `namedParameters()`
 * returns dotted names like `0.weight` or `layers.1.self_attn.in_proj_weight`.
 *
 * Layers read their parameters through `this.parameter(name)` at call time. That indirection
 * is what lets `functionalCall` run the same forward code with other tensors, for example the
 * adapted weights of an inner meta-learning loop.
 */
import { Tensor, noGrad, zeros } from '@metagrad/autodiff';
import { formatShape, isContiguous } from '@metagrad/kernels';

export abstract class Module {
  /** Whether the module is in training mode (Dropout active, BatchNorm updating its statistics). */
  training = true;
  private readonly parameterSlots = new Map<string, Tensor | null>();
  private readonly bufferSlots = new Map<string, Tensor | null>();
  private readonly moduleSlots = new Map<string, Module>();

  /** Computes the module's output. Subclasses define the inputs. */
  abstract forward(...inputs: never[]): unknown;

  // Registration

  /** Registers a trainable tensor under `name` and returns it. The tensor is set to require gradients. */
  protected registerParameter(name: string, value: Tensor | null): Tensor | null {
    checkName(name, this);
    if (value) {
      value.requiresGrad_(true);
      value.name ??= name;
    }
    this.parameterSlots.set(name, value);
    return value;
  }

  /** Registers a state tensor under `name` that `stateDict()` saves but optimizers do not update. */
  protected registerBuffer(name: string, value: Tensor | null): Tensor | null {
    checkName(name, this);
    this.bufferSlots.set(name, value);
    return value;
  }

  /** Registers a child module under `name` and returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    checkName(name, this);
    this.moduleSlots.set(name, module);
    return module;
  }

  /** Returns the parameter registered as `name`, or the tensor `functionalCall` put in its place. */
  protected parameter(name: string): Tensor {
    const value = this.parameterSlots.get(name);
    if (!value) throw new Error(`${this.constructor.name}: no parameter named '${name}'`);
    return value;
  }

  /** Returns the parameter registered as `name`, or null when it was registered as absent (a layer without bias). */
  protected optionalParameter(name: string): Tensor | null {
    if (!this.parameterSlots.has(name)) throw new Error(`${this.constructor.name}: no parameter named '${name}'`);
    return this.parameterSlots.get(name) ?? null;
  }

  /** Returns the buffer registered as `name`. */
  protected buffer(name: string): Tensor {
    const value = this.bufferSlots.get(name);
    if (!value) throw new Error(`${this.constructor.name}: no buffer named '${name}'`);
    return value;
  }

  /** Replaces a buffer's tensor, as BatchNorm does when it updates its running statistics. */
  protected setBuffer(name: string, value: Tensor): void {
    if (!this.bufferSlots.has(name)) throw new Error(`${this.constructor.name}: no buffer named '${name}'`);
    this.bufferSlots.set(name, value);
  }

  // Traversal

  /**
   * Direct children as [name, module] pairs, in registration order.
   * NOTE: a child registered under two names is listed under both, where PyTorch lists it once.
   */
  namedChildren(): Array<[string, Module]> {
    return [...this.moduleSlots.entries()];
  }

  /** Direct children. */
  children(): Module[] {
    return [...this.moduleSlots.values()];
  }

  /**
   * This module and every descendant as [dotted name, module] pairs, parents before children.
   * This module's name is ''. A module registered at several places is listed once, under its
   * first name, as in PyTorch.
   */
  namedModules(prefix = ''): Array<[string, Module]> {
    const result: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const visit = (module: Module, path: string) => {
      if (seen.has(module)) return;
      seen.add(module);
      result.push([path, module]);
      for (const [name, child] of module.moduleSlots) visit(child, join(path, name));
    };
    visit(this, prefix);
    return result;
  }

  /** This module and every descendant. */
  modules(): Module[] {
    return this.namedModules().map(([, module]) => module);
  }

  /**
   * Every parameter as [dotted name, tensor], this module's first, then each child's in order.
   * A tensor shared by several layers is listed once, so optimizers update it once per step.
   */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    return uniqueTensors(this.namedModules(prefix).map(([path, module]) => [path, module.parameterSlots]));
  }

  /** Every parameter, in the order of `namedParameters()`. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, value]) => value);
  }

  /** Every buffer as [dotted name, tensor], in the order of `namedParameters()` and listed once each. */
  namedBuffers(prefix = ''): Array<[string, Tensor]> {
    return uniqueTensors(this.namedModules(prefix).map(([path, module]) => [path, module.bufferSlots]));
  }

  /** Every buffer. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, value]) => value);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((total, p) => total + p.size, 0);
  }

  // Modes and gradients

  /** Sets training mode on this module and every descendant, and returns this module. */
  train(mode = true): this {
    for (const module of this.modules()) module.training = mode;
    return this;
  }

  /** Sets evaluation mode (Dropout off, BatchNorm using its running statistics). */
  eval(): this {
    return this.train(false);
  }

  /** Clears the `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // State

  /**
   * Parameters and buffers by dotted name, as PyTorch's state_dict: module by module, each one's
   * parameters, then its buffers, then its children's. A shared layer appears under every name
   * it has. The tensors are the module's own, not copies.
   */
  stateDict(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    const visit = (module: Module, path: string) => {
      for (const [name, value] of module.parameterSlots) if (value) state[join(path, name)] = value;
      for (const [name, value] of module.bufferSlots) if (value) state[join(path, name)] = value;
      for (const [name, child] of module.moduleSlots) visit(child, join(path, name));
    };
    visit(this, '');
    return state;
  }

  /**
   * Copies tensors into the parameters and buffers of the same names. Every shape is checked
   * before anything is copied, so a dict that does not fit changes nothing. With `strict`
   * (the default), missing and unexpected names are errors too.
   */
  loadStateDict(state: Record<string, Tensor>, options: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const missing = Object.keys(own).filter((name) => !(name in state));
    const unexpected = Object.keys(state).filter((name) => !(name in own));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new Error(
        `loadStateDict: the state does not match ${this.constructor.name}: ` +
          `missing ${missing.length ? missing.join(', ') : 'none'}; unexpected ${unexpected.length ? unexpected.join(', ') : 'none'}. ` +
          'Pass { strict: false } to load the names that match',
      );
    }

    const pairs = Object.keys(own).filter((name) => name in state).map((name) => ({ name, target: own[name], source: state[name] }));
    for (const { name, target, source } of pairs) {
      const fits = source.shape.length === target.shape.length && source.shape.every((dim, i) => dim === target.shape[i]);
      if (!fits) {
        throw new Error(`loadStateDict: '${name}' has shape ${formatShape(source.shape)} in the state but ${formatShape(target.shape)} in the module; nothing was loaded`);
      }
    }
    noGrad(() => {
      for (const { target, source } of pairs) copyInto(target, source);
    });
    return { missing, unexpected };
  }

  // Substitution, for functionalCall

  /** Swaps the tensor in a parameter or buffer slot and returns the previous one. */
  swapTensor(name: string, value: Tensor): Tensor | null {
    if (this.parameterSlots.has(name)) {
      const previous = this.parameterSlots.get(name) ?? null;
      this.parameterSlots.set(name, value);
      return previous;
    }
    if (this.bufferSlots.has(name)) {
      const previous = this.bufferSlots.get(name) ?? null;
      this.bufferSlots.set(name, value);
      return previous;
    }
    throw new Error(`${this.constructor.name}: no parameter or buffer named '${name}'`);
  }

  /** Restores a slot after `swapTensor`, including an absent (null) parameter. */
  restoreTensor(name: string, value: Tensor | null): void {
    if (this.parameterSlots.has(name)) this.parameterSlots.set(name, value);
    else this.bufferSlots.set(name, value);
  }

  /** A one-line description of this layer's settings, shown by toString (as PyTorch's extra_repr). */
  describe(): string {
    return '';
  }

  /**
   * The module tree with each layer's settings and parameter count. With an input or an input
   * shape, a table that also gives each layer's output shape (see `summary`).
   */
  toString(input?: readonly number[] | Tensor): string {
    return input ? this.summary(input) : this.renderTree(new Map());
  }

  /**
   * A table of every layer with its output shape and parameter count, found by running one
   * forward pass without recording the graph, on `input` or on zeros of that shape. Models that
   * read token ids where 0 means padding need a real example input.
   *
   * referenceCnn().summary([1, 1, 28, 28]) lists Conv2d(1, 32, ...) with output [1, 32, 26, 26].
   */
  summary(input: readonly number[] | Tensor): string {
    const outputShapes = new Map<Module, string>();
    const modules = this.modules();
    const originals = modules.map((module) => module.forward);

    // Record each module's output by wrapping its forward method on this instance only.
    modules.forEach((module, i) => {
      const forward = originals[i];
      (module as { forward: unknown }).forward = (...inputs: never[]) => {
        const output = forward.apply(module, inputs);
        outputShapes.set(module, describeOutput(output));
        return output;
      };
    });
    try {
      const dtype = this.parameters()[0]?.dtype ?? 'float32';
      const example = input instanceof Tensor ? input : zeros(input, { dtype });
      noGrad(() => (this.forward as (x: Tensor) => unknown)(example));
    } finally {
      modules.forEach((module) => delete (module as { forward?: unknown }).forward);
    }
    return this.renderTree(outputShapes);
  }

  private renderTree(outputShapes: Map<Module, string>): string {
    const rows: Array<[string, string, string]> = [];
    const render = (module: Module, name: string, depth: number) => {
      const label = `${'  '.repeat(depth)}${name ? `(${name}) ` : ''}${module.constructor.name}(${module.describe()})`;
      const own = [...module.parameterSlots.values()].reduce((total, p) => total + (p ? p.size : 0), 0);
      rows.push([label, outputShapes.get(module) ?? '', own > 0 ? own.toLocaleString('en-US') : '']);
      for (const [childName, child] of module.moduleSlots) render(child, childName, depth + 1);
    };
    render(this, '', 0);

    const total = `Total parameters: ${this.numParameters().toLocaleString('en-US')}`;
    if (outputShapes.size === 0) {
      return [...rows.map(([label, , count]) => (count ? `${label}  # ${count} parameters` : label)), total].join('\n');
    }
    const header: [string, string, string] = ['layer', 'output shape', 'parameters'];
    const widths = [0, 1].map((column) => Math.max(header[column].length, ...rows.map((row) => row[column].length)));
    const line = ([label, shape, count]: [string, string, string]) => `${label.padEnd(widths[0])}  ${shape.padEnd(widths[1])}  ${count}`.trimEnd();
    return [line(header), ...rows.map(line), total].join('\n');
  }
}

/** The shape of a module's output: a tensor's shape, or the shape of the first tensor in a result object. */
function describeOutput(output: unknown): string {
  if (output instanceof Tensor) return formatShape(output.shape);
  if (output && typeof output === 'object') {
    for (const [key, value] of Object.entries(output)) {
      if (value instanceof Tensor) return `${key} ${formatShape(value.shape)}`;
    }
  }
  return '';
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** Collects the tensors in each module's slots as [dotted name, tensor], each tensor under its first name only. */
function uniqueTensors(slotsByPath: Array<[string, Map<string, Tensor | null>]>): Array<[string, Tensor]> {
  const result: Array<[string, Tensor]> = [];
  const seen = new Set<Tensor>();
  for (const [path, slots] of slotsByPath) {
    for (const [name, value] of slots) {
      if (!value || seen.has(value)) continue;
      seen.add(value);
      result.push([join(path, name), value]);
    }
  }
  return result;
}

function checkName(name: string, module: Module): void {
  if (name === '' || name.includes('.')) {
    throw new Error(`${module.constructor.name}: invalid name '${name}'; names must be non-empty and contain no '.'`);
  }
}

/** Returns the module at a dotted path of child names, which reaches a shared layer under each of its names. */
function submoduleAt(root: Module, path: string): Module | undefined {
  let current: Module | undefined = root;
  for (const name of path.split('.')) {
    current = current.namedChildren().find(([childName]) => childName === name)?.[1];
    if (!current) return undefined;
  }
  return current;
}

/** Copies source's values into target's buffer, converting the dtype if needed. */
function copyInto(target: Tensor, source: Tensor): void {
  if (!isContiguous(target)) {
    throw new Error(`loadStateDict: cannot copy into a non-contiguous tensor of shape ${formatShape(target.shape)}`);
  }
  const values = source.dtype === target.dtype ? source.toTypedArray() : source.to(target.dtype).toTypedArray();
  target.data.set(values, target.offset);
}

/**
 * Runs `module.forward(...inputs)` with the given tensors in place of the module's parameters
 * and buffers, by dotted name, without changing the module: the previous tensors are restored
 * afterwards, even if forward throws. Names not given keep the module's own tensors.
 *
 * This is how meta-learning differentiates through adapted weights:
 * const adapted = Object.fromEntries(model.namedParameters().map(([n, p], i) => [n, p.sub(grads[i].mul(lr))]));
 * const out = functionalCall(model, adapted, x);
 */
export function functionalCall<M extends Module>(
  module: M,
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  ...inputs: Parameters<M['forward']>
): ReturnType<M['forward']> {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const swaps = entries.map(([path, value]) => {
    const cut = path.lastIndexOf('.');
    const owner = cut < 0 ? module : submoduleAt(module, path.slice(0, cut));
    if (!owner) throw new Error(`functionalCall: no submodule '${path.slice(0, cut)}' for '${path}' in ${module.constructor.name}`);
    return { owner, name: path.slice(cut + 1), value };
  });

  const restored: Array<{ owner: Module; name: string; previous: Tensor | null }> = [];
  try {
    for (const { owner, name, value } of swaps) restored.push({ owner, name, previous: owner.swapTensor(name, value) });
    return (module.forward as (...args: unknown[]) => ReturnType<M['forward']>)(...inputs);
  } finally {
    for (const { owner, name, previous } of restored.reverse()) owner.restoreTensor(name, previous);
  }
}
