/**
 * The --report folder of `metagrad maml fewshot`: the meta-training loss, the accuracy on
 * held-out tasks after each number of fine-tuning steps with its 95% interval, and a JSON
 * summary.
 */
import type { TopLevelSpec } from 'vega-lite';
import { lineChart, renderSvg, windowMeans } from '../charts';
import { reportWriter } from '../report-folder';
import { ALGORITHM_NAMES } from './algorithms';
import type { FewShotConfig, FewShotResult } from './fewshot';

/** Writes loss.svg, accuracy.svg and summary.json into `dir`; returns their paths. */
export async function writeFewShotReport(dir: string, config: FewShotConfig, result: FewShotResult, summary: Record<string, unknown>): Promise<string[]> {
  const { write, paths } = reportWriter(dir);

  const points = windowMeans(result.metaLosses).map(([x, y]) => ({ x, y, series: 'meta-batch query loss (mean of the last 50 steps)' }));
  write('loss.svg', await renderSvg(lineChart({ title: 'Meta-training loss', xTitle: 'meta-step', yTitle: 'query cross-entropy after adaptation', points })));
  write('accuracy.svg', await renderSvg(accuracyChart(config, result)));
  write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return paths;
}

/** Plots the mean accuracy against fine-tuning steps, with a bar for each 95% interval. */
function accuracyChart(config: FewShotConfig, result: FewShotResult): TopLevelSpec {
  const rows = config.evalSteps.map((steps) => {
    const { mean, halfWidth } = result.accuracy[steps];
    return { steps, mean: 100 * mean, low: 100 * (mean - halfWidth), high: 100 * (mean + halfWidth) };
  });
  const steps = { field: 'steps', type: 'quantitative', title: 'fine-tuning steps on the support set' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${ALGORITHM_NAMES[config.algorithm]}: ${config.ways}-way ${config.shots}-shot accuracy on ${config.evalTasks} tasks of unseen classes`,
    width: 480,
    height: 280,
    data: { values: rows },
    layer: [
      { mark: 'rule', encoding: { x: steps, y: { field: 'low', type: 'quantitative', title: 'accuracy (%), mean and 95% interval', scale: { zero: false } }, y2: { field: 'high' } } },
      { mark: { type: 'line', point: true }, encoding: { x: steps, y: { field: 'mean', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}
