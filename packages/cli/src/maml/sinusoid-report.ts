/**
 * The --report folder of `metagrad maml sinusoid`: the adapted curves of a few held-out tasks
 * against the true sine, as in Figure 2 of Finn et al. (2017), the meta-training loss, and a
 * JSON summary.
 */
import { type Tensor, noGrad, tensor } from '@metagrad/autodiff';
import { MAML, type SinusoidTaskBatch, TaskBatchLearner, mseLossPerTask } from '@metagrad/metalearn';
import type { Sequential } from '@metagrad/models';
import type { TopLevelSpec } from 'vega-lite';
import { lineChart, renderSvg, windowMeans } from '../charts';
import { reportWriter } from '../report-folder';
import { ALGORITHM_NAMES } from './algorithms';
import type { SinusoidConfig, SinusoidResult } from './sinusoid';

/** Number of held-out tasks drawn in curves-<K>.svg. */
const PLOTTED_TASKS = 2;
/** Inner steps of the plotted fine-tuned curves. */
const PLOTTED_STEPS = [0, 1, 10];

/** Writes curves-<K>.svg for each evaluated K, loss.svg and summary.json into `dir`; returns their paths. */
export async function writeSinusoidReport(dir: string, config: SinusoidConfig, result: SinusoidResult, summary: Record<string, unknown>): Promise<string[]> {
  const { write, paths } = reportWriter(dir);

  for (const [shots, batch] of result.heldOut) {
    write(`curves-k${shots}.svg`, await renderSvg(curvesChart(config, result, batch, shots)));
  }
  const points = windowMeans(result.metaLosses).map(([x, y]) => ({ x, y, series: 'meta-batch query loss (mean of the last 50 steps)' }));
  write('loss.svg', await renderSvg(lineChart({ title: 'Meta-training loss', xTitle: 'meta-step', yTitle: 'query MSE after adaptation', points })));
  write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return paths;
}

/** Builds one panel per plotted task: the true sine, each model after 0, 1 and 10 steps, and the K support points. */
function curvesChart(config: SinusoidConfig, result: SinusoidResult, batch: SinusoidTaskBatch, shots: number): TopLevelSpec {
  const grid = Array.from({ length: 101 }, (_, i) => -5 + i / 10);
  const rows: Array<{ task: string; x: number; y: number; series: string; kind: 'line' | 'support' }> = [];
  const models: Array<[string, MAML<Sequential>]> = [
    [ALGORITHM_NAMES[config.algorithm], result.metaLearner],
    ['pretrained', new MAML(result.baseline, { innerLr: config.innerLr })],
  ];

  for (let t = 0; t < Math.min(PLOTTED_TASKS, batch.amplitudes.length); t++) {
    const task = batch.task(t);
    const label = `task ${t + 1}: A = ${batch.amplitudes[t].toFixed(2)}, phase = ${batch.phases[t].toFixed(2)}`;
    grid.forEach((x) => rows.push({ task: label, x, y: task.evaluate(x), series: 'true function', kind: 'line' }));
    const ys = task.supportY.toTypedArray();
    task.supportX.toTypedArray().forEach((x, i) => rows.push({ task: label, x, y: ys[i], series: 'support points', kind: 'support' }));

    for (const [name, metaLearner] of models) {
      for (const [step, values] of fineTunedCurves(metaLearner, task.supportX, task.supportY, grid)) {
        const series = `${name}, ${step} step${step === 1 ? '' : 's'}`;
        grid.forEach((x, i) => rows.push({ task: label, x, y: values[i], series, kind: 'line' }));
      }
    }
  }

  const position = {
    x: { field: 'x', type: 'quantitative', title: 'x' },
    y: { field: 'y', type: 'quantitative', title: 'y' },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Fine-tuning on K = ${shots} points of held-out tasks`,
    data: { values: rows },
    facet: { row: { field: 'task', type: 'nominal', title: null } },
    spec: {
      width: 480,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'line'" }],
          mark: 'line',
          encoding: {
            ...position,
            color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400 } },
            strokeDash: { condition: { test: "indexof(datum.series, 'pretrained') >= 0", value: [4, 3] }, value: [1, 0] },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'support'" }],
          mark: { type: 'point', filled: true, size: 60, color: 'black' },
          encoding: position,
        },
      ],
    },
  } as TopLevelSpec;
}

/** Returns the model's predictions on `grid` after each plotted number of fine-tuning steps on one task. */
function fineTunedCurves(metaLearner: MAML<Sequential>, supportX: Tensor, supportY: Tensor, grid: number[]): Map<number, ArrayLike<number>> {
  const input = tensor(grid, { shape: [1, grid.length, 1] });
  const asBatch = (values: Tensor) => values.reshape([1, ...values.shape]);
  const curves = new Map<number, ArrayLike<number>>();
  noGrad(() => {
    const record = (step: number, learner: TaskBatchLearner<Sequential>) => {
      if (!PLOTTED_STEPS.includes(step)) return;
      // A curve that diverged (learned rates repeated past their trained steps) is left out of the plot.
      const values = learner.forward(input).toTypedArray();
      if (values.every((value) => Number.isFinite(value))) curves.set(step, values);
    };
    record(0, new TaskBatchLearner(metaLearner.module, new Map(), []));
    metaLearner.adaptTasks(asBatch(supportX), asBatch(supportY), mseLossPerTask, { steps: Math.max(...PLOTTED_STEPS), onStep: record });
  });
  return curves;
}
