/** Printing tensors the way PyTorch does, so that small ones read at a glance. */
import { formatShape } from '@metagrad/kernels';
import type { Tensor } from './tensor';

/** Above this many elements, only the first and last few along each axis are printed. */
const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

/** Formats numbers to one common width: integers as `3.`, others with 4 decimals or in scientific form. */
function numberFormatter(values: ArrayLike<number>): (v: number) => string {
  const finite = Array.from(values).filter(Number.isFinite);
  const integral = finite.every((v) => Number.isInteger(v));
  const magnitudes = finite.filter((v) => v !== 0).map(Math.abs);
  const largest = magnitudes.length ? Math.max(...magnitudes) : 0;
  const smallest = magnitudes.length ? Math.min(...magnitudes) : 0;
  const scientific = largest >= 1e8 || (!integral && smallest > 0 && smallest < 1e-4);

  const format = (v: number) => {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (scientific) return v.toExponential(4);
    if (integral) return `${v}.`;
    return v.toFixed(4);
  };
  const width = Math.max(0, ...Array.from(values, (v) => format(v).length));
  return (v) => format(v).padStart(width);
}

/** Returns `tensor([...], dtype=..., requiresGrad=true, gradFn=<op>)` for a tensor. */
export function formatTensor(t: Tensor): string {
  const values = t.toTypedArray();
  const summarize = values.length > SUMMARY_THRESHOLD;
  const format = numberFormatter(values);
  const prefix = 'tensor(';

  const render = (axis: number, start: number, indent: string): string => {
    if (t.ndim === 0) return format(values[0]);
    const dim = t.shape[axis];
    const block = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const shown = summarize && dim > 2 * EDGE_ITEMS
      ? [...Array.from({ length: EDGE_ITEMS }, (_, i) => i), -1, ...Array.from({ length: EDGE_ITEMS }, (_, i) => dim - EDGE_ITEMS + i)]
      : Array.from({ length: dim }, (_, i) => i);
    if (axis === t.ndim - 1) {
      return `[${shown.map((i) => (i < 0 ? '...' : format(values[start + i]))).join(', ')}]`;
    }
    const separator = ',' + '\n'.repeat(t.ndim - axis - 1) + indent + ' ';
    return `[${shown.map((i) => (i < 0 ? '...' : render(axis + 1, start + i * block, indent + ' '))).join(separator)}]`;
  };

  const extras: string[] = [];
  if (t.size === 0) extras.push(`size=${formatShape(t.shape)}`);
  if (t.dtype === 'float64') extras.push('dtype=float64');
  if (t.node) extras.push(`gradFn=<${t.node.op}>`);
  else if (t.requiresGrad) extras.push('requiresGrad=true');
  const body = render(0, 0, ' '.repeat(prefix.length));
  return `${prefix}${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}

/** A short one-line form of a tensor's values for traces: all of them when few, else a summary. */
export function formatValuesBrief(t: Tensor, limit = 8): string {
  const values = t.toTypedArray();
  if (values.length <= limit) {
    const format = numberFormatter(values);
    const text = t.ndim === 0 ? format(values[0]).trim() : `[${Array.from(values, (v) => format(v).trim()).join(', ')}]`;
    return text;
  }
  let total = 0;
  let largest = 0;
  for (const v of values) {
    total += v;
    largest = Math.max(largest, Math.abs(v));
  }
  return `${formatShape(t.shape)} mean ${(total / values.length).toPrecision(4)}, max |.| ${largest.toPrecision(4)}`;
}
