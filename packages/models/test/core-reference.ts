/**
 * Loads the PyTorch reference numbers of reference/core_reference.json (made by
 * reference/core_reference.py) for the tests of modules, layers, init, losses, optimizers,
 * schedulers, clipping and the reference CNN, and runs the layer cases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@metagrad/autodiff';
import type { Module } from '@metagrad/models';
import { type EncodedTensor, decode, decodeState, expectMatches, pairing } from './layers-reference';

export { type EncodedTensor, decode, decodeState, expectMatches, pairing };

/** Names and shapes that PyTorch lists for one module. */
export interface ModuleNames {
  parameters: Array<[string, number[]]>;
  buffers: Array<[string, number[]]>;
  modules: Array<[string, string]>;
  children: string[];
  stateDict: string[];
  numParameters: number;
}

/** One layer run: its settings and state, the input, the output and the gradients of sum(output * cotangent). */
export interface LayerCase {
  name: string;
  layer: string;
  config: Record<string, unknown>;
  state: Record<string, EncodedTensor>;
  input: EncodedTensor;
  output: EncodedTensor;
  cotangent: EncodedTensor;
  grads: Record<string, EncodedTensor>;
}

export interface InitFormulaCase {
  init: 'xavierUniform' | 'xavierNormal' | 'kaimingUniform' | 'kaimingNormal';
  options: Record<string, unknown>;
  bound?: number;
  std?: number;
}

export interface LossCase {
  name: string;
  loss: 'crossEntropy' | 'nllLoss' | 'mseLoss' | 'l1Loss' | 'huberLoss' | 'binaryCrossEntropyWithLogits';
  options: Record<string, unknown>;
  targetsAreIndices: boolean;
  tensors: Record<'input' | 'target' | 'weight' | 'pos_weight', EncodedTensor | undefined>;
  output: EncodedTensor;
  cotangent: EncodedTensor;
  grad: EncodedTensor;
}

export interface OptimizerCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop';
  options: Record<string, unknown>;
  skipFirstBiasGradient: boolean;
  trajectory: Array<{ weight: EncodedTensor; bias: EncodedTensor }>;
}

export interface SchedulerCase {
  name: string;
  scheduler: 'StepLR' | 'CosineAnnealingLR' | 'LinearWarmupLR';
  options: Record<string, number>;
  after?: { scheduler: 'CosineAnnealingLR'; options: { tMax: number; etaMin?: number } };
  lrs: number[];
}

export interface ClipCase {
  name: string;
  maxNorm: number;
  normType: number | 'inf';
  grads: EncodedTensor[];
  totalNorm: number;
  clipped: EncodedTensor[];
}

/** The reference CNN's weights as int8 values in base64; each weight is value * scale. */
export interface CnnCase {
  parameters: Array<[string, number[]]>;
  weights: Record<string, { shape: number[]; scale: number; int8: string }>;
  input: EncodedTensor;
  targets: number[];
  output: EncodedTensor;
  loss: number;
  grads: Record<string, EncodedTensor>;
  gradSquaredNorms: Record<string, number>;
  inputGrad: EncodedTensor;
}

export interface CoreReference {
  torch: string;
  modules: Record<'nested' | 'sharedLayer', ModuleNames>;
  layers: LayerCase[];
  init: {
    gains: Array<{ nonlinearity: string; param: number | null; gain: number }>;
    formulas: Array<{ shape: number[]; fanIn: number; fanOut: number; cases: InitFormulaCase[] }>;
  };
  losses: LossCase[];
  optimizers: {
    problem: Record<'input' | 'target' | 'weight' | 'bias', EncodedTensor>;
    cases: OptimizerCase[];
  };
  schedulers: SchedulerCase[];
  clip: ClipCase[];
  cnn: CnnCase;
}

let cached: CoreReference | undefined;

/** Reads reference/core_reference.json once per test file. */
export function coreReference(): CoreReference {
  cached ??= JSON.parse(readFileSync(join(__dirname, 'reference', 'core_reference.json'), 'utf8')) as CoreReference;
  return cached;
}

/** Returns the layer cases whose `layer` is one of `kinds`. */
export function layerCases(...kinds: string[]): LayerCase[] {
  return coreReference().layers.filter((reference) => kinds.includes(reference.layer));
}

/**
 * Loads the case's state into `layer` (strictly, so names must match PyTorch's), runs it on the
 * case's input and compares the output and the gradients of the input and every parameter.
 */
export function expectLayerMatches(layer: Module, reference: LayerCase): void {
  layer.loadStateDict(decodeState(reference.state));
  layer.zeroGrad();
  const input = decode(reference.input, true);
  const output = (layer.forward as (x: Tensor) => Tensor)(input);
  expectMatches(output, reference.output, `${reference.name} output`);

  pairing([output], [reference.cotangent]).backward();
  expectMatches(input.grad, reference.grads.input, `${reference.name} input gradient`);
  const parameters = new Map(layer.namedParameters());
  expect([...parameters.keys()].sort()).toEqual(Object.keys(reference.grads).filter((name) => name !== 'input').sort());
  for (const [name, parameter] of parameters) expectMatches(parameter.grad, reference.grads[name], `${reference.name} ${name} gradient`);
}
