/** The --report folder of `metagrad train cnn`: loss and accuracy curves, a confusion matrix, and a JSON summary. */
import { confusionChart, lineChart, lossPoints, renderSvg } from '../charts';
import { reportWriter } from '../report-folder';
import type { CnnTrainingResult } from './train';

/** Writes loss.svg, accuracy.svg, confusion.svg and summary.json into `dir` and returns their paths. */
export async function writeCnnReport(dir: string, result: CnnTrainingResult, summary: Record<string, unknown>, classNames: string[]): Promise<string[]> {
  const { write, paths } = reportWriter(dir);

  write('loss.svg', await renderSvg(lineChart({ title: 'Training loss', xTitle: 'step', yTitle: 'cross-entropy', points: lossPoints(result.losses) })));

  const accuracy = result.epochs.map((e) => ({ x: e.epoch, y: 100 * e.evaluation.accuracy, series: 'test accuracy' }));
  write('accuracy.svg', await renderSvg(lineChart({ title: 'Test accuracy after each epoch', xTitle: 'epoch', yTitle: 'accuracy (%)', points: accuracy })));

  const last = result.epochs[result.epochs.length - 1];
  if (last) write('confusion.svg', await renderSvg(confusionChart(`Confusion matrix after epoch ${last.epoch}`, last.evaluation.confusion, classNames)));

  write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return paths;
}
