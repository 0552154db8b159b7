import { type Tensor, gradcheck, gradgradcheck, randn, tensor } from '@metagrad/autodiff';
import {
  type Reduction, binaryCrossEntropyWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, nllLoss,
} from '@metagrad/models';
import { type LossCase, coreReference, decode, expectMatches, pairing } from './core-reference';

function normal(shape: number[], seed: number, requiresGrad = true): Tensor {
  return randn(shape, { seed, dtype: 'float64', requiresGrad });
}

/** Calls the loss of a reference case with its options and tensors. */
function callLoss(reference: LossCase, input: Tensor): Tensor {
  const { tensors } = reference;
  const target = decode(tensors.target!);
  const options = reference.options as { reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number; delta?: number };
  const weight = tensors.weight ? decode(tensors.weight) : undefined;
  switch (reference.loss) {
    case 'crossEntropy':
      return crossEntropy(input, target, { ...options, weight });
    case 'nllLoss':
      return nllLoss(input, target, { ...options, weight });
    case 'mseLoss':
      return mseLoss(input, target, options);
    case 'l1Loss':
      return l1Loss(input, target, options);
    case 'huberLoss':
      return huberLoss(input, target, options);
    case 'binaryCrossEntropyWithLogits':
      return binaryCrossEntropyWithLogits(input, target, { ...options, weight, posWeight: tensors.pos_weight ? decode(tensors.pos_weight) : undefined });
  }
}

describe('losses against PyTorch', () => {
  test.each(coreReference().losses)('$name', (reference) => {
    const input = decode(reference.tensors.input!, true);
    const output = callLoss(reference, input);
    expectMatches(output, reference.output, `${reference.name} output`);
    pairing([output], [reference.cotangent]).backward();
    expectMatches(input.grad, reference.grad, `${reference.name} input gradient`);
  });
});

describe('crossEntropy', () => {
  test('doc example', () => {
    expect(crossEntropy(tensor([[2, 0, 0]], { dtype: 'float64' }), [0]).item()).toBeCloseTo(0.2395, 4);
  });

  test('targets as a list equal targets as a tensor', () => {
    const logits = normal([3, 4], 1, false);
    const fromList = crossEntropy(logits, [3, 0, 2], { labelSmoothing: 0.1 }).item();
    expect(crossEntropy(logits, tensor([3, 0, 2]), { labelSmoothing: 0.1 }).item()).toBe(fromList);
  });

  test('logits 1e4 apart give a finite loss and gradient', () => {
    const logits = tensor([[1e4, 0, -1e4], [-1e4, 0, 1e4]], { dtype: 'float64', requiresGrad: true });
    const loss = crossEntropy(logits, [0, 0], { labelSmoothing: 0.2 });
    loss.backward();
    expect(Number.isFinite(loss.item())).toBe(true);
    expect(Array.from(logits.grad!.toTypedArray()).every(Number.isFinite)).toBe(true);
  });

  test('logits 1e4 apart in float32 stay finite', () => {
    const logits = tensor([[1e4, 0, -1e4]], { requiresGrad: true });
    const loss = crossEntropy(logits, [2]);
    loss.backward();
    expect(loss.dtype).toBe('float32');
    expect(loss.item()).toBe(2e4);
    expect(Array.from(logits.grad!.toTypedArray())).toEqual([1, 0, -1]);
  });

  test.each([0, 0.1])('every target ignored gives NaN with zero gradients (smoothing %p)', (labelSmoothing) => {
    // PyTorch 1.13 gives the same: a NaN loss whose gradients are 0.
    const logits = normal([2, 3], 1);
    const loss = crossEntropy(logits, [-100, -100], { labelSmoothing });
    loss.backward();
    expect(loss.item()).toBeNaN();
    expect(Array.from(logits.grad!.toTypedArray())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('nllLoss with every target ignored has zero gradients', () => {
    const logProbs = normal([2, 3], 1);
    nllLoss(logProbs, [-100, -100]).backward();
    expect(Array.from(logProbs.grad!.toTypedArray())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('gradcheck with weight, smoothing and ignored targets', () => {
    const weight = tensor([0.5, 2, 1], { dtype: 'float64' });
    const f = (logits: Tensor) => crossEntropy(logits, [0, -100, 2, 1], { weight, labelSmoothing: 0.3 });
    expect(gradcheck(f, [normal([4, 3], 2)])).toBe(true);
  });

  test.each<[string, Reduction]>([['mean', 'mean'], ['none', 'none']])('gradgradcheck with reduction %s', (_name, reduction) => {
    const weight = tensor([0.5, 2, 1], { dtype: 'float64' });
    const targets = tensor([[0, 2], [1, -100]]);
    const f = (logits: Tensor) => crossEntropy(logits, targets, { weight, labelSmoothing: 0.1, reduction });
    expect(gradgradcheck(f, [normal([2, 3, 2], 3)])).toBe(true);
  });

  test('target out of range is rejected with its value and position', () => {
    expect(() => crossEntropy(normal([2, 3], 1), [0, 3])).toThrow('crossEntropy: target 3 at position 1 is not a class index in [0, 2] (nor ignoreIndex -100)');
  });

  test('negative target is rejected', () => {
    expect(() => nllLoss(normal([2, 3], 1), [-1, 0])).toThrow('nllLoss: target -1 at position 0 is not a class index in [0, 2] (nor ignoreIndex -100)');
  });

  test('fractional target is rejected', () => {
    expect(() => crossEntropy(normal([2, 3], 1), [0.5, 1])).toThrow('target 0.5 at position 0');
  });

  test('target of the wrong shape is rejected with both shapes', () => {
    expect(() => crossEntropy(normal([2, 3, 4], 1), tensor([0, 1]))).toThrow('crossEntropy: target has shape [2] but input [2, 3, 4] needs [2, 4] (one class index per position)');
  });

  test('too few targets are rejected', () => {
    expect(() => crossEntropy(normal([3, 2], 1), [0, 1])).toThrow('target has shape [2] but input [3, 2] needs [3]');
  });

  test('input without a class axis is rejected', () => {
    expect(() => crossEntropy(normal([3], 1), [0])).toThrow('crossEntropy: input must be [N, C] or [N, C, ...] with classes on axis 1, got [3]');
  });

  test('class weight of the wrong shape is rejected', () => {
    expect(() => crossEntropy(normal([2, 3], 1), [0, 1], { weight: tensor([1, 2]) })).toThrow('crossEntropy: weight must have shape [3], one per class, got [2]');
  });

  test.each([-0.1, 1.5])('labelSmoothing %p is rejected', (labelSmoothing) => {
    expect(() => crossEntropy(normal([2, 3], 1), [0, 1], { labelSmoothing })).toThrow(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  });

  test('unknown reduction is rejected', () => {
    expect(() => crossEntropy(normal([2, 3], 1), [0, 1], { reduction: 'max' as Reduction })).toThrow("reduction must be 'mean', 'sum' or 'none', got 'max'");
  });
});

describe('regression losses', () => {
  test.each<[string, (a: Tensor, b: Tensor) => Tensor]>([
    ['mseLoss', (a, b) => mseLoss(a, b)],
    ['l1Loss', (a, b) => l1Loss(a, b, { reduction: 'sum' })],
    ['huberLoss', (a, b) => huberLoss(a, b, { delta: 0.7, reduction: 'none' })],
    ['binaryCrossEntropyWithLogits', (a, b) => binaryCrossEntropyWithLogits(a, b.sigmoid(), { posWeight: tensor([2, 0.5, 1], { dtype: 'float64' }) })],
  ])('gradcheck of %s in both arguments', (_name, loss) => {
    expect(gradcheck(loss, [normal([2, 3], 4), normal([2, 3], 5)])).toBe(true);
  });

  test('gradgradcheck of binaryCrossEntropyWithLogits', () => {
    const f = (logits: Tensor) => binaryCrossEntropyWithLogits(logits, tensor([[0, 1, 0.3]], { dtype: 'float64' }), { weight: tensor([1, 2, 3], { dtype: 'float64' }) });
    expect(gradgradcheck(f, [normal([1, 3], 6)])).toBe(true);
  });

  test('binaryCrossEntropyWithLogits of logits 1e4 apart is finite', () => {
    const logits = tensor([1e4, -1e4, 1e4, -1e4], { requiresGrad: true });
    const loss = binaryCrossEntropyWithLogits(logits, tensor([1, 0, 0, 1]), { reduction: 'none' });
    loss.sum().backward();
    expect(Array.from(loss.toTypedArray())).toEqual([0, 0, 1e4, 1e4]);
    expect(Array.from(logits.grad!.toTypedArray())).toEqual([0, 0, 1, -1]);
  });

  test.each<[string, () => Tensor, string]>([
    ['mseLoss', () => mseLoss(normal([2, 3], 1), normal([3, 2], 2)), 'mseLoss: input [2, 3] and target [3, 2] must have the same shape'],
    ['l1Loss', () => l1Loss(normal([2, 3], 1), normal([2, 3, 1], 2)), 'l1Loss: input [2, 3] and target [2, 3, 1] must have the same shape'],
    ['huberLoss', () => huberLoss(normal([4], 1), normal([1], 2)), 'huberLoss: input [4] and target [1] must have the same shape'],
    ['binaryCrossEntropyWithLogits', () => binaryCrossEntropyWithLogits(normal([2], 1), normal([3], 2)), 'binaryCrossEntropyWithLogits: input [2] and target [3] must have the same shape'],
  ])('%s rejects targets of another shape', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  test.each([0, -1, Number.NaN])('huberLoss rejects delta %p', (delta) => {
    expect(() => huberLoss(normal([2], 1), normal([2], 2), { delta })).toThrow(`huberLoss: delta must be positive, got ${delta}`);
  });
});
