/**
 * The --report folders of the text commands: loss curves, test accuracy or bits per character,
 * a confusion matrix for classifiers, samples for language models, and a JSON summary.
 */
import { confusionChart, lineChart, lossPoints, renderSvg } from '../charts';
import { reportWriter } from '../report-folder';
import type { ClassifierTrainingResult } from './classifier-training';
import type { LanguageModelTrainingResult } from './language-model-training';

/** Writes loss.svg, accuracy.svg, confusion.svg and summary.json into `dir` and returns their paths. */
export async function writeClassifierReport(
  dir: string,
  result: ClassifierTrainingResult,
  summary: Record<string, unknown>,
  classNames: string[],
): Promise<string[]> {
  const files = reportWriter(dir);
  files.write('loss.svg', await renderSvg(lineChart({ title: 'Training loss', xTitle: 'step', yTitle: 'cross-entropy', points: lossPoints(result.losses) })));

  const accuracy = result.epochs.map((e) => ({ x: e.epoch, y: 100 * e.evaluation.accuracy, series: 'test accuracy' }));
  files.write('accuracy.svg', await renderSvg(lineChart({ title: 'Test accuracy after each epoch', xTitle: 'epoch', yTitle: 'accuracy (%)', points: accuracy })));

  const last = result.epochs[result.epochs.length - 1];
  if (last) files.write('confusion.svg', await renderSvg(confusionChart(`Confusion matrix after epoch ${last.epoch}`, last.evaluation.confusion, classNames)));

  files.write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return files.paths;
}

/** Writes loss.svg, bpc.svg, samples.txt and summary.json into `dir` and returns their paths. */
export async function writeLanguageModelReport(dir: string, result: LanguageModelTrainingResult, summary: Record<string, unknown>): Promise<string[]> {
  const files = reportWriter(dir);
  const trainingBits = result.losses.map((loss) => loss / Math.LN2);
  files.write('loss.svg', await renderSvg(lineChart({ title: 'Training loss', xTitle: 'step', yTitle: 'bits per character', points: lossPoints(trainingBits) })));

  // The measurements during training read the start of the held-out text, and the final one all of it.
  const heldOut = [
    ...result.evaluations.map((e) => ({ x: e.step, y: e.bitsPerCharacter, series: 'start of held-out text' })),
    { x: result.final.step, y: result.final.bitsPerCharacter, series: 'all held-out text' },
  ];
  files.write('bpc.svg', await renderSvg(lineChart({ title: 'Bits per character on held-out text', xTitle: 'step', yTitle: 'bits per character', points: heldOut })));

  // When the run ends on a multiple of evalEvery, the last measurement during training and the final
  // one are taken at the same step. samples.txt keeps only the final one, which reads all held-out text.
  const duringTraining = result.evaluations.filter((e) => e.step !== result.final.step);
  const samples = [...duringTraining, result.final]
    .filter((e) => e.sample !== undefined)
    .map((e) => `--- step ${e.step}, ${e.bitsPerCharacter.toFixed(3)} bits per character on ${e.characters.toLocaleString('en-US')} held-out characters ---\n${e.sample}\n`);
  files.write('samples.txt', samples.join('\n'));
  files.write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return files.paths;
}
