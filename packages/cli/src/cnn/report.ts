/** The --report folder of `metagrad train cnn`: loss and accuracy curves, a confusion matrix, and a JSON summary. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { confusionChart, lineChart, renderSvg } from '../charts';
import type { CnnTrainingResult } from './train';

/** Writes loss.svg, accuracy.svg, confusion.svg and summary.json into `dir` and returns their paths. */
export async function writeCnnReport(dir: string, result: CnnTrainingResult, summary: Record<string, unknown>, classNames: string[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    files.push(path);
  };

  write('loss.svg', await renderSvg(lineChart({ title: 'Training loss', xTitle: 'step', yTitle: 'cross-entropy', points: lossPoints(result.losses) })));

  const accuracy = result.epochs.map((e) => ({ x: e.epoch, y: 100 * e.evaluation.accuracy, series: 'test accuracy' }));
  write('accuracy.svg', await renderSvg(lineChart({ title: 'Test accuracy after each epoch', xTitle: 'epoch', yTitle: 'accuracy (%)', points: accuracy })));

  const last = result.epochs[result.epochs.length - 1];
  if (last) write('confusion.svg', await renderSvg(confusionChart(`Confusion matrix after epoch ${last.epoch}`, last.evaluation.confusion, classNames)));

  write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return files;
}

/** The per-step loss, thinned to at most 1,000 points, and its moving average over 50 steps. */
function lossPoints(losses: number[]): Array<{ x: number; y: number; series: string }> {
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
