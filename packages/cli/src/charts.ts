/**
 * Charts for run reports: Vega-Lite specifications rendered to SVG in Node, with no browser
 * and no canvas (text widths are estimated).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders a Vega-Lite specification to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A line chart of one or more series over a shared x axis. */
export function lineChart(options: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: Array<{ x: number; y: number; series: string }>;
  yDomain?: [number, number];
}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title,
    width: 480,
    height: 280,
    data: { values: options.points },
    mark: { type: 'line', point: options.points.length <= 30 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle },
      y: { field: 'y', type: 'quantitative', title: options.yTitle, scale: options.yDomain ? { domain: options.yDomain } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
    },
  };
}

/** A confusion matrix as a heat map with counts in the cells: rows are true classes, columns predictions. */
export function confusionChart(title: string, matrix: number[][], classNames: readonly string[]): TopLevelSpec {
  const cells = matrix.flatMap((row, actual) => row.map((count, predicted) => ({ actual: classNames[actual], predicted: classNames[predicted], count })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 36 * classNames.length,
    height: 36 * classNames.length,
    data: { values: cells },
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: [...classNames], title: 'predicted class' },
      y: { field: 'actual', type: 'ordinal', sort: [...classNames], title: 'true class' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', scale: { type: 'symlog', scheme: 'blues' }, title: 'count' } } },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${Math.max(...matrix.flat()) / 4}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/**
 * Returns the mean of the last 50 values (fewer at the start) at about 1,000 evenly spaced
 * counts and at the last one, as [count so far, mean] points, for plotting a long and noisy
 * series such as per-step losses.
 */
export function windowMeans(values: number[]): Array<[number, number]> {
  const window = 50;
  const stride = Math.max(1, Math.ceil(values.length / 1000));
  const points: Array<[number, number]> = [];
  for (let end = stride; end < values.length + stride; end += stride) {
    const last = Math.min(end, values.length);
    const slice = values.slice(Math.max(0, last - window), last);
    points.push([last, slice.reduce((total, v) => total + v, 0) / slice.length]);
  }
  return points;
}

/** Returns the per-step values, thinned to at most 1,000 points, and their moving average over 50 steps. */
export function lossPoints(losses: number[]): Array<{ x: number; y: number; series: string }> {
  const stride = Math.max(1, Math.ceil(losses.length / 1000));
  const points: Array<{ x: number; y: number; series: string }> = [];
  let windowTotal = 0;
  losses.forEach((loss, step) => {
    windowTotal += loss - (step >= 50 ? losses[step - 50] : 0);
    if (step % stride !== 0 && step !== losses.length - 1) return;
    points.push({ x: step + 1, y: loss, series: 'per step' });
    points.push({ x: step + 1, y: windowTotal / Math.min(step + 1, 50), series: 'mean of last 50 steps' });
  });
  return points;
}
