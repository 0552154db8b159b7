/**
 * @metagrad/metalearn: meta-learning on any @metagrad/models module, differentiating through
 * the inner loop itself. It contains MAML with true second-order meta-gradients, first-order
 * MAML, MAML++'s learned per-step rates, Meta-SGD, ANIL and Reptile. It also tunes a learning
 * rate and weight decay by hypergradients, and draws the task distributions of Finn et al.
 * (2017): sinusoids, and few-shot image tasks with rotated classes.
 */
export { type AdaptOptions, AdaptedLearner, type LossFunction } from './learner';
export { type GradientStepsOptions, type GradientStepsResult, type StepSize, gradientSteps } from './inner-loop';
export { MAML, type MamlOptions, type RateLayout } from './maml';
export { MetaSGD, type MetaSgdOptions } from './meta-sgd';
export { ANIL, headParameterNames } from './anil';
export { Reptile, type ReptileOptions } from './reptile';
export {
  TaskBatchLearner, crossEntropyPerTask, expandToTasks, mseLossPerTask, supportsTaskBatching, taskBatchedForward,
} from './task-batched';
export { type Batch, HypergradientTuner, type HypergradientOptions } from './hypergradient';
export {
  type EvaluationOptions, type MeanInterval, type TaskData, accuracyPerTask, evaluateAdaptation, evaluateTaskBatch, formatInterval,
  meanConfidenceInterval,
} from './evaluation';
export { type Range, type SinusoidOptions, type SinusoidTask, type SinusoidTaskBatch, SinusoidTasks, sinusoidTasks } from './tasks/sinusoid';
export { type ImageClass, type LabelledImages, type Rotation, copyRotatedImage, imageClasses, splitClasses } from './tasks/image-classes';
export { type FewShotOptions, type FewShotTask, type FewShotTaskBatch, FewShotTasks, fewShotTasks } from './tasks/few-shot';
export { type FewShotClasses, type RotatedMnistOptions, rotatedMnistClasses } from './tasks/rotated-mnist';
