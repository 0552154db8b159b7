/**
 * @metagrad/cli: the `metagrad` command, and the training flows behind it for use from code.
 */
export { buildProgram, main } from './main';
export { type CnnTrainingConfig, type CnnTrainingResult, type EpochRecord, trainCnn } from './cnn/train';
export { type Evaluation, evaluateClassifier } from './cnn/evaluate';
export { type ImageTask, loadImageTask } from './cnn/datasets';
export { renderSvg } from './charts';
