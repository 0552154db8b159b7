/**
 * The reverse-mode engine: how gradients accumulate, when the graph is kept or freed, how
 * gradients are made differentiable again, and the errors for misuse.
 */
import {
  SourceGradient, Tensor, add, broadcastSource, concat, conv2d, expand, grad, isGradEnabled, linear, matmul, mul, noGrad, record, sumToShape,
  tensor, unsqueeze, where,
} from '@metagrad/autodiff';
import { constant, leaf, valuesOf } from './helpers';

describe('backward', () => {
  test('accumulates into .grad across calls', () => {
    const x = leaf([1, 2], [2]);
    x.mul(x).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([2, 4]);
    x.mul(3).sum().backward();
    expect(valuesOf(x.grad!)).toEqual([5, 7]);
  });

  test('sums every use of a tensor', () => {
    const a = leaf(1.5);
    const b = a.add(a);
    const c = b.add(b);
    c.backward();
    expect(a.grad!.item()).toBe(4);

    const [dcda] = grad(a.add(a).add(a.add(a)), a);
    expect(dcda.item()).toBe(4);
  });

  test('sums a use shared by two branches', () => {
    const a = leaf(2);
    const b = a.mul(a);
    b.mul(b).add(b).backward();
    // d/da (a^4 + a^2) = 4 a^3 + 2 a.
    expect(a.grad!.item()).toBe(36);
  });

  test('sums many uses of one tensor', () => {
    const x = leaf([1, 2], [2]);
    const hidden = x.mul(2);
    let total = hidden;
    for (let use = 0; use < 4; use++) total = total.add(hidden.mul(use));
    total.sum().backward();
    // total = hidden * (1 + 0 + 1 + 2 + 3), so d total / dx = 2 * 7.
    expect(valuesOf(x.grad!)).toEqual([14, 14]);
  });

  test('summing uses leaves a shared gradient intact', () => {
    const a = leaf([1, 2], [2]);
    const b = leaf([3, 4], [2]);
    const sum = a.add(b);
    // The add passes one gradient array to both a and b, and a has two more uses after that.
    const [ga, gb, gs] = grad(sum.mul(2).sum().add(a.mul(5).sum()).add(a.mul(7).sum()), [a, b, sum]);
    expect(valuesOf(ga)).toEqual([14, 14]);
    expect(valuesOf(gb)).toEqual([2, 2]);
    expect(valuesOf(gs)).toEqual([2, 2]);
  });

  test('gives .grad to leaves only', () => {
    const x = leaf([1, 2], [2]);
    const hidden = x.mul(2);
    hidden.sum().backward();
    expect(hidden.grad).toBeNull();
    expect(valuesOf(x.grad!)).toEqual([2, 2]);
  });

  test('.grad of a leaf owns its buffer', () => {
    const x = leaf([1, 2], [2]);
    const seed = constant([3, 4], [2]);
    x.mul(1).backward(seed);
    expect(valuesOf(x.grad!)).toEqual([3, 4]);
    expect(x.grad!.data).not.toBe(seed.data);
    expect(x.grad!.requiresGrad).toBe(false);
  });

  test('.grad of a broadcast gradient is dense', () => {
    // The VJP of sum broadcasts the seed with stride 0, and .grad must not alias that view.
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    x.sum().backward();
    expect(x.grad!.stride).toEqual([3, 1]);
    expect(x.grad!.data.length).toBe(6);
    expect(valuesOf(x.grad!)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  test('gradient output of another dtype is rejected', () => {
    const x = leaf([1, 2], [2]);
    expect(() => x.mul(2).backward(x.detach().to('float32'))).toThrow(
      "backward: the gradient output is float32 but the output is float64; convert it with .to('float64')",
    );
  });

  test('with a gradient output', () => {
    const x = leaf([1, 2, 3], [3]);
    x.mul(x).backward(constant([1, 0, -1], [3]));
    expect(valuesOf(x.grad!)).toEqual([2, 0, -6]);
  });

  test('on a tensor without gradients is rejected', () => {
    expect(() => constant([1], [1]).sum().backward()).toThrow(
      'backward: this tensor does not require gradients; set requiresGrad on the inputs you want gradients for before computing it',
    );
  });

  test('releases every node of the graph', () => {
    const x = leaf([1, 2], [2]);
    const hidden = x.mul(x).tanh();
    const loss = hidden.sum();
    loss.backward();
    for (const t of [hidden, loss]) {
      expect(t.node!.released).toBe(true);
      expect(t.node!.inputs).toEqual([]);
      expect(t.node!.vjp).toBeNull();
    }
  });
});

describe('retainGraph', () => {
  test('second backward without it is rejected', () => {
    const x = leaf([1, 2], [2]);
    const loss = x.mul(x).sum();
    loss.backward();
    expect(() => loss.backward()).toThrow(/graph was freed.*Pass \{ retainGraph: true \}/);
  });

  test('second grad without it is rejected', () => {
    const x = leaf([1, 2], [2]);
    const loss = x.exp().sum();
    grad(loss, x);
    expect(() => grad(loss, x)).toThrow("backward through 'sum' failed: its graph was freed by an earlier backward pass");
  });

  test('keeps the graph for another backward', () => {
    const x = leaf([1, 2], [2]);
    const loss = x.mul(x).sum();
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    expect(valuesOf(x.grad!)).toEqual([4, 8]);
  });
});

describe('grad', () => {
  test('leaves .grad untouched', () => {
    const x = leaf([1, 2], [2]);
    x.mul(x).sum().backward();
    const before = x.grad;
    const [g] = grad(x.mul(5).sum(), x);
    expect(valuesOf(g)).toEqual([5, 5]);
    expect(x.grad).toBe(before);
    expect(valuesOf(x.grad!)).toEqual([2, 4]);
  });

  test('leaves .grad null when it was null', () => {
    const x = leaf([1, 2], [2]);
    grad(x.sum(), x);
    expect(x.grad).toBeNull();
  });

  test('with respect to an intermediate tensor', () => {
    const x = leaf([1, 2], [2]);
    const hidden = x.mul(3);
    const [g] = grad(hidden.mul(hidden).sum(), hidden);
    expect(valuesOf(g)).toEqual([6, 12]);
  });

  test('of several outputs adds their gradients', () => {
    const x = leaf([1, 2], [2]);
    const [g] = grad([x.sum(), x.mul(x).sum()], x);
    expect(valuesOf(g)).toEqual([3, 5]);
  });

  test('of a non-scalar without gradOutputs is rejected', () => {
    const x = leaf([1, 2], [2]);
    expect(() => grad(x.mul(2), x)).toThrow(
      'grad: the output has shape [2], not one element, so its gradient needs a seed. ' +
        'Reduce it to a scalar first (for example .sum() or .mean()), or pass the gradient of the loss with respect to it',
    );
    expect(() => x.mul(2).backward()).toThrow(/^backward: the output has shape \[2\].*Reduce it to a scalar first.*or pass the gradient/);
  });

  test('gradOutputs of the wrong shape is rejected', () => {
    const x = leaf([1, 2], [2]);
    expect(() => grad(x.mul(2), x, { gradOutputs: constant([1, 2, 3], [3]) })).toThrow(
      'grad: the gradient output has shape [3] but the output has shape [2]; they must match',
    );
  });

  test('input that does not require gradients is rejected', () => {
    const x = constant([1, 2], [2]);
    expect(() => grad(x.sum(), x)).toThrow('grad: input 0 [2] does not require gradients; create it with requiresGrad: true or call requiresGrad_()');
  });

  test('unused input is rejected without allowUnused', () => {
    const x = leaf([1, 2], [2]);
    const unused = leaf([3], [1]);
    expect(() => grad(x.sum(), [x, unused])).toThrow('grad: input 1 [1] was not used to compute the outputs; pass allowUnused: true to get null for it');
  });

  test('unused input gives null with allowUnused', () => {
    const x = leaf([1, 2], [2]);
    const unused = leaf([3], [1]);
    const [g, none] = grad(x.sum(), [x, unused], { allowUnused: true });
    expect(valuesOf(g!)).toEqual([1, 1]);
    expect(none).toBeNull();
  });

  test('output without gradients gives null with allowUnused', () => {
    const x = leaf([1, 2], [2]);
    expect(() => grad(constant(1), x)).toThrow('grad: no output requires gradients, so none depends on the inputs; pass allowUnused: true to get null gradients');
    expect(grad(constant(1), x, { allowUnused: true })).toEqual([null]);
  });
});

describe('createGraph', () => {
  test('third derivative of x^4 is 24x', () => {
    const x = leaf(1.5);
    const [first] = grad(x.pow(4), x, { createGraph: true });
    const [second] = grad(first, x, { createGraph: true });
    const [third] = grad(second, x);
    expect(first.item()).toBe(4 * 1.5 ** 3);
    expect(second.item()).toBe(12 * 1.5 ** 2);
    expect(third.item()).toBe(24 * 1.5);
  });

  test('backward gives a differentiable .grad', () => {
    const x = leaf([1, 2], [2]);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    expect(x.grad!.requiresGrad).toBe(true);
    const [second] = grad(x.grad!.sum(), x);
    expect(valuesOf(second)).toEqual([6, 12]);
  });

  test('gradient without it does not require gradients', () => {
    const x = leaf([1, 2], [2]);
    const [g] = grad(x.pow(3).sum(), x);
    expect(g.requiresGrad).toBe(false);
    expect(g.node).toBeNull();
  });

  test('mixed partial derivative', () => {
    const x = leaf(2);
    const y = leaf(3);
    const [dx] = grad(x.mul(x).mul(y), x, { createGraph: true });
    const [dxy] = grad(dx, y);
    expect(dxy.item()).toBe(4);
  });
});

describe('noGrad and detach', () => {
  test('noGrad records nothing', () => {
    const x = leaf([1, 2], [2]);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(x);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
  });

  test('noGrad restores the mode after an error', () => {
    expect(() => noGrad(() => {
      throw new Error('inside');
    })).toThrow('inside');
    expect(isGradEnabled()).toBe(true);
  });

  test('detach cuts the graph and shares the data', () => {
    const x = leaf([1, 2], [2]);
    const y = x.mul(2);
    const cut = y.detach();
    expect(cut.requiresGrad).toBe(false);
    expect(cut.node).toBeNull();
    expect(cut.data).toBe(y.data);

    y.mul(cut).sum().backward();
    // Only the recorded factor y contributes: d/dx (2x * constant 2x) = 2 * 2x.
    expect(valuesOf(x.grad!)).toEqual([4, 8]);
  });

  test('requiresGrad_ on a non-leaf cannot be turned off', () => {
    const y = leaf([1], [1]).mul(2);
    expect(() => y.requiresGrad_(false)).toThrow('requiresGrad_: only leaf tensors can stop requiring gradients; use detach() for a non-leaf');
  });
});

describe('shape errors', () => {
  const a = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = leaf([1, 2, 3, 4], [4]);

  test.each([
    { name: 'add', run: () => add(a, b) },
    { name: 'mul', run: () => mul(a, b) },
    { name: 'sub', run: () => a.sub(b) },
    { name: 'div', run: () => a.div(b) },
    { name: 'where', run: () => where(constant([1, 0], [2]), a, b) },
  ])('$name names the op and both shapes', ({ name, run }) => {
    expect(run).toThrow(new RegExp(`^${name}: .*\\[2, 3\\].*\\[4\\]`));
  });

  test('matmul names both shapes', () => {
    expect(() => matmul(a, a)).toThrow(/^matmul: .*\[2, 3\].*\[2, 3\]/);
  });

  test('linear names both shapes', () => {
    expect(() => linear(a, leaf([1, 2, 3, 4], [2, 2]))).toThrow(/^linear: weight \[2, 2\] does not fit input \[2, 3\]/);
  });

  test('concat names every shape', () => {
    expect(() => concat([a, b])).toThrow(/^concat: shapes float64 \[2, 3\], float64 \[4\]/);
  });

  test('expand names both shapes', () => {
    expect(() => expand(b, [2, 3])).toThrow(/^expand: .*\[4\].*\[2, 3\]/);
  });

  test('sumToShape names both shapes', () => {
    expect(() => sumToShape(a, [4])).toThrow(/^sumToShape: .*\[2, 3\].*\[4\]/);
  });

  test('conv2d names both shapes', () => {
    const x = leaf(new Array(18).fill(0), [1, 2, 3, 3]);
    expect(() => conv2d(x, leaf(new Array(4).fill(0), [1, 1, 2, 2]))).toThrow(/^conv2d: .*\[1, 2, 3, 3\].*\[1, 1, 2, 2\]/);
  });
});

describe('engine checks of VJPs', () => {
  /** Records a custom op whose VJP returns `gradient` for its single input. */
  function customOp(x: Tensor, gradient: (g: Tensor) => Tensor | null): Tensor {
    return record('custom', tensor(Float64Array.from(x.toTypedArray()), { shape: x.shape }), [x], (g) => [gradient(g)]);
  }

  test('gradient of the wrong shape is rejected', () => {
    const x = leaf([1, 2, 3], [3]);
    const y = customOp(x, (g) => g.sum(0, true));
    expect(() => y.sum().backward()).toThrow("internal error: the VJP of 'custom' returned a gradient of shape [1] for input 0 of shape [3]");
  });

  test('missing gradient is rejected', () => {
    const x = leaf([1, 2, 3], [3]);
    const y = customOp(x, () => null);
    expect(() => y.sum().backward()).toThrow("internal error: the VJP of 'custom' returned no gradient for input 0, which requires one");
  });

  test('gradient of the wrong dtype is rejected', () => {
    const x = leaf([1, 2, 3], [3]);
    const y = customOp(x, (g) => g.to('float32'));
    expect(() => y.sum().backward()).toThrow("internal error: the VJP of 'custom' returned a float32 gradient for float64 input 0");
  });
});

describe('gradients of a broadcast source', () => {
  /** Sums each row of x [B, N] times w [N], with w broadcast to [B, N]; gives the summed gradient of w when allowed. */
  function rowDot(x: Tensor, w: Tensor): Tensor {
    const broadcast = expand(w, x.shape);
    const result = record('rowDot', tensor(Float64Array.from(mul(x, broadcast).sum(1).toTypedArray()), { shape: [x.shape[0]] }), [x, broadcast], (g) => {
      const perRow = mul(unsqueeze(g, 1), x);
      const source = broadcastSource(broadcast);
      return [mul(unsqueeze(g, 1), broadcast), source ? new SourceGradient(source, perRow.sum(0)) : perRow];
    });
    return result;
  }

  test('a VJP may give the summed gradient of the tensor an input broadcasts', () => {
    const x = leaf([1, 2, 3, 4], [2, 2]);
    const w = leaf([5, 6], [2]);
    rowDot(x, w).sum().backward();
    expect(valuesOf(w.grad!)).toEqual([4, 6]);
    expect(valuesOf(x.grad!)).toEqual([5, 6, 5, 6]);
  });

  test('a pass that returns the broadcast tensor gets its full gradient', () => {
    const x = leaf([1, 2, 3, 4], [2, 2]);
    const broadcast = expand(leaf([5, 6], [2]), [2, 2]);
    const [g] = grad(mul(x, broadcast).sum(), broadcast);
    expect(valuesOf(g)).toEqual([1, 2, 3, 4]);
    expect(broadcastSource(broadcast)).toBeUndefined();
  });

  test('a gradient for a tensor the input does not broadcast is rejected', () => {
    const x = leaf([1, 2], [2]);
    const stranger = leaf([0], [1]);
    const y = record('custom', tensor([1, 2], { dtype: 'float64' }), [x], (g) => [new SourceGradient(stranger, g)]);
    expect(() => y.sum().backward()).toThrow("internal error: the VJP of 'custom' returned a gradient for a tensor that input 0 does not broadcast");
  });
});

describe('backward arguments', () => {
  test('options as the first argument', () => {
    const x = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const loss = x.square().sum();
    loss.backward({ retainGraph: true });
    loss.backward();
    expect(Array.from(x.grad!.toTypedArray())).toEqual([4, 8]);
  });

  test('seed that is not a tensor is rejected', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward(null as never)).toThrow('backward: the output has shape [2], not one element');
    expect(() => grad(x.mul(2), x, { gradOutputs: [5 as never] })).toThrow("grad: gradOutput 0 is not a Tensor");
  });
});

describe('grad stops at its inputs', () => {
  /** An op whose VJP throws, to show whether the engine ran it. */
  function untouchable(x: Tensor): Tensor {
    return record('untouchable', Tensor.fromView(x), [x], () => {
      throw new Error('the VJP of untouchable ran');
    });
  }

  test('runs no VJP behind an intermediate input', () => {
    const x = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const hidden = untouchable(x.mul(1));
    const [g] = grad(hidden.square().sum(), hidden);
    expect(Array.from(g.toTypedArray())).toEqual([2, 4]);
  });

  test('still reaches leaves through other paths', () => {
    const x = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const w = tensor([3, 4], { requiresGrad: true, dtype: 'float64' });
    const hidden = untouchable(x.mul(1));
    const [gw] = grad(hidden.mul(w).sum(), w);
    expect(Array.from(gw.toTypedArray())).toEqual([1, 2]);
  });

  test('backward still runs every VJP', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => untouchable(x.mul(1)).sum().backward()).toThrow('the VJP of untouchable ran');
  });
});
