/**
 * Views of the graph for teaching and debugging: `toDot` renders it as Graphviz DOT, and
 * `traceBackward` lists the backward pass step by step.
 */
import { formatShape } from '@metagrad/kernels';
import { runBackward } from './graph';
import { noGrad } from './grad-mode';
import { formatValuesBrief } from './format';
import { checkSeed, defaultSeed, Tensor } from './tensor';

/** Options of `toDot`. */
export interface DotOptions {
  /** Tensors with at most this many elements show their values and gradients. Default 8. */
  maxValues?: number;
}

/** Every tensor reachable from `output`, inputs before the tensors computed from them. */
function reachable(output: Tensor): Tensor[] {
  const seen = new Set<Tensor>();
  const order: Tensor[] = [];
  const visit = (t: Tensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const input of t.node?.inputs ?? []) visit(input);
    order.push(t);
  };
  visit(output);
  return order;
}

/**
 * Labels tensors by name; unnamed ones as t1, t2, ... when computed, by their value when they are
 * one-element constants (the 2 in x.mul(2)), and as x1, x2, ... otherwise.
 */
function labeler(tensors: Tensor[]): (t: Tensor) => string {
  const labels = new Map<Tensor, string>();
  let leaves = 0;
  let computed = 0;
  for (const t of tensors) {
    if (t.name !== undefined) labels.set(t, t.name);
    else if (t.node) labels.set(t, `t${++computed}`);
    else if (!t.requiresGrad && t.size === 1) labels.set(t, String(t.data[t.offset]));
    else labels.set(t, `x${++leaves}`);
  }
  return (t) => labels.get(t) ?? '?';
}

function escapeDot(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Renders the graph that computed `output` as Graphviz DOT: a box per tensor (name, shape, and
 * for small tensors the values and gradient) and an ellipse per op. Render it with
 * `dot -Tsvg graph.dot > graph.svg`.
 */
export function toDot(output: Tensor, options: DotOptions = {}): string {
  const maxValues = options.maxValues ?? 8;
  const tensors = reachable(output);
  const label = labeler(tensors);
  const lines = ['digraph metagrad {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];'];

  tensors.forEach((t, i) => {
    const parts = [`${label(t)} ${formatShape(t.shape)}`];
    if (t.size <= maxValues) parts.push(`value ${formatValuesBrief(t, maxValues)}`);
    if (t.grad && t.grad.size <= maxValues) parts.push(`grad ${formatValuesBrief(t.grad, maxValues)}`);
    const style = t.node ? '' : t.requiresGrad ? ', style=filled, fillcolor="#dbeafe"' : ', style=filled, fillcolor="#f3f4f6"';
    lines.push(`  tensor${i} [shape=box, label="${escapeDot(parts.join('\n'))}"${style}];`);
  });
  const index = new Map(tensors.map((t, i) => [t, i]));
  tensors.forEach((t, i) => {
    if (!t.node) return;
    lines.push(`  op${i} [shape=ellipse, label="${escapeDot(t.node.released ? `${t.node.op} (freed)` : t.node.op)}"];`);
    t.node.inputs.forEach((input) => lines.push(`  tensor${index.get(input)} -> op${i};`));
    lines.push(`  op${i} -> tensor${i};`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * Runs a backward pass from `output` and returns it as numbered lines: for each op, the tensor
 * it produced written as an equation (`t3 = square(t2)`), the gradient arriving there, and the
 * gradient sent to each input. Leaves' `.grad`
 * is left untouched and the graph is kept, so the output can still be differentiated.
 */
export function traceBackward(output: Tensor, gradOutput?: Tensor): string {
  const seed = gradOutput ?? defaultSeed(output, 'traceBackward');
  checkSeed('traceBackward', output, seed);
  if (!output.requiresGrad) throw new Error('traceBackward: the output does not require gradients, so there is no backward pass to trace');
  const label = labeler(reachable(output));
  const lines = [`backward from ${label(output)} ${formatShape(output.shape)}, seeded with ${formatValuesBrief(seed)}`];

  let step = 0;
  noGrad(() =>
    runBackward([output], [seed], { retainGraph: true }, undefined, (tensor, node, grad, inputGrads) => {
      const call = `${node.op}(${node.inputs.map(label).join(', ')})`;
      lines.push(`${++step}. ${label(tensor)} ${formatShape(tensor.shape)} = ${call}: incoming grad ${formatValuesBrief(grad)}`);
      node.inputs.forEach((input, i) => {
        const sent = inputGrads[i];
        const target = `${label(input)} ${formatShape(input.shape)}`;
        lines.push(sent && input.requiresGrad ? `     to ${target}: ${formatValuesBrief(sent)}` : `     to ${target}: none (no gradient needed)`);
      });
    }),
  );
  return lines.join('\n');
}
