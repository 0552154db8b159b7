/** Plain-text tables of held-out results, one row per model and support-set size. */
import { type MeanInterval, formatInterval } from '@metagrad/metalearn';

/** One table row: a label, the support-set size and a result per number of inner steps. */
export interface ResultRow {
  label: string;
  shots: number;
  byStep: Record<number, MeanInterval>;
}

/**
 * Formats rows as a Markdown table with one column per number of inner steps, each cell the
 * mean ± half-width of its 95% interval, scaled by `scale` (100 for percentages). A cell whose
 * mean is NaN or infinite reads 'diverged'.
 */
export function formatResultTable(rows: readonly ResultRow[], steps: readonly number[], options: { digits: number; scale?: number }): string {
  const scale = options.scale ?? 1;
  const header = ['model', 'K', ...steps.map((step) => (step === 0 ? 'before fine-tuning' : `after ${step} step${step === 1 ? '' : 's'}`))];
  const body = rows.map((row) => [
    row.label,
    String(row.shots),
    ...steps.map((step) => {
      const interval = row.byStep[step];
      if (interval && !Number.isFinite(interval.mean)) return 'diverged';
      return interval ? formatInterval({ ...interval, mean: interval.mean * scale, halfWidth: interval.halfWidth * scale }, options.digits) : '-';
    }),
  ]);

  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
