/**
 * gradcheck and gradgradcheck must fail on wrong derivatives, or a passing op test proves nothing.
 */
import { type Tensor, gradcheck, gradgradcheck, mul, record, tensor } from '@metagrad/autodiff';
import { constant, leaf } from './helpers';

/** Computes x^2 as a custom op whose VJP is `vjp`, to plant mistakes in. */
function squareWith(x: Tensor, vjp: (grad: Tensor) => Tensor): Tensor {
  const result = tensor(Float64Array.from(x.toTypedArray(), (v) => v * v), { shape: x.shape });
  return record('plantedSquare', result, [x], (grad) => [vjp(grad)]);
}

describe('gradcheck', () => {
  test('passes a correct VJP', () => {
    expect(gradcheck((x) => squareWith(x, (grad) => mul(grad, mul(x, 2))), [leaf([0.5, -1.5], [2])])).toBe(true);
  });

  test('rejects a wrong VJP with both values', () => {
    const x = leaf([0.5, -1.5], [2]);
    expect(() => gradcheck((t) => squareWith(t, (grad) => mul(grad, t)), [x])).toThrow(
      /^gradcheck: Jacobian mismatch for output 0 \[2\] with respect to input 0 \[2\]: at output element 1 and input element 1 the analytical derivative is -1.5 but finite differences give -2.9999/,
    );
  });

  test('rejects a wrong gradient of one input only', () => {
    const f = (a: Tensor, b: Tensor) => {
      const product = tensor(Float64Array.from(a.toTypedArray(), (v, i) => v * b.data[i]), { shape: [2] });
      // The gradient of b should be grad * a, not grad * b.
      return record('plantedMul', product, [a, b], (grad) => [mul(grad, b), mul(grad, b)]);
    };
    expect(() => gradcheck(f, [leaf([1, 2], [2]), leaf([2, 3], [2])])).toThrow(/with respect to input 1 \[2\]/);
  });

  test('skips inputs that do not require gradients', () => {
    expect(gradcheck((x, c) => x.mul(c), [leaf([1, 2], [2]), constant([3, 4], [2])])).toBe(true);
  });

  test('without any input requiring gradients is rejected', () => {
    expect(() => gradcheck((x) => x.exp(), [constant([1], [1])])).toThrow('gradcheck: no input requires gradients; set requiresGrad on the inputs to check');
  });

  test('checks every output of a list', () => {
    expect(() => gradcheck((x) => [x.exp(), squareWith(x, (grad) => grad)], [leaf([1.5], [1])])).toThrow(/mismatch for output 1/);
  });
});

describe('gradgradcheck', () => {
  test('rejects a VJP computed outside the graph', () => {
    // The first derivative is right, but the VJP reads raw values, so it has no derivative of its own.
    const raw = (x: Tensor) =>
      squareWith(x, (grad) => tensor(Float64Array.from(grad.toTypedArray(), (g, i) => 2 * x.data[i] * g), { shape: x.shape }));
    const x = leaf([0.5, -1.5], [2]);
    expect(gradcheck(raw, [x])).toBe(true);
    expect(() => gradgradcheck(raw, [x])).toThrow(/^gradcheck: Jacobian mismatch/);
  });

  test('passes a VJP written with ops', () => {
    expect(gradgradcheck((x) => squareWith(x, (grad) => mul(grad, mul(x, 2))), [leaf([0.5, -1.5], [2])])).toBe(true);
  });

  test('uses the given gradient outputs', () => {
    const v = constant([1, -2], [2]);
    expect(gradgradcheck((x) => x.pow(3), [leaf([0.5, -1.5], [2])], { gradOutputs: [v] })).toBe(true);
  });
});
