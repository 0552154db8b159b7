/**
 * Sinusoid regression as in Finn et al. (2017), section 5.1: meta-train a 1-40-40-1 ReLU network
 * on tasks y = A sin(x - phase), train a baseline on the same task distribution by plain
 * regression, and compare both after fine-tuning on K points of held-out tasks.
 */
import { concat } from '@metagrad/autodiff';
import { Adam, Linear, ReLU, Sequential, mseLoss } from '@metagrad/models';
import {
  MAML, type MeanInterval, type SinusoidTaskBatch, evaluateTaskBatch, meanConfidenceInterval, mseLossPerTask, sinusoidTasks,
} from '@metagrad/metalearn';
import { startEpochProgress } from '../progress';
import { type AdaptationPath, type Algorithm, createMetaLearner, metaStep } from './algorithms';

export interface SinusoidConfig {
  algorithm: Algorithm;
  shots: number;
  innerSteps: number;
  innerLr: number;
  learnInnerLr: boolean;
  metaBatch: number;
  iterations: number;
  metaLr: number;
  seed: number;
  path: AdaptationPath;
  /** Support-set sizes K to evaluate with. */
  evalShots: number[];
  /** Held-out tasks per evaluation. */
  evalTasks: number;
  /** Inner steps after which to measure; 0 is the model before fine-tuning. */
  evalSteps: number[];
  /** Query points per held-out task. */
  evalQueries: number;
  progress: boolean;
}

/** Held-out MSE of one model after each number of fine-tuning steps, for one K. */
export interface SinusoidEvaluation {
  shots: number;
  /** Mean query MSE with its 95% interval, by number of fine-tuning steps. */
  mse: Record<number, MeanInterval>;
}

export interface SinusoidResult {
  metaLearner: MAML<Sequential>;
  baseline: Sequential;
  /** Mean query loss of every meta-step. */
  metaLosses: number[];
  /** Regression loss of every baseline step. */
  baselineLosses: number[];
  meta: SinusoidEvaluation[];
  pretrained: SinusoidEvaluation[];
  /** The first held-out batch of each K, for plotting. */
  heldOut: Map<number, SinusoidTaskBatch>;
  trainSeconds: number;
  baselineSeconds: number;
}

/** Creates the network of the MAML paper's sinusoid experiment: 1-40-40-1 with ReLU. */
export function sinusoidNetwork(seed: number): Sequential {
  return new Sequential(new Linear(1, 40, { seed }), new ReLU(), new Linear(40, 40, { seed: seed + 1 }), new ReLU(), new Linear(40, 1, { seed: seed + 2 }));
}

/** Meta-trains, trains the baseline and evaluates both on held-out tasks. */
export function runSinusoid(config: SinusoidConfig, log: (line: string) => void): SinusoidResult {
  const metaLearner = createMetaLearner(config.algorithm, sinusoidNetwork(config.seed), config);
  const optimizer = new Adam(metaLearner.parameters(), { lr: config.metaLr });
  const tasks = sinusoidTasks({ shots: config.shots, seed: config.seed });
  const losses = { taskLoss: mseLossPerTask, loss: mseLoss };

  const started = performance.now();
  const metaLosses = repeat(config, 'meta-training', () => metaStep(metaLearner, optimizer, tasks.sampleBatch(config.metaBatch), losses, config.path));
  const trainSeconds = (performance.now() - started) / 1000;
  log(`meta-training: ${config.iterations} meta-steps of ${config.metaBatch} tasks in ${trainSeconds.toFixed(1)} s (${((1000 * trainSeconds) / config.iterations).toFixed(2)} ms per step)`);

  // The baseline trains on as many batches from the same distribution, regressing on all their points.
  const baseline = sinusoidNetwork(config.seed);
  const baselineOptimizer = new Adam(baseline.parameters(), { lr: config.metaLr });
  const baselineTasks = sinusoidTasks({ shots: config.shots, seed: config.seed });
  const baselineStarted = performance.now();
  const baselineLosses = repeat(config, 'baseline', () => {
    const batch = baselineTasks.sampleBatch(config.metaBatch);
    const loss = mseLoss(baseline.forward(concat([batch.supportX, batch.queryX], 1)), concat([batch.supportY, batch.queryY], 1));
    baselineOptimizer.zeroGrad();
    loss.backward();
    baselineOptimizer.step();
    return loss.item();
  });
  const baselineSeconds = (performance.now() - baselineStarted) / 1000;
  log(`baseline: ${config.iterations} regression steps in ${baselineSeconds.toFixed(1)} s`);

  const fineTuner = new MAML(baseline, { innerLr: config.innerLr });
  const meta: SinusoidEvaluation[] = [];
  const pretrained: SinusoidEvaluation[] = [];
  const heldOut = new Map<number, SinusoidTaskBatch>();
  for (const shots of config.evalShots) {
    // A seed far from the training seed gives held-out tasks that training never drew.
    const batch = sinusoidTasks({ shots, queries: config.evalQueries, seed: config.seed + 1_000_003 }).sampleBatch(config.evalTasks);
    heldOut.set(shots, batch);
    meta.push(evaluate(metaLearner, batch, shots, config.evalSteps));
    pretrained.push(evaluate(fineTuner, batch, shots, config.evalSteps));
  }
  return { metaLearner, baseline, metaLosses, baselineLosses, meta, pretrained, heldOut, trainSeconds, baselineSeconds };
}

function evaluate(metaLearner: MAML<Sequential>, batch: SinusoidTaskBatch, shots: number, steps: number[]): SinusoidEvaluation {
  const curves = evaluateTaskBatch(metaLearner, batch, mseLossPerTask, { steps });
  const mse: Record<number, MeanInterval> = {};
  for (const [step, values] of curves) mse[step] = meanConfidenceInterval(values);
  return { shots, mse };
}

/** Calls `step` once per iteration under a progress bar and returns its losses. */
function repeat(config: SinusoidConfig, label: string, step: () => number): number[] {
  const progress = config.progress ? startEpochProgress(label, config.iterations, 'steps') : undefined;
  const losses: number[] = [];
  for (let i = 0; i < config.iterations; i++) {
    losses.push(step());
    if (progress && (i % 50 === 49 || i === config.iterations - 1)) progress.update(i + 1, mean(losses.slice(-50)));
  }
  progress?.stop();
  return losses;
}

function mean(values: number[]): number {
  return values.reduce((total, v) => total + v, 0) / values.length;
}
