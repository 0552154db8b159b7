/**
 * Function transformations: gradOf, valueAndGrad, vjp, jvp, hvp, jacobian and hessian, alone
 * and nested in one another.
 */
import { type Tensor, gradOf, hessian, hvp, jacobian, jvp, matmul, randn, sin, tanh, valueAndGrad, vjp } from '@metagrad/autodiff';
import { constant, expectClose, leaf, valuesOf } from './helpers';

function float64Randn(shape: number[], seed: number): Tensor {
  return randn(shape, { seed, dtype: 'float64' });
}

/** A smooth function from [3] to [2] with a dense Jacobian: tanh(W x) * sum(x^2). */
function smooth(x: Tensor): Tensor {
  const w = constant([0.5, -1, 0.25, 2, 0.3, -0.7], [2, 3]);
  return tanh(matmul(w, x)).mul(x.square().sum());
}

/** Multiplies a matrix given as a tensor of shape [m, n] by a vector of length n. */
function matrixTimesVector(m: Tensor, v: Tensor): number[] {
  return valuesOf(matmul(m.reshape(m.shape[0], -1), v.reshape(-1)));
}

describe('gradOf', () => {
  test('gradient of a sum of cubes', () => {
    const df = gradOf((x) => x.pow(3).sum());
    expect(valuesOf(df(constant([1, 2], [2])) as Tensor)).toEqual([3, 12]);
  });

  test('nested for the second derivative', () => {
    const cube = (x: Tensor) => x.pow(3);
    const second = gradOf(gradOf(cube) as (x: Tensor) => Tensor);
    expect((second(constant(2)) as Tensor).item()).toBe(12);
  });

  test('nested three times', () => {
    const third = gradOf(gradOf(gradOf(sin) as (x: Tensor) => Tensor) as (x: Tensor) => Tensor);
    expect((third(constant(0.5)) as Tensor).item()).toBeCloseTo(-Math.cos(0.5), 14);
  });

  test('nested over a vector input', () => {
    // d/dx sum(d/dx sum(x^4)) = d/dx sum(4 x^3) = 12 x^2.
    const inner = gradOf((x) => x.pow(4).sum()) as (x: Tensor) => Tensor;
    const outer = gradOf((x) => inner(x).sum());
    expect(valuesOf(outer(constant([1, -2], [2])) as Tensor)).toEqual([12, 48]);
  });

  test('inner level does not differentiate a closed-over outer argument', () => {
    // d/dx [x * d/dy (x + y) at y = x] = d/dx [x * 1] = 1. Mixing the levels would give 2.
    const f = (x: Tensor) => x.mul(gradOf((y) => x.add(y))(x) as Tensor);
    expect((gradOf(f)(constant(1)) as Tensor).item()).toBe(1);
  });

  test('inner jacobian does not differentiate a closed-over outer argument', () => {
    // d/dx [x * d/dy (x y) at y = x] = d/dx x^2 = 2x.
    const f = (x: Tensor) => x.mul(jacobian((y) => x.mul(y), x));
    expect((gradOf(f)(constant(3)) as Tensor).item()).toBe(6);
  });

  test('leaves its argument unchanged', () => {
    const x = constant([1, 2], [2]);
    gradOf((t) => t.square().sum())(x);
    expect(x.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
  });
});

describe('valueAndGrad', () => {
  const f = (x: Tensor, y: Tensor, z: Tensor) => x.mul(y).sum().add(z.square().sum());

  test('default argnum 0', () => {
    const [value, g] = valueAndGrad(f)(constant([1, 2], [2]), constant([3, 4], [2]), constant([5], [1]));
    expect(value.item()).toBe(36);
    expect(valuesOf(g as Tensor)).toEqual([3, 4]);
  });

  test('argnums list gives a list of gradients', () => {
    const [value, grads] = valueAndGrad(f, { argnums: [2, 0] })(constant([1, 2], [2]), constant([3, 4], [2]), constant([5], [1]));
    expect(value.item()).toBe(36);
    expect(Array.isArray(grads)).toBe(true);
    const [dz, dx] = grads as Tensor[];
    expect(valuesOf(dz)).toEqual([10]);
    expect(valuesOf(dx)).toEqual([3, 4]);
  });

  test('unused argument gets a zero gradient', () => {
    const [, grads] = valueAndGrad((x: Tensor, y: Tensor) => x.sum(), { argnums: [0, 1] })(constant([1, 2], [2]), constant([3], [1]));
    expect(valuesOf((grads as Tensor[])[1])).toEqual([0]);
  });

  test('non-scalar value is rejected', () => {
    expect(() => valueAndGrad((x) => x.mul(2))(constant([1, 2], [2]))).toThrow(
      'valueAndGrad: the function must return a tensor with one element, got shape [2]; reduce it with sum() or mean()',
    );
  });

  test('argument that is not a tensor is rejected', () => {
    const g = valueAndGrad((x: Tensor) => x.sum(), { argnums: 1 });
    expect(() => g(constant([1], [1]))).toThrow('valueAndGrad: argument 1 must be a Tensor to differentiate with respect to it');
  });
});

describe('vjp', () => {
  test('pullback of a two-argument function, called twice', () => {
    const x = constant([0.5, -1], [2]);
    const y = constant([2, 3], [2]);
    const [output, pullback] = vjp((a, b) => a.mul(b).add(sin(a)), x, y);
    expectClose(valuesOf(output), [0.5 * 2 + Math.sin(0.5), -3 + Math.sin(-1)], 1e-15);

    for (const cotangent of [[1, 1], [2, -1]]) {
      const [dx, dy] = pullback(constant(cotangent, [2]));
      expectClose(valuesOf(dx), [cotangent[0] * (2 + Math.cos(0.5)), cotangent[1] * (3 + Math.cos(-1))], 1e-15);
      expect(valuesOf(dy)).toEqual([cotangent[0] * 0.5, cotangent[1] * -1]);
    }
  });

  test('pullback equals the transposed Jacobian times the cotangent', () => {
    const x = float64Randn([3], 1);
    const u = float64Randn([2], 2);
    const [, pullback] = vjp(smooth, x);
    const [pulled] = pullback(u);
    const jt = jacobian(smooth, x).T;
    expectClose(valuesOf(pulled), matrixTimesVector(jt, u), 1e-12, 1e-14);
  });
});

describe('jvp', () => {
  test('equals the Jacobian times the tangent', () => {
    for (const seed of [1, 2, 3]) {
      const x = float64Randn([3], seed);
      const v = float64Randn([3], seed + 100);
      const [output, tangent] = jvp(smooth, [x], [v]);
      expect(valuesOf(output)).toEqual(valuesOf(smooth(x)));
      expectClose(valuesOf(tangent), matrixTimesVector(jacobian(smooth, x), v), 1e-12, 1e-14);
    }
  });

  test('of two arguments adds both directions', () => {
    const [, tangent] = jvp((a, b) => a.mul(b), [constant([1, 2], [2]), constant([3, 4], [2])], [constant([1, 0], [2]), constant([0, 1], [2])]);
    // d(ab) = b da + a db = [3 * 1 + 1 * 0, 4 * 0 + 2 * 1].
    expect(valuesOf(tangent)).toEqual([3, 2]);
  });

  test('of the identity is the tangent', () => {
    const [, tangent] = jvp((a) => a, [constant([1, 2], [2])], [constant([5, 6], [2])]);
    expect(valuesOf(tangent)).toEqual([5, 6]);
  });

  test('tangent of the wrong shape is rejected', () => {
    expect(() => jvp(smooth, [constant([1, 2, 3], [3])], [constant([1, 2], [2])])).toThrow('jvp: tangent 0 has shape [2] but primal 0 has shape [3]');
  });
});

describe('hvp', () => {
  const scalar = (x: Tensor) => smooth(x).sum().mul(x.sum());

  test('equals the Hessian times the vector', () => {
    for (const seed of [4, 5]) {
      const x = float64Randn([3], seed);
      const v = float64Randn([3], seed + 100);
      expectClose(valuesOf(hvp(scalar, x, v)), matrixTimesVector(hessian(scalar, x), v), 1e-12, 1e-14);
    }
  });

  test('of a linear function is zero', () => {
    const result = hvp((x) => x.mul(3).sum(), constant([1, 2], [2]), constant([1, 1], [2]));
    expect(valuesOf(result)).toEqual([0, 0]);
  });
});

describe('jacobian and hessian', () => {
  test('jacobian of a linear map is its matrix', () => {
    const w = constant([1, 2, 3, 4, 5, 6], [2, 3]);
    const j = jacobian((x) => matmul(w, x), constant([0.1, 0.2, 0.3], [3]));
    expect(j.shape).toEqual([2, 3]);
    expect(valuesOf(j)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('jacobian shape is output shape then input shape', () => {
    const x = constant([1, 2, 3, 4], [2, 2]);
    expect(jacobian((t) => t.sum(0), x).shape).toEqual([2, 2, 2]);
    expect(jacobian((t) => t.sum(), x).shape).toEqual([2, 2]);
    expect(jacobian((t) => t.reshape(1, 4, 1), x).shape).toEqual([1, 4, 1, 2, 2]);
  });

  test('jacobian of an elementwise function is diagonal', () => {
    const j = jacobian((t) => t.square(), constant([1, -2, 3], [3]));
    expectClose(valuesOf(j), [2, 0, 0, 0, -4, 0, 0, 0, 6]);
  });

  test('jacobian of a constant function is zero', () => {
    const j = jacobian(() => constant([1, 2], [2]), constant([1, 2, 3], [3]));
    expect(j.shape).toEqual([2, 3]);
    expect(valuesOf(j)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('hessian of a quadratic form', () => {
    const a = constant([1, 2, 0, 3], [2, 2]);
    // The Hessian of xᵀ A x / 2 is (A + Aᵀ) / 2.
    const h = hessian((x) => matmul(x, matmul(a, x)).mul(0.5), constant([0.3, -0.4], [2]));
    expect(h.shape).toEqual([2, 2]);
    expect(valuesOf(h)).toEqual([1, 1, 1, 3]);
  });

  test('hessian shape over a matrix input', () => {
    const h = hessian((x) => x.pow(3).sum(), constant([1, 2, 3, 4, 5, 6], [2, 3]));
    expect(h.shape).toEqual([2, 3, 2, 3]);
    const values = valuesOf(h);
    for (let i = 0; i < 6; i++) expect(values[i * 6 + i]).toBe(6 * (i + 1));
    expect(values.filter((v) => v !== 0).length).toBe(6);
  });
});

describe('transformations nested in gradOf', () => {
  const x = constant([1.5, -0.5], [2]);
  const v = constant([2, 3], [2]);
  const cube = (t: Tensor) => t.pow(3);
  const quartic = (t: Tensor) => t.pow(4).sum();

  test('jvp', () => {
    // d/dx sum(3 x^2 v) = 6 x v.
    expect(valuesOf(gradOf((t) => jvp(cube, [t], [v])[1].sum())(x) as Tensor)).toEqual([18, -9]);
  });

  test('vjp', () => {
    expect(valuesOf(gradOf((t) => vjp(cube, t)[1](v)[0].sum())(x) as Tensor)).toEqual([18, -9]);
  });

  test('hvp', () => {
    // d/dx sum(12 x^2 v) = 24 x v.
    expect(valuesOf(gradOf((t) => hvp(quartic, t, v).sum())(x) as Tensor)).toEqual([72, -36]);
  });

  test('hessian', () => {
    // The Hessian of sum(x^4) is diag(12 x^2), and d/dx of its sum is 24 x.
    expect(valuesOf(gradOf((t) => hessian(quartic, t).sum())(x) as Tensor)).toEqual([36, -12]);
  });

  test('valueAndGrad closing over the outer argument', () => {
    // The inner gradient of sum(a * b) in b is a, at b = a, so f(a) = sum(a) * sum(a^2).
    const f = (a: Tensor) => {
      const [value, g] = valueAndGrad((b: Tensor) => a.mul(b).sum())(a);
      return (g as Tensor).mul(value).sum();
    };
    const [value, g] = valueAndGrad(f)(x);
    expect(value.item()).toBe(2.5);
    // d/da = sum(a^2) + 2 a sum(a).
    expect(valuesOf(g as Tensor)).toEqual([5.5, 1.5]);
  });
});
